// Goal: protocol scenarios (the paper's figures 7 and 8, PreVote, CheckQuorum, learners, leader
// removal, leadership transfer, snapshot catch-up, ReadIndex) behave exactly as the transcripts in
// testdata/*.txt say. Method: a small interpreter runs each file's commands against real RawNodes
// connected by an explicit mailbox network and compares the printed Readys, messages and state with
// the expected output. RAFT_REWRITE=1 regenerates the expected output (review the diff before
// committing it).
//
// File format: blocks separated by blank lines. A block is optional `#` comment lines, one command
// line, a `----` line, then the expected output. Commands:
//   add-nodes N voters=1,2,3 [learners=4] [index=10] [prevote] [checkquorum] [max-inflight=N]
//     [max-msg-size=BYTES]
//   campaign ID | propose ID DATA | propose-conf-change ID add|add-learner|remove NODE
//   read-index ID CTX | transfer-leadership FROM TO | tick ID [N] | tick-heartbeat ID
//   process-ready ID... | deliver-msgs [drop] ID... | stabilize [ID...]
//   partition A,B/C,D | heal | crash ID | restart ID | compact ID INDEX
//   report-snapshot ID TO ok|fail | report-unreachable ID TO | status ID | raft-log ID | raft-state
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SeededRng } from '../pkg/rng.js';
import {
  type ConfChange,
  ConfChangeType,
  decodeConfChange,
  type Entry,
  EntryType,
  MemoryStorage,
  type Message,
  MessageType,
  type NodeId,
  RaftError,
  RawNode,
  type Snapshot,
} from './index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const dataDir = here.includes('/dist/')
  ? `${here.replace('/dist/src/', '/src/')}testdata/`
  : `${here}testdata/`;
const rewrite = process.env.RAFT_REWRITE === '1';

const enc = new TextEncoder();
const dec = new TextDecoder();

function fmtData(d: Uint8Array): string {
  return JSON.stringify(dec.decode(d));
}

function fmtEntry(e: Entry): string {
  if (e.type === EntryType.ConfChange) {
    const cc = decodeConfChange(e.data);
    return `${e.term}/${e.index} ConfChange ${ConfChangeType[cc.type]} ${cc.nodeId}`;
  }
  return `${e.term}/${e.index} ${fmtData(e.data)}`;
}

function fmtSnap(s: Snapshot): string {
  const cs = s.metadata.confState;
  return `snap ${s.metadata.term}/${s.metadata.index} voters=${cs.voters.join(',')} learners=${cs.learners.join(',')}`;
}

function fmtMsg(m: Message): string {
  let s = `${m.from}->${m.to} ${MessageType[m.type]} term=${m.term}`;
  switch (m.type) {
    case MessageType.App:
      s += ` log=${m.logTerm}/${m.index} commit=${m.commit}`;
      break;
    case MessageType.AppResp:
      s += m.reject ? ` reject index=${m.index} hint=${m.logTerm}/${m.rejectHint}` : ` index=${m.index}`;
      break;
    case MessageType.Vote:
    case MessageType.PreVote:
      s += ` last=${m.logTerm}/${m.index}`;
      if (m.context.byteLength) s += ` ctx=${fmtData(m.context)}`;
      break;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
      s += m.reject ? ' reject' : ' granted';
      break;
    case MessageType.Heartbeat:
      s += ` commit=${m.commit}`;
      if (m.context.byteLength) s += ` ctx=${fmtData(m.context)}`;
      break;
    case MessageType.HeartbeatResp:
      if (m.context.byteLength) s += ` ctx=${fmtData(m.context)}`;
      break;
    case MessageType.ReadIndexResp:
      s += ` index=${m.index}`;
      break;
    case MessageType.Snap:
      s += ` ${fmtSnap(m.snapshot!)}`;
      break;
    default:
      break;
  }
  if (m.entries.length > 0) {
    const shown =
      m.type === MessageType.ReadIndex || m.type === MessageType.ReadIndexResp
        ? m.entries.map((e) => fmtData(e.data))
        : m.entries.map(fmtEntry);
    s += ` [${shown.join(', ')}]`;
  }
  return s;
}

interface TNode {
  id: NodeId;
  storage: MemoryStorage;
  raw: RawNode | null;
  applied: number;
  confState: { voters: NodeId[]; learners: NodeId[] };
  options: { preVote: boolean; checkQuorum: boolean; maxInflight: number; maxMsgSize: number };
}

