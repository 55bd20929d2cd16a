/**
 * Runs fuzz cases against a set of endpoints and judges every answer. The oracle, per call: the
 * server answers before the deadline (grpc-timeout we sent plus slack) with a gRPC status whose code
 * is known and, unless OK, carries a non-empty message; no hang, no status-less reset (unless the
 * case broke HTTP/2 itself), no lost connection. Per raw-connection case: the member still accepts a
 * new connection and answers a health check afterwards. `alive()` is asked after anything suspicious
 * so that a crashed process is reported as such.
 */

import http2, { type ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import { HealthService } from '../../src/proto/grpc/health/v1/health.js';
import {
  type ConnectionCase,
  type FuzzCase,
  type GenerateOptions,
  type GrpcCase,
  generateCase,
} from './cases.js';
import { FuzzState } from './catalog.js';
import { connectSession, DEFAULT_HEADERS, grpcFrame, type RawResult, rawCall } from './wire.js';

export interface RunOptions extends Omit<GenerateOptions, 'members'> {
  seed: number;
  /** host:port of each member's client URL. */
  endpoints: string[];
  /** Stop after this many cases ... */
  maxCases?: number;
  /** ... or after this long, whichever comes first. */
  durationMs?: number;
  concurrency?: number;
  /** Returns a description of a dead member, or undefined if all are up. */
  alive?: () => string | undefined;
  /** Stops the run at the first failure (default true). */
  stopOnFailure?: boolean;
  log?: (line: string) => void;
  /** Only cases whose class starts with one of these (replays and focused runs). */
  onlyClasses?: string[];
  /**
   * Under faults (faults-run.ts): whether a failed oracle is excused because member `member` was
   * faulted (killed, paused, cut off) during [startedAt, now]; excused cases are counted, not failed.
   */
  excuse?: (member: number, startedAt: number) => boolean;
}

export interface Failure {
  seed: number;
  index: number;
  cls: string;
  endpoint: string;
  reason: string;
  result?: RawResult;
  /** The request as hex (each chunk's first 2 KiB) for a regression test. */
  input: string;
}

export interface ClassStats {
  calls: number;
  /** "0 OK", "13 INTERNAL", "http 404", "reset", "cancelled", ... → count */
  outcomes: Map<string, number>;
  maxMs: number;
}

export interface RunReport {
  seed: number;
  cases: number;
  ms: number;
  byClass: Map<string, ClassStats>;
  /** gRPC status code → count over all calls. */
  codes: Map<number, number>;
  failures: Failure[];
  /** Cases whose oracle failed while their member was faulted (see RunOptions.excuse). */
  excused: number;
}

const CODE_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `code ${code}`;
}

/** Why `result` fails the oracle for case `c`, or undefined when it passes. */
export function judge(c: GrpcCase, r: RawResult): string | undefined {
  const e = c.expect;
  switch (r.outcome) {
    case 'status': {
      const code = r.grpcStatus!;
      if (!Number.isInteger(code) || code < 0 || code > 16) return `unknown grpc-status ${code}`;
      if (code !== 0 && !r.grpcMessage) return `status ${codeName(code)} without a message`;
      if (r.httpStatus !== 200) return `grpc-status with HTTP ${r.httpStatus}`;
      // a method tsetcd has not built refuses before reading the request: fine for any framing
      if (code === 12 && /is not implemented yet$/.test(r.grpcMessage ?? '')) return undefined;
      if (e.codes && !e.codes.includes(code))
        return `expected ${e.codes.map(codeName).join('|')}, got ${codeName(code)} ${JSON.stringify(r.grpcMessage)}`;
      return undefined;
    }
    case 'cancelled':
      return c.request.resetAfterMs !== undefined ? undefined : 'stream cancelled without our reset';
    case 'http':
      return e.allowHttp ? undefined : `HTTP ${r.httpStatus} without grpc-status`;
    case 'reset':
      return e.allowReset ? undefined : `stream reset without status (RST ${r.rstCode}, ${r.error ?? ''})`;
    case 'session':
      return e.allowSessionLoss || e.allowReset ? undefined : `connection lost: ${r.error ?? ''}`;
    case 'timeout':
      return `no answer within ${c.request.deadlineMs} ms (hang)`;
  }
}

