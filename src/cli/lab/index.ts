/**
 * `tsetcd lab ...`: the seeds' experiments as commands: `kube` (seed 001) and `lb` (seed 000).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type KubeLabOptions, runKubeLab, SCENARIOS, type ScenarioId } from './kube.js';
import { type LbOptions, runLbLab } from './lb.js';
import { LabError } from './net.js';
import { renderHtml, renderText } from './report.js';
import { renderLbHtml, renderLbText } from './report-lb.js';

export const LAB_HELP = `Usage:
  tsetcd lab kube [flags]   seed 001's Kubernetes topology on this machine (network namespaces,
                            a cluster DNS, kube-proxy-style nftables), its demo replayed per scenario
  tsetcd lab lb [flags]     seed 000: a 3-member cluster, Puts through tsetcd/client under
                            round_robin, pick_first and dns:/// + round_robin, counted per member
                            by its /metrics and, as root, by tcpdump

Flags of lb:
  -n, --requests N      Puts per mode (default 300)
  --rate N              Puts per second (default 100)
  --endpoints LIST      use these members (host:port,...) instead of starting three
  --seed-ports          start them on seed 000's ports (12379/22379/32379) instead of free ones
  --binary NAME         tsetcd (default) or etcd (from PATH, as a reference)
  --kill                SIGKILL the busiest member after a third of each mode's Puts (pick_first
                        fails over, round_robin skips it); it is restarted before the next mode
  --add                 add a fourth member after a third of each mode's Puts (static endpoints
                        and dns:/// do not see it; adds the membership mode, which does); it is
                        removed again before the next mode
  --slow                make the first follower slow: SIGSTOP for 50 ms of every 100 ms, as a CPU
                        limit throttles a container (share and p99 per mode)
  --slow-ms N           with --slow: ms stopped of every 100 (default 50)
  -w, --write-out FMT   table (default) or json
  --html FILE           also write an HTML report with the charts

Flags of kube:
  -n, --requests N      requests per scenario (default 30)
  --replicas N          replicas per deployment (default 3)
  --scenario LIST       comma-separated subset of: ${SCENARIOS.map((s) => s.id).join(', ')}
  -w, --write-out FMT   table (default) or json
  --scale               also scale each Deployment 3 -> 5 mid-run and show when each gateway
                        notices (gRPC without and with a server max connection age; HTTP/1.1)
  --dnat MODE           how a Service VIP picks a pod per connection: random (default, as
                        kube-proxy) or round-robin
  --html FILE           also write an HTML report with the charts
Needs root, iproute2, nftables and util-linux; everything it creates is removed on exit.
Exit status of kube: 0 when every scenario came out as it demonstrates, 1 when one did not, 2 on
errors. Of lb: 0, or 2 on errors.
`;

/** Upper bounds on what a user may ask for (the pod /24 and patience). */
const REQUESTS_MAX = 10_000;
const REPLICAS_MAX = 20;
const RATE_MAX = 10_000;

function intFlag(name: string, v: string | undefined, max: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < 1 || n > max)
    throw new LabError(`${name}: want an integer in 1..${max}`);
  return n;
}