/** The transcript interpreter's world: nodes plus a mailbox per node. */
class Env {
  nodes = new Map<NodeId, TNode>();
  mailbox = new Map<NodeId, Message[]>();
  groups: Map<NodeId, number> | null = null;

  private startNode(n: TNode): void {
    n.raw = new RawNode({
      id: n.id,
      storage: n.storage,
      rng: new SeededRng(Number(n.id)),
      electionTick: 10,
      heartbeatTick: 1,
      applied: n.storage.snapshot().metadata.index,
      preVote: n.options.preVote,
      checkQuorum: n.options.checkQuorum,
      maxInflightMsgs: n.options.maxInflight,
      maxSizePerMsg: n.options.maxMsgSize,
    });
    n.applied = n.storage.snapshot().metadata.index;
    n.confState = n.storage.initialState().confState;
  }

  private raw(id: string): RawNode {
    const n = this.nodes.get(BigInt(id));
    assert.ok(n?.raw, `node ${id} is not running`);
    return n.raw;
  }

  run(cmd: string, args: string[], kv: Map<string, string>): string[] {
    const out: string[] = [];
    const ids = (xs: string[]) => (xs.length > 0 ? xs.map((x) => BigInt(x)) : [...this.nodes.keys()]);
    switch (cmd) {
      case 'add-nodes': {
        const count = Number(args[0]);
        const voters = (kv.get('voters') ?? '').split(',').filter(Boolean).map(BigInt);
        const learners = (kv.get('learners') ?? '').split(',').filter(Boolean).map(BigInt);
        const index = Number(kv.get('index') ?? 10);
        for (let i = 0; i < count; i++) {
          const id = BigInt(this.nodes.size + 1);
          const storage = new MemoryStorage();
          if (index > 0) {
            storage.applySnapshot({
              metadata: { index, term: 1, confState: { voters, learners } },
              data: new Uint8Array(0),
            });
            storage.setHardState({ term: 1, vote: 0n, commit: index });
          }
          const n: TNode = {
            id,
            storage,
            raw: null,
            applied: 0,
            confState: { voters, learners },
            options: {
              preVote: kv.has('prevote'),
              checkQuorum: kv.has('checkquorum'),
              maxInflight: Number(kv.get('max-inflight') ?? 256),
              maxMsgSize: Number(kv.get('max-msg-size') ?? 1024 * 1024),
            },
          };
          this.nodes.set(id, n);
          this.mailbox.set(id, []);
          this.startNode(n);
          out.push(
            `node ${id} started: log ${storage.firstIndex()}..${storage.lastIndex()}, ${this.roleOf(n)}`,
          );
        }
        break;
      }
      case 'campaign':
        this.raw(args[0]!).campaign();
        out.push('ok');
        break;
      case 'propose':
        out.push(this.tryDo(() => this.raw(args[0]!).propose(enc.encode(args[1] ?? ''))));
        break;
      case 'propose-conf-change': {
        const types: Record<string, ConfChangeType> = {
          add: ConfChangeType.AddNode,
          'add-learner': ConfChangeType.AddLearnerNode,
          remove: ConfChangeType.RemoveNode,
        };
        const type = types[args[1]!];
        assert.ok(type !== undefined, `unknown conf change ${args[1]}`);
        const cc: ConfChange = { type, nodeId: BigInt(args[2]!), context: new Uint8Array(0) };
        if (type !== ConfChangeType.RemoveNode && !this.nodes.has(cc.nodeId)) {
          // A new member starts with an empty log and learns the membership from the leader.
          const n: TNode = {
            id: cc.nodeId,
            storage: new MemoryStorage(),
            raw: null,
            applied: 0,
            confState: { voters: [], learners: [] },
            options: this.nodes.get(BigInt(args[0]!))!.options,
          };
          this.nodes.set(n.id, n);
          this.mailbox.set(n.id, []);
          this.startNode(n);
          out.push(`node ${n.id} started empty`);
        }
        out.push(this.tryDo(() => this.raw(args[0]!).proposeConfChange(cc)));
        break;
      }
      case 'read-index':
        out.push(this.tryDo(() => this.raw(args[0]!).readIndex(enc.encode(args[1]!))));
        break;
      case 'transfer-leadership':
        this.raw(args[0]!).transferLeadership(BigInt(args[1]!));
        out.push('ok');
        break;
      case 'tick': {
        const n = Number(args[1] ?? 1);
        for (let i = 0; i < n; i++) this.raw(args[0]!).tick();
        out.push('ok');
        break;
      }
      case 'tick-heartbeat':
        this.raw(args[0]!).tick();
        out.push('ok');
        break;
      case 'process-ready':
        for (const id of ids(args)) this.processReady(id, out);
        break;
      case 'deliver-msgs': {
        const drop = args[0] === 'drop';
        for (const id of ids(drop ? args.slice(1) : args)) this.deliver(id, drop, out);
        break;
      }
      case 'stabilize': {
        const which = ids(args);
        for (let round = 0; round < 100; round++) {
          let any = false;
          for (const id of which) {
            if (this.nodes.get(id)?.raw?.hasReady()) {
              any = true;
              this.processReady(id, out);
            }
          }
          for (const id of which) {
            if ((this.mailbox.get(id) ?? []).length > 0) {
              any = true;
              this.deliver(id, false, out);
            }
          }
          if (!any) break;
          assert.ok(round < 99, 'stabilize did not converge');
        }
        break;
      }
      case 'partition': {
        this.groups = new Map();
        args
          .join(' ')
          .split('/')
          .forEach((g, i) => {
            for (const id of g.split(',').filter(Boolean)) this.groups!.set(BigInt(id.trim()), i);
          });
        out.push('ok');
        break;
      }
      case 'heal':
        this.groups = null;
        out.push('ok');
        break;
      case 'crash': {
        const n = this.nodes.get(BigInt(args[0]!))!;
        n.raw = null;
        this.mailbox.set(n.id, []);
        out.push(`node ${n.id} crashed; durable log ${n.storage.firstIndex()}..${n.storage.lastIndex()}`);
        break;
      }
      case 'restart': {
        const n = this.nodes.get(BigInt(args[0]!))!;
        this.startNode(n);
        const hs = n.storage.initialState().hardState;
        out.push(`node ${n.id} restarted: term=${hs.term} vote=${hs.vote} commit=${hs.commit}`);
        break;
      }
      case 'compact': {
        const n = this.nodes.get(BigInt(args[0]!))!;
        const index = Number(args[1]);
        n.storage.createSnapshot(n.applied, n.confState, enc.encode(`state@${n.applied}`));
        n.storage.compact(index);
        out.push(
          `node ${n.id}: snapshot at ${n.applied}, log ${n.storage.firstIndex()}..${n.storage.lastIndex()}`,
        );
        break;
      }
      case 'report-snapshot':
        this.raw(args[0]!).reportSnapshot(BigInt(args[1]!), args[2] === 'ok');
        out.push('ok');
        break;
      case 'report-unreachable':
        this.raw(args[0]!).reportUnreachable(BigInt(args[1]!));
        out.push('ok');
        break;
      case 'status': {
        const st = this.raw(args[0]!).status();
        for (const [id, p] of [...st.progress].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
          out.push(`${id}: ${p.state} match=${p.match} next=${p.next}`);
        }
        if (out.length === 0) out.push(`${st.softState.role} (no progress: not leader)`);
        break;
      }
      case 'raft-log': {
        const n = this.nodes.get(BigInt(args[0]!))!;
        const raw = n.raw!;
        const st = raw.status();
        const ents = raw.logSlice(raw.firstIndex(), st.lastIndex + 1) ?? [];
        if (ents.length === 0) out.push(`log empty (first index ${raw.firstIndex()})`);
        for (const e of ents) out.push(fmtEntry(e));
        break;
      }
      case 'raft-state':
        for (const n of this.nodes.values()) {
          if (!n.raw) {
            out.push(`${n.id}: down`);
            continue;
          }
          const st = n.raw.status();
          out.push(
            `${n.id}: ${st.softState.role} term=${st.hardState.term} lead=${st.softState.lead} commit=${st.hardState.commit} applied=${n.applied} voters=${st.confState.voters.join(',')}${st.confState.learners.length ? ` learners=${st.confState.learners.join(',')}` : ''}`,
          );
        }
        break;
      default:
        throw new Error(`unknown command ${cmd}`);
    }
    return out;
  }