function outcomeKey(r: RawResult): string {
  switch (r.outcome) {
    case 'status':
      return `${r.grpcStatus} ${codeName(r.grpcStatus!)}`;
    case 'http':
      return `http ${r.httpStatus}`;
    default:
      return r.outcome;
  }
}

/** A case as replayable text: method, headers and the hex of what went on the wire. */
export function describeInput(c: FuzzCase): string {
  if (c.kind === 'connection')
    return `raw TCP bytes (${c.bytes.length}): ${c.bytes.subarray(0, 2048).toString('hex')}`;
  const r = c.request;
  const chunks = r.chunks.map(
    (ch) => `${ch.length}:${ch.subarray(0, 2048).toString('hex')}${ch.length > 2048 ? '…' : ''}`,
  );
  return JSON.stringify({
    path: r.path,
    headers: Object.fromEntries(
      Object.entries(r.headers ?? {}).map(([k, v]) => [
        k,
        typeof v === 'string' && v.length > 200 ? `${v.slice(0, 20)}…(${v.length})` : v,
      ]),
    ),
    endStream: r.endStream,
    resetAfterMs: r.resetAfterMs,
    chunks,
  });
}

/** A health check on a fresh connection: the member still accepts and serves. */
export async function probeServing(endpoint: string, deadlineMs = 20_000): Promise<string | undefined> {
  const s = connectSession(endpoint);
  try {
    const r = await rawCall(s, {
      path: HealthService.check.path,
      chunks: [grpcFrame(Buffer.alloc(0))],
      endStream: true,
      deadlineMs,
    });
    if (r.outcome !== 'status' || r.grpcStatus !== 0)
      return `health check on a new connection: ${r.outcome} ${r.grpcStatus ?? ''} ${r.error ?? ''}`;
    return undefined;
  } finally {
    s.destroy();
  }
}

function sendRawBytes(endpoint: string, bytes: Buffer): Promise<void> {
  const [host, port] = [
    endpoint.slice(0, endpoint.lastIndexOf(':')),
    Number(endpoint.slice(endpoint.lastIndexOf(':') + 1)),
  ];
  return new Promise<void>((resolve) => {
    const sock = net.connect({ host, port });
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    };
    const timer = setTimeout(done, 1000);
    sock.on('error', done);
    sock.on('close', done);
    sock.on('data', () => {});
    sock.write(bytes);
  });
}

/** Opens `count` streams on one new session, then resets each at once or drops the socket. */
async function abuseStreams(endpoint: string, s: NonNullable<ConnectionCase['streams']>): Promise<void> {
  const session = connectSession(endpoint);
  try {
    await new Promise<void>((resolve) => {
      session.once('connect', () => resolve());
      session.once('error', () => resolve());
      session.once('close', () => resolve());
    });
    for (let i = 0; i < s.count && !session.destroyed; i++) {
      try {
        const st = session.request({ ...DEFAULT_HEADERS, ':path': s.path }, { endStream: false });
        st.on('error', () => {});
        st.write(s.body);
        if (s.mode === 'rapid-reset') st.close(http2.constants.NGHTTP2_CANCEL);
      } catch {
        break; // the server refused more streams on this session (GOAWAY): fine
      }
    }
    if (s.mode === 'drop-socket') await new Promise((r) => setTimeout(r, 50));
  } finally {
    session.destroy();
  }
}

