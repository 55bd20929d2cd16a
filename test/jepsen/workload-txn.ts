/**
 * The multi-key transactional workload: list-append transactions (Elle's) over a few keys, each
 * transaction reading and appending to 1–3 keys at once, checked by checkers/elle.ts for strict
 * serializability.
 *
 * How one transaction runs on etcd: (1) a read-only Txn of Ranges over its keys (one linearizable
 * snapshot: values and mod revisions); (2) if it appends anything, a Txn guarded by every key's
 * mod revision (or `create_revision = 0` for a key that did not exist) that puts the new lists. The
 * transaction took effect atomically at (2)'s revision with (1)'s state, or — when a guard fails —
 * not at all (outcome fail). Reads inside the transaction are answered from (1) plus the
 * transaction's own earlier appends. The keys live under the workload's prefix (so watchers and the
 * ground truth see their events, and revisions stay gap-free), in a sub-prefix of their own that the
 * single-key checkers leave to the list-append checker.
 */
import type { ServiceError } from '@grpc/grpc-js';
import * as rpc from '../../src/proto/etcdserverpb/rpc.js';
import { connect, type EtcdClients } from '../helpers/index.js';
import type { ListTxn, MicroOp } from './checkers/elle.js';
import type { ClusterMember } from './cluster.js';
import type { Rng } from './rng.js';
import { now, OP_DEADLINE_MS, PREFIX, writeOutcomeOfError } from './workload.js';

export const TXN_PREFIX = `${PREFIX}txn/`;

export interface TxnWorkloadOptions {
  clients: number;
  keys: number;
  rng: Rng;
  members: ClusterMember[];
}

const listOf = (v: Buffer | undefined): number[] =>
  v === undefined || v.length === 0 ? [] : v.toString().split(',').map(Number);

/** Runs list-append transaction clients until `stopped()`, recording into `txns`. */
export async function runListAppendClients(
  o: TxnWorkloadOptions,
  txns: ListTxn[],
  stopped: () => boolean,
): Promise<void> {
  let nextId = 0;
  let nextValue = 1;
  const keys = Array.from({ length: o.keys }, (_, i) => `${TXN_PREFIX}${i}`);
  const client = async (ci: number) => {
    const member = o.members[(ci + 1) % o.members.length] as ClusterMember;
    let conn: EtcdClients | undefined;
    while (!stopped()) {
      conn ??= connect(member.client);
      const n = 1 + o.rng.int(3);
      const chosen = [...keys].sort(() => o.rng.next() - 0.5).slice(0, n);
      const ops: MicroOp[] = [];
      for (const key of chosen) {
        const roll = o.rng.next();
        if (roll < 0.4) ops.push({ f: 'read', key });
        else if (roll < 0.8) ops.push({ f: 'append', key, value: nextValue++ });
        else ops.push({ f: 'read', key }, { f: 'append', key, value: nextValue++ });
      }
      const txn: ListTxn = { id: nextId++, invoke: now(), outcome: 'unknown', ops };
      txns.push(txn);
      const call = { deadlineMs: OP_DEADLINE_MS };
      let wrote = false;
      try {
        const snap = await conn.kv.txn(
          { success: chosen.map((key) => ({ requestRange: { key: Buffer.from(key) } })) },
          call,
        );
        const state = new Map<string, { list: number[]; mod: bigint }>();
        chosen.forEach((key, i) => {
          const kv = snap.responses[i]?.responseRange?.kvs[0];
          state.set(key, { list: listOf(kv?.value), mod: kv?.modRevision ?? 0n });
        });
        const lists = new Map([...state].map(([k, s]) => [k, [...s.list]]));
        for (const op of ops) {
          const list = lists.get(op.key) as number[];
          if (op.f === 'read') op.value = [...list];
          else list.push(op.value);
        }
        const appended = [...new Set(ops.filter((op) => op.f === 'append').map((op) => op.key))];
        if (appended.length > 0) {
          wrote = true;
          const r = await conn.kv.txn(
            {
              compare: chosen.map((key) => {
                const s = state.get(key) as { mod: bigint };
                return s.mod === 0n
                  ? {
                      key: Buffer.from(key),
                      target: rpc.Compare_CompareTarget.CREATE,
                      result: rpc.Compare_CompareResult.EQUAL,
                      createRevision: 0n,
                    }
                  : {
                      key: Buffer.from(key),
                      target: rpc.Compare_CompareTarget.MOD,
                      result: rpc.Compare_CompareResult.EQUAL,
                      modRevision: s.mod,
                    };
              }),
              success: appended.map((key) => ({
                requestPut: {
                  key: Buffer.from(key),
                  value: Buffer.from((lists.get(key) as number[]).join(',')),
                },
              })),
            },
            call,
          );
          if (!r.succeeded) {
            txn.outcome = 'fail';
            txn.complete = now();
            continue;
          }
        }
        txn.outcome = 'ok';
        txn.complete = now();
      } catch (err) {
        txn.outcome = wrote ? writeOutcomeOfError(err) : 'fail';
        if (txn.outcome === 'fail') txn.complete = now();
        const code = (err as Partial<ServiceError>).code;
        if (code === 14 || code === 4 || code === 1) {
          conn.close();
          conn = undefined;
        }
        await new Promise((r) => setTimeout(r, 50 + o.rng.int(150)));
      }
    }
    conn?.close();
  };
  await Promise.all(Array.from({ length: o.clients }, (_, i) => client(i)));
}