  private roleOf(n: TNode): string {
    const st = n.raw!.status();
    return `${st.softState.role} term=${st.hardState.term}`;
  }

  private tryDo(f: () => void): string {
    try {
      f();
      return 'ok';
    } catch (e) {
      if (e instanceof RaftError) return `error: ${e.code}`;
      throw e;
    }
  }

  private processReady(id: NodeId, out: string[]): void {
    const n = this.nodes.get(id)!;
    if (!n.raw?.hasReady()) return;
    const rd = n.raw.ready();
    out.push(`> ${id} handling Ready`);
    if (rd.softState) out.push(`  role=${rd.softState.role} lead=${rd.softState.lead}`);
    if (rd.hardState) {
      out.push(
        `  hard state term=${rd.hardState.term} vote=${rd.hardState.vote} commit=${rd.hardState.commit}`,
      );
    }
    if (rd.snapshot) {
      out.push(`  snapshot: ${fmtSnap(rd.snapshot)}`);
      n.storage.applySnapshot(rd.snapshot);
      n.applied = rd.snapshot.metadata.index;
      n.confState = rd.snapshot.metadata.confState;
    }
    if (rd.entries.length) out.push(`  entries: ${rd.entries.map(fmtEntry).join(', ')}`);
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    for (const m of rd.messages) {
      // Messages to a crashed member are lost (its mailbox is its socket).
      const up = this.nodes.get(m.to)?.raw != null;
      out.push(`  send ${fmtMsg(m)}${up ? '' : ' (lost: receiver down)'}`);
      if (up) this.mailbox.get(m.to)?.push(m);
    }
    if (rd.committedEntries.length) out.push(`  apply: ${rd.committedEntries.map(fmtEntry).join(', ')}`);
    for (const e of rd.committedEntries) {
      n.applied = e.index;
      if (e.type === EntryType.ConfChange) {
        const cs = n.raw.applyConfChange(decodeConfChange(e.data));
        n.confState = cs;
        out.push(`  membership now voters=${cs.voters.join(',')} learners=${cs.learners.join(',')}`);
      }
    }
    for (const rs of rd.readStates) out.push(`  read state index=${rs.index} ctx=${fmtData(rs.requestCtx)}`);
    n.raw.advance();
  }

