/**
 * etcdctl 3.4's printers: simple, fields, json, protobuf and table, byte for byte (see etcdctl's
 * printer_*.go). Every function writes through `out` (stdout) or `err` (stderr).
 */
import type { ResponseHeader } from '../../proto/etcdserverpb/rpc.js';
import type { KeyValue } from '../../proto/mvccpb/kv.js';
import { renderTable } from '../ui/index.js';
import { goJson, goQuote, Raw } from './go-format.js';

export type Format = 'simple' | 'json' | 'fields' | 'protobuf' | 'table';

/** The sinks a printer writes to. */
export interface Out {
  out(s: string | Buffer): void;
  err(s: string): void;
}

/** A format the command does not support: "Error: <f> not supported as output format", exit 4. */
export class UnsupportedFormat extends Error {
  constructor(f: string) {
    super(`${f} not supported as output format`);
  }
}

/** etcdctl's addHexPrefix(hex.EncodeToString(b)): "\x61\x62". */
export function hexBytes(b: Buffer): string {
  return [...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('');
}

/** printKV: key line (unless value-only) then value line. */
export function printKV(o: Out, hex: boolean, valueOnly: boolean, kv: KeyValue): void {
  const k = hex ? hexBytes(kv.key) : kv.key.toString('latin1');
  const v = hex ? hexBytes(kv.value) : kv.value;
  if (!valueOnly) o.out(`${k}\n`);
  o.out(typeof v === 'string' ? `${v}\n` : Buffer.concat([v, Buffer.from('\n')]));
}

/** The fields printer's header lines. */
export function fieldsHeader(o: Out, h: ResponseHeader | undefined): void {
  o.out(`"ClusterID" : ${h?.clusterId ?? 0n}\n`);
  o.out(`"MemberID" : ${h?.memberId ?? 0n}\n`);
  o.out(`"Revision" : ${h?.revision ?? 0n}\n`);
  o.out(`"RaftTerm" : ${h?.raftTerm ?? 0n}\n`);
}

export function fieldsKV(o: Out, pfx: string, kv: KeyValue): void {
  o.out(`"${pfx}Key" : ${goQuote(kv.key)}\n`);
  o.out(`"${pfx}CreateRevision" : ${kv.createRevision}\n`);
  o.out(`"${pfx}ModRevision" : ${kv.modRevision}\n`);
  o.out(`"${pfx}Version" : ${kv.version}\n`);
  o.out(`"${pfx}Value" : ${goQuote(kv.value)}\n`);
  o.out(`"${pfx}Lease" : ${kv.lease}\n`);
}

/** printJSON: encoding/json then a newline. */
export function printJson(o: Out, v: unknown, ctx = ''): void {
  o.out(`${goJson(v, ctx)}\n`);
}

/** The header fields flattened into the enclosing object (clientv3 embeds *pb.ResponseHeader). */
export function flatHeader(h: ResponseHeader | undefined): Record<string, unknown> {
  return {
    clusterId: h?.clusterId ?? 0n,
    memberId: h?.memberId ?? 0n,
    revision: h?.revision ?? 0n,
    raftTerm: h?.raftTerm ?? 0n,
  };
}

/** A `-w table` table: tablewriter's box, header upper-cased, cells right-aligned (etcdctl sets ALIGN_RIGHT). */
export function table(o: Out, header: string[], rows: string[][]): void {
  o.out(
    renderTable({
      header: header.map((h) => h.toUpperCase()),
      rows,
      align: header.map(() => 'right' as const),
    }),
  );
}

export { Raw };
