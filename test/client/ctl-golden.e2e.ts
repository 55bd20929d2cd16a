/**
 * Goal: tsetcdctl prints what etcdctl 3.4 prints, byte for byte, in every output format. Method: two
 * fresh single-member tsetcd servers get the same command lines in the same order — etcdctl 3.4
 * against one, tsetcdctl against the other — so their revisions, counts and values agree; each side's
 * stdout, stderr (without etcdctl's JSON log lines) and exit code are compared after replacing only
 * that side's cluster id, member id, raft term, URLs, lease ids and timings (`took`, remaining TTL).
 * Read-only commands whose answer depends on lease ids (hashkv) run both tools against one member.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '../../src/client/index.js';
import {
  etcdctl,
  haveCommand,
  idMap,
  type Member,
  normalizeText,
  repoRoot,
  startMember,
} from '../helpers/index.js';

interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

function tsetcdctl(endpoint: string, args: string[], input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(repoRoot(), 'bin', 'tsetcdctl.js'), '--endpoints', endpoint, ...args],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code: code ?? -1 });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

interface Side {
  member: Member;
  ids: Map<bigint, string>;
  leases: string[];
}

let ref: Side;
let subSide: Side;
const haveEtcdctl = haveCommand('etcdctl');

async function side(): Promise<Side> {
  const member = await startMember('tsetcd', {});
  const c = new Client({ endpoints: [member.endpoint] });
  const s = await c.maintenance.status();
  c.close();
  return { member, ids: new Map(idMap(s.header!.clusterId, s.header!.memberId)), leases: [] };
}

before(async () => {
  if (!haveEtcdctl) return;
  [ref, subSide] = await Promise.all([side(), side()]);
});
after(async () => {
  await ref?.member.cleanup();
  await subSide?.member.cleanup();
});

function norm(s: Side, text: string): string {
  let out = normalizeText(text, s.ids)
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
async function step(line: string | string[], input?: string, same = false): Promise<void> {
  const args = typeof line === 'string' ? line.split(' ') : line;
  const sub = same ? ref : subSide;
  const subst = (s: Side) =>
    args.map((a) => a.replace(/\{lease(\d)\}/g, (_m, i: string) => s.leases[Number(i)] ?? 'none'));
  const r = await etcdctl(ref.member.endpoint, subst(ref), { input: input ?? '' });
  const t = await tsetcdctl(sub.member.endpoint, subst(sub), input);
  for (const [s, out] of (same
    ? []
    : [
        [ref, r],
        [sub, t],
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
  const what = `${args.join(' ')}${input ? ` <<< ${JSON.stringify(input)}` : ''}`;
  assert.equal(norm(sub, t.stdout), norm(ref, r.stdout), `stdout of: ${what}`);
  assert.equal(norm(sub, t.stderr), norm(ref, r.stderr), `stderr of: ${what}`);
  assert.equal(t.code, r.code, `exit code of: ${what}`);
}

const FORMATS = ['simple', 'json', 'fields', 'table'];

test('kv: put, get, del in every format', { skip: !haveEtcdctl && 'etcdctl 3.4 not installed' }, async () => {
  await step('put a 1');
  await step('put b 2 --prev-kv');
  await step('put a 11 --prev-kv');
  await step(['put', 'sp ace', 'x\ty"z']);
  for (const w of FORMATS) {
    await step(`get a -w ${w}`);
    await step(`get a --prefix -w ${w}`);
    await step(`put c ${w} -w ${w}`);
    await step(`put c ${w}2 --prev-kv -w ${w}`);
  }
  await step('get --prefix --keys-only a');
  await step('get --from-key a --limit 2');
  await step('get a --print-value-only');
  await step('get --prefix "" --order DESCEND --sort-by VALUE');
  await step('get a --hex');
  await step(['get', 'sp ace', '-w', 'fields']);
  await step('get a --rev 1');
  await step('get a --rev 100');
  await step('put only-key');
  await step('put');
  await step('get');
  await step('get a --consistency x');
  await step('get a -w yaml');
  for (const w of FORMATS) await step(`del c --prev-kv -w ${w}`);
  await step('del nothing');
  await step('del a c --prev-kv');
});

test('txn from stdin in every format', { skip: !haveEtcdctl && 'etcdctl 3.4 not installed' }, async () => {
  await step('put t 1');
  for (const w of FORMATS) {
    await step(
      `txn -w ${w}`,
      'value("t") = "1"\nmod("t") > "0"\n\nput t2 x\nget t\ndel nothing\n\nget t\n\n',
    );
    await step(`txn -w ${w}`, 'value("t") = "nope"\n\nput t3 x\n\nget t --prefix\nput t4 "quoted value"\n\n');
  }
  await step('txn', 'value("t") = "1"\n\nput t2 x\n');
  await step('txn', 'bogus("t") = "1"\n\n\n\n');
  await step('txn', 'ver("t") = "x"\n\n\n\n');
});

test('lease, member, endpoint, alarm, compaction, defrag', {
  skip: !haveEtcdctl && 'etcdctl 3.4 not installed',
}, async () => {
  await step('lease grant 100');
  await step('lease grant 200 -w json');
  await step('lease grant 300 -w fields');
  await step(['put', 'leased', 'v', '--lease', '{lease0}']);
  for (const w of FORMATS) {
    await step(`lease list -w ${w}`);
    await step(`lease timetolive {lease0} -w ${w}`);
    await step(`lease timetolive {lease0} --keys -w ${w}`);
    await step(`member list -w ${w}`);
    await step(`endpoint status -w ${w}`);
    // the hash covers lease ids, which differ between the twins: both tools ask the same member
    await step(`endpoint hashkv -w ${w}`, undefined, true);
    await step(`endpoint health -w ${w}`);
    // etcd answers an alarm list without a header, and etcdctl's fields printer then panics
    if (w !== 'fields') await step(`alarm list -w ${w}`);
  }
  await step('lease timetolive 1234');
  await step('lease revoke {lease1}');
  await step('lease revoke {lease2} -w json');
  await step('lease revoke 1234');
  await step('lease keep-alive --once {lease0}');
  await step('compaction 3');
  await step('compaction 3');
  await step('compaction 1000');
  await step('defrag');
  await step('member remove 1234');
});
