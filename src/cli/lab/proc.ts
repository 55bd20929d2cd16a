/**
 * Processes of the lab's pods: each one started with `ip netns exec NS unshare --uts` so it has the
 * pod's network and the pod's hostname (what os.hostname() — the seed's os.Hostname() — reports),
 * and `exec`s down to node, so the pid we hold is the service's own. Stopped by that pid only.
 */
import { type ChildProcess, spawn } from 'node:child_process';

/** How long a started service may take to say it listens. */
export const START_TIMEOUT_MS = 20_000;
/** How long a stopped service may take to exit after SIGTERM before SIGKILL. */
export const STOP_TIMEOUT_MS = 5_000;

/** A process running in a pod's namespace. */
export class PodProcess {
  private out = '';
  private err = '';
  private readonly exited: Promise<number | null>;
  private readonly lineListeners: ((line: string) => void)[] = [];

  private constructor(
    readonly pod: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((res) => child.once('exit', (code) => res(code)));
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    let partial = '';
    child.stdout?.on('data', (c: string) => {
      this.out += c;
      partial += c;
      let nl = partial.indexOf('\n');
      while (nl >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        for (const l of this.lineListeners) l(line);
        nl = partial.indexOf('\n');
      }
    });
    child.stderr?.on('data', (c: string) => {
      this.err += c;
    });
  }

  /** Starts `node script ...args` in netns `ns` with hostname `pod`. */
  static start(ns: string, pod: string, script: string, args: readonly string[], stdin = false): PodProcess {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'unshare',
        '--uts',
        '--',
        'sh',
        '-c',
        'hostname "$0" && exec "$@"',
        pod,
        process.execPath,
        script,
        ...args,
      ],
      { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] },
    );
    return new PodProcess(pod, child);
  }

  /** Calls `fn` with each stdout line from now on. */
  onLine(fn: (line: string) => void): void {
    this.lineListeners.push(fn);
  }

  /** Writes a line to the process's stdin (started with stdin = true). */
  send(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  /** Everything it wrote to stdout and stderr so far. */
  output(): { stdout: string; stderr: string } {
    return { stdout: this.out, stderr: this.err };
  }

  /** Resolves once stdout or stderr matches `re`; rejects if it exits first or after `timeoutMs`. */
  waitFor(re: RegExp, timeoutMs = START_TIMEOUT_MS): Promise<RegExpExecArray> {
    return new Promise((res, rej) => {
      const check = () => re.exec(this.out) ?? re.exec(this.err);
      const timer = setInterval(() => {
        const m = check();
        if (m) {
          clearInterval(timer);
          clearTimeout(deadline);
          res(m);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          clearInterval(timer);
          clearTimeout(deadline);
          rej(
            new Error(
              `${this.pod} exited (${this.child.exitCode ?? this.child.signalCode}): ${this.err.trim()}`,
            ),
          );
        }
      }, 20);
      const deadline = setTimeout(() => {
        clearInterval(timer);
        rej(new Error(`${this.pod}: no ${re} within ${timeoutMs} ms: ${this.err.trim()}`));
      }, timeoutMs);
    });
  }

  /** Resolves with the exit code once it exits (null: killed by a signal). */
  wait(): Promise<number | null> {
    return this.exited;
  }

  /** SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; resolves when it has exited. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL now (exit paths that cannot wait). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
