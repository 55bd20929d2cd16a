/**
 * The golden comparison of tsetcdctl with etcdctl 3.4 (used by ctl-golden.e2e.ts and
 * ctl-commands.test.ts): two fresh single-member tsetcd servers get the same command lines in the
 * same order — etcdctl 3.4 against one, tsetcdctl against the other — so their revisions, counts and
 * values agree; each side's stdout, stderr (without JSON log lines) and exit code are compared after
 * replacing only that side's cluster id, member id, raft term, URLs, lease ids and timings (`took`,
 * remaining TTL). Read-only commands whose answer depends on ids run both tools against one member
 * (`same`).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { Client } from '../../src/client/index.js';
import {
  etcdctl,
  haveCommand,
  idMap,
  type Member,
  type MemberOptions,
  normalizeText,
  repoRoot,
  runCommand,
  startMember,
  tempDir,
} from '../helpers/index.js';

/** What one run printed. */
export interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

/** Whether etcdctl 3.4 is installed (the comparisons skip without it). */
export const haveEtcdctl = haveCommand('etcdctl');

/** `node bin/tsetcdctl.js --endpoints <endpoint> ...args`, stdin from `input`. */
export function tsetcdctl(
  endpoint: string,
  args: string[],
  input = '',
  env: Record<string, string> = {},
): Promise<Run> {
  return runCommand(
    process.execPath,
    [join(repoRoot(), 'bin', 'tsetcdctl.js'), '--endpoints', endpoint, ...args],
    { input, env },
  );
}

/** One of the twins. */
export interface Side {
  member: Member;
  /** A scratch directory of this side (`{dir}` in step arguments). */
  dir: string;
  removeDir: () => void;
  ids: Map<bigint, string>;
  leases: string[];
}

async function side(opts: MemberOptions): Promise<Side> {
  const member = await startMember('tsetcd', opts);
  const c = new Client({ endpoints: [member.endpoint] });
  const s = await c.maintenance.status();
  c.close();
  return {
    member,
    ...(({ path, remove }) => ({ dir: path, removeDir: remove }))(tempDir('tsetcdctl-golden-')),
    ids: new Map(idMap(s.header!.clusterId, s.header!.memberId)),
    leases: [],
  };
}

/** Options of one step. */
export interface StepOptions {
  input?: string;
  /** Both tools against the reference member (answers that depend on its ids). */
  same?: boolean;
  env?: Record<string, string>;
  /** Extra normalizing of both sides' output (after the ids). */
  norm?: (s: string) => string;
}

/** The reference (etcdctl) and subject (tsetcdctl) servers. */
export class Twins {
  private constructor(
    readonly ref: Side,
    readonly sub: Side,
  ) {}

  static async start(opts: MemberOptions = {}): Promise<Twins> {
    const [ref, sub] = await Promise.all([side(opts), side(opts)]);
    return new Twins(ref, sub);
  }

  async cleanup(): Promise<void> {
    for (const s of [this.ref, this.sub]) {
      await s.member.cleanup();
      s.removeDir();
    }
  }

  /** A side's output with its ids, URLs, leases and timings replaced. */
  norm(s: Side, text: string): string {
    let out = normalizeText(text, s.ids)
      .replaceAll(s.dir, '<dir>')
      .replaceAll(s.member.peerURL, '<peer_url>')
      .replaceAll(s.member.clientURL, '<client_url>')
      .replaceAll(s.member.endpoint, '<endpoint>');
    for (const [i, id] of s.leases.entries()) {
      out = out.replaceAll(id, `<lease${i}>`).replaceAll(BigInt(`0x${id}`).toString(), `<lease${i}>`);
    }
    return (
      out
        .replace(/took = [0-9.]+[µmn]?s/g, 'took = <took>')
        .replace(/"took":"[0-9.]+[µmn]?s"/g, '"took":"<took>"')
        .replace(/"Took" : [0-9.]+[µmn]?s/g, '"Took" : <took>')
        .replace(/\| [0-9.]+[µmn]?s +\|/g, '| <took> |')
        // a lease's remaining TTL is a timing too
        .replace(/remaining\(\d+s\)/g, 'remaining(<ttl>s)')
        .replace(/"ttl":\d+/g, '"ttl":<ttl>')
        .replace(/"TTL" : \d+/g, '"TTL" : <ttl>')
        // the health table's column widths follow the timing's length
        .replace(/^[\s\S]*\| +TOOK +\|[\s\S]*$/, (t) => t.replace(/-+/g, '-').replace(/ +/g, ' '))
    );
  }