  private deliver(id: NodeId, drop: boolean, out: string[]): void {
    const msgs = this.mailbox.get(id) ?? [];
    this.mailbox.set(id, []);
    const n = this.nodes.get(id);
    for (const m of msgs) {
      const cut = this.groups !== null && (this.groups.get(m.from) ?? -1) !== (this.groups.get(m.to) ?? -1);
      if (drop || cut || !n?.raw) {
        out.push(`  dropped ${fmtMsg(m)}`);
        continue;
      }
      out.push(`  deliver ${fmtMsg(m)}`);
      n.raw.step(m);
    }
  }
}

interface Block {
  comments: string[];
  command: string;
  expected: string[];
}

function parse(text: string): { header: string[]; blocks: Block[] } {
  const lines = text.split('\n');
  const header: string[] = [];
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith('#')) header.push(lines[i++]!);
  const blocks: Block[] = [];
  while (i < lines.length) {
    if (lines[i]!.trim() === '') {
      i++;
      continue;
    }
    const comments: string[] = [];
    while (i < lines.length && lines[i]!.startsWith('#')) comments.push(lines[i++]!);
    const command = lines[i++]!;
    assert.equal(lines[i], '----', `expected ---- after "${command}"`);
    i++;
    const expected: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '') expected.push(lines[i++]!);
    blocks.push({ comments, command, expected });
  }
  return { header, blocks };
}

function runFile(name: string): void {
  const path = dataDir + name;
  const { header, blocks } = parse(readFileSync(path, 'utf8'));
  assert.ok(
    header.length > 0 && header[0]!.startsWith('#'),
    `${name} must start with a comment saying what it proves`,
  );
  const env = new Env();
  const rendered: string[] = [...header, ''];
  for (const b of blocks) {
    const [cmd, ...rest] = b.command.trim().split(/\s+/);
    const args: string[] = [];
    const kv = new Map<string, string>();
    for (const a of rest) {
      const eq = a.indexOf('=');
      if (eq > 0) kv.set(a.slice(0, eq), a.slice(eq + 1));
      else if (a === 'prevote' || a === 'checkquorum') kv.set(a, 'true');
      else args.push(a);
    }
    let got = env.run(cmd!, args, kv);
    if (got.length === 0) got = ['(nothing)'];
    if (!rewrite) assert.deepEqual(got, b.expected, `${name}: output of "${b.command}" differs`);
    rendered.push(...b.comments, b.command, '----', ...got, '');
  }
  if (rewrite) writeFileSync(path, rendered.join('\n'));
}

const files = readdirSync(dataDir)
  .filter((f) => f.endsWith('.txt'))
  .sort();
assert.ok(files.length > 0, `no transcripts in ${dataDir}`);
for (const f of files) test(`transcript ${f}`, () => runFile(f));