/** Runs `tsetcd lab ARGS`; returns the exit code. */
export async function runLab(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(LAB_HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub === 'lb') return runLbCommand(rest);
  if (sub !== 'kube') {
    process.stderr.write(`tsetcd lab: unknown lab ${JSON.stringify(sub)}\n${LAB_HELP}`);
    return 2;
  }
  const t0 = performance.now();
  let format = 'table';
  let html: string | undefined;
  const opts: KubeLabOptions = {
    requests: 30,
    replicas: 3,
    root: fileURLToPath(new URL('../../../../', import.meta.url)),
    log: (line) => process.stderr.write(`lab: ${line} (+${((performance.now() - t0) / 1000).toFixed(1)}s)\n`),
  };
  try {
    const helped = eachFlag(rest, (name, value) => {
      if (name === '-n' || name === '--requests') opts.requests = intFlag(name, value(), REQUESTS_MAX);
      else if (name === '--replicas') opts.replicas = intFlag(name, value(), REPLICAS_MAX);
      else if (name === '-w' || name === '--write-out') {
        format = value() ?? '';
        if (format !== 'table' && format !== 'json') throw new LabError(`${name}: want table or json`);
      } else if (name === '--html') html = value();
      else if (name === '--scale') opts.scale = true;
      else if (name === '--dnat') {
        const m = value();
        if (m !== 'random' && m !== 'round-robin') throw new LabError('--dnat: want random or round-robin');
        opts.dnat = m;
      } else if (name === '--scenario') {
        const ids = (value() ?? '').split(',');
        for (const id of ids)
          if (!SCENARIOS.some((s) => s.id === id)) throw new LabError(`--scenario: unknown scenario ${id}`);
        opts.scenarios = ids as ScenarioId[];
      } else if (name === '--help' || name === '-h') {
        process.stdout.write(LAB_HELP);
        return true;
      } else throw new LabError(`unknown flag ${name}`);
      return false;
    });
    if (helped) return 0;
    const result = await runKubeLab(opts);
    process.stdout.write(format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : renderText(result));
    if (html) {
      writeFileSync(html, renderHtml(result));
      process.stderr.write(`lab: wrote ${html}\n`);
    }
    const expected = [...result.scenarios, ...(result.scale ?? [])].every((s) => s.asExpected);
    return expected ? 0 : 1;
  } catch (err) {
    if (err instanceof LabError) {
      process.stderr.write(`tsetcd lab kube: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

/** `tsetcd lab lb ARGS`; returns the exit code. */
async function runLbCommand(rest: readonly string[]): Promise<number> {
  const t0 = performance.now();
  let format = 'table';
  let html: string | undefined;
  const opts: LbOptions = {
    requests: 300,
    endpoints: [],
    seedPorts: false,
    binary: 'tsetcd',
    root: fileURLToPath(new URL('../../../../', import.meta.url)),
    log: (line) => process.stderr.write(`lab: ${line} (+${((performance.now() - t0) / 1000).toFixed(1)}s)\n`),
  };
  try {
    eachFlag(rest, (name, value) => {
      if (name === '-n' || name === '--requests') opts.requests = intFlag(name, value(), REQUESTS_MAX);
      else if (name === '--endpoints')
        opts.endpoints = (value() ?? '').split(',').map((e) => e.replace(/^https?:\/\//, ''));
      else if (name === '--seed-ports') opts.seedPorts = true;
      else if (name === '--kill') opts.kill = true;
      else if (name === '--add') opts.add = true;
      else if (name === '--slow') opts.slow = true;
      else if (name === '--slow-ms') {
        opts.slowStoppedMs = intFlag(name, value(), 90);
        opts.slow = true;
      } else if (name === '--rate') opts.rate = intFlag(name, value(), RATE_MAX);
      else if (name === '--binary') {
        const b = value();
        if (b !== 'tsetcd' && b !== 'etcd') throw new LabError('--binary: want tsetcd or etcd');
        opts.binary = b;
      } else if (name === '-w' || name === '--write-out') {
        format = value() ?? '';
        if (format !== 'table' && format !== 'json') throw new LabError(`${name}: want table or json`);
      } else if (name === '--html') html = value();
      else throw new LabError(`unknown flag ${name}`);
      return false;
    });
    if (opts.endpoints.length > 0 && opts.endpoints.length !== 3)
      throw new LabError('--endpoints: want three members');
    const result = await runLbLab(opts);
    process.stdout.write(format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : renderLbText(result));
    if (html) {
      writeFileSync(html, renderLbHtml(result));
      process.stderr.write(`lab: wrote ${html}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof LabError) {
      process.stderr.write(`tsetcd lab lb: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

/**
 * Calls `on` for each flag of `args` (`--name=value` or `--name value`: `value()` takes the next
 * argument); stops and returns true as soon as `on` returns true.
 */
function eachFlag(
  args: readonly string[],
  on: (name: string, value: () => string | undefined) => boolean,
): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(0, eq) : a;
    if (on(name, () => (eq >= 0 ? a.slice(eq + 1) : args[++i]))) return true;
  }
  return false;
}