export async function runFuzz(opts: RunOptions): Promise<RunReport> {
  const started = performance.now();
  const state = new FuzzState();
  const report: RunReport = {
    seed: opts.seed,
    cases: 0,
    ms: 0,
    byClass: new Map(),
    codes: new Map(),
    failures: [],
    excused: 0,
  };
  const excused = (member: number, t0: number): boolean => {
    if (!opts.excuse?.(member, t0)) return false;
    report.excused++;
    return true;
  };
  const log = opts.log ?? (() => {});
  const stopOnFailure = opts.stopOnFailure ?? true;
  const deadline = opts.durationMs !== undefined ? started + opts.durationMs : Number.POSITIVE_INFINITY;
  const maxCases = opts.maxCases ?? Number.POSITIVE_INFINITY;
  let next = 0;
  let stop = false;
  const gen: GenerateOptions = {
    members: opts.endpoints.length,
    maxRequestBytes: opts.maxRequestBytes,
    ...(opts.noOversized ? { noOversized: true } : {}),
  };

  const record = (c: FuzzCase, key: string, ms: number): void => {
    let s = report.byClass.get(c.cls);
    if (!s) {
      s = { calls: 0, outcomes: new Map(), maxMs: 0 };
      report.byClass.set(c.cls, s);
    }
    s.calls++;
    s.outcomes.set(key, (s.outcomes.get(key) ?? 0) + 1);
    if (ms > s.maxMs) s.maxMs = ms;
  };
  const fail = (c: FuzzCase, reason: string, result?: RawResult): void => {
    const f: Failure = {
      seed: opts.seed,
      index: c.index,
      cls: c.cls,
      endpoint: opts.endpoints[c.member]!,
      reason,
      input: describeInput(c),
      ...(result ? { result } : {}),
    };
    report.failures.push(f);
    log(
      `FAILURE seed=${f.seed} case=${f.index} class=${f.cls} on ${f.endpoint}: ${reason}\n  input: ${f.input}`,
    );
    if (stopOnFailure) stop = true;
  };
  const checkAlive = (c: FuzzCase): boolean => {
    const dead = opts.alive?.();
    if (dead) {
      fail(c, `member died: ${dead}`);
      stop = true;
      return false;
    }
    return true;
  };

  const worker = async (): Promise<void> => {
    const sessions = new Map<number, ClientHttp2Session>();
    const sessionFor = (member: number): ClientHttp2Session => {
      let s = sessions.get(member);
      if (!s || s.closed || s.destroyed) {
        s = connectSession(opts.endpoints[member]!);
        sessions.set(member, s);
      }
      return s;
    };
    try {
      while (!stop && next < maxCases && performance.now() < deadline) {
        const index = next++;
        const c = generateCase(opts.seed, index, state, gen);
        if (opts.onlyClasses && !opts.onlyClasses.some((p) => c.cls.startsWith(p))) continue;
        report.cases++;
        if (c.kind === 'connection') {
          const t0 = performance.now();
          if (c.streams) await abuseStreams(opts.endpoints[c.member]!, c.streams);
          else await sendRawBytes(opts.endpoints[c.member]!, c.bytes);
          const problem = await probeServing(opts.endpoints[c.member]!);
          record(c, problem ? 'not serving' : 'still serving', performance.now() - t0);
          if (problem && !excused(c.member, t0) && checkAlive(c)) fail(c, problem);
          continue;
        }
        const session = sessionFor(c.member);
        const t0 = performance.now();
        const r = await rawCall(session, c.request);
        record(c, outcomeKey(r), r.ms);
        if (r.outcome === 'status') {
          report.codes.set(r.grpcStatus!, (report.codes.get(r.grpcStatus!) ?? 0) + 1);
          if (r.grpcStatus === 0 && r.messages.length === 1) state.observe(c.request.path, r.messages[0]!);
        }
        const problem = judge(c, r);
        if (problem) {
          if (!excused(c.member, t0) && checkAlive(c)) fail(c, problem, r);
          sessions.get(c.member)?.destroy();
          sessions.delete(c.member);
        } else if (r.outcome === 'session' || r.outcome === 'reset') {
          sessions.get(c.member)?.destroy();
          sessions.delete(c.member);
        }
        if (index % 100 === 99) {
          if (!checkAlive(c)) break;
          log(`… ${index + 1} cases, ${Math.round((performance.now() - started) / 1000)} s`);
        }
      }
    } finally {
      for (const s of sessions.values()) s.destroy();
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, () => worker()));
  report.ms = performance.now() - started;
  return report;
}

/** The report as a Markdown-ish table: class, calls, outcomes. */
export function formatReport(r: RunReport): string {
  const lines = [
    `seed ${r.seed}: ${r.cases} cases in ${(r.ms / 1000).toFixed(1)} s, ${r.failures.length} failures`,
  ];
  lines.push('| class | calls | outcomes | slowest ms |', '|---|---|---|---|');
  for (const [cls, s] of [...r.byClass.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const outcomes = [...s.outcomes.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k}: ${n}`)
      .join(', ');
    lines.push(`| ${cls} | ${s.calls} | ${outcomes} | ${Math.round(s.maxMs)} |`);
  }
  lines.push('', '| gRPC code | calls |', '|---|---|');
  for (const [code, n] of [...r.codes.entries()].sort((a, b) => a[0] - b[0]))
    lines.push(`| ${code} ${codeName(code)} | ${n} |`);
  return lines.join('\n');
}