  /** Runs one step on both sides and compares; `{lease0}` in args becomes that side's first lease id. */
  async step(line: string | string[], o: StepOptions | string = {}): Promise<{ ref: Run; sub: Run }> {
    const opts = typeof o === 'string' ? { input: o } : o;
    const args = typeof line === 'string' ? line.split(' ') : line;
    const sub = opts.same ? this.ref : this.sub;
    const subst = (s: Side) =>
      args.map((a) =>
        a
          .replace(/\{lease(\d)\}/g, (_m, i: string) => s.leases[Number(i)] ?? 'none')
          .replaceAll('{dir}', s.dir),
      );
    const r = await etcdctl(this.ref.member.endpoint, subst(this.ref), {
      input: opts.input ?? '',
      env: opts.env ?? {},
    });
    const t = await tsetcdctl(sub.member.endpoint, subst(sub), opts.input, opts.env);
    for (const [s, out] of (opts.same
      ? []
      : [
          [this.ref, r],
          [this.sub, t],
        ]) as [Side, Run][]) {
      const m =
        /lease ([0-9a-f]{16}) granted/.exec(out.stdout) ??
        /"ID":(\d+),"TTL"/.exec(out.stdout) ??
        /"ID" : (\d+)\n/.exec(out.stdout);
      if (m && args[0] === 'lease' && args[1] === 'grant') {
        const hex = m[1]!.length === 16 ? m[1]! : BigInt(m[1]!).toString(16).padStart(16, '0');
        s.leases.push(hex);
      }
    }
    const what = `${args.join(' ')}${opts.input ? ` <<< ${JSON.stringify(opts.input)}` : ''}`;
    const extra = opts.norm ?? ((x: string) => x);
    assert.equal(extra(this.norm(sub, t.stdout)), extra(this.norm(this.ref, r.stdout)), `stdout of: ${what}`);
    assert.equal(extra(this.norm(sub, t.stderr)), extra(this.norm(this.ref, r.stderr)), `stderr of: ${what}`);
    assert.equal(t.code, r.code, `exit code of: ${what}`);
    return { ref: r, sub: t };
  }
}

/**
 * Starts a long-running command (watch, make-mirror) of one tool on one side and collects its output
 * (stdout, then stderr without JSON log lines); `stop()` kills it by its pid and waits for the exit.
 */
export function background(side: Side, tool: 'etcdctl' | 'tsetcdctl', args: string[]) {
  const [cmd, pre] =
    tool === 'etcdctl' ? ['etcdctl', []] : [process.execPath, [join(repoRoot(), 'bin', 'tsetcdctl.js')]];
  const child: ChildProcess = spawn(cmd, [...pre, '--endpoints', side.member.endpoint, ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    if (!c.toString().startsWith('{"level"')) out += c.toString();
  });
  return {
    output: () => out,
    stop: () =>
      new Promise<void>((res) =>
        child.exitCode !== null ? res() : child.once('exit', () => res()) && child.kill('SIGKILL'),
      ),
  };
}

/**
 * Starts the twins before the file's tests (when etcdctl is installed) and cleans them up after;
 * returns a getter for them.
 */
export function useTwins(): () => Twins {
  let twins: Twins | undefined;
  before(async () => {
    if (haveEtcdctl) twins = await Twins.start();
  });
  after(async () => {
    await twins?.cleanup();
  });
  return () => twins!;
}
