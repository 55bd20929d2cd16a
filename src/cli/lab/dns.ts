/**
 * A tiny authoritative DNS server for the lab's cluster domain, on node:dgram: answers A queries
 * for the names it holds (a Service name in every form a pod's resolv.conf search list produces:
 * `grpc-svc`, `grpc-svc.default`, `grpc-svc.default.svc`, `grpc-svc.default.svc.cluster.local`),
 * NOERROR with no answer for other types of a known name (so getaddrinfo's AAAA query is not an
 * error), NXDOMAIN for everything else. It never forwards: the lab's pods reach nothing outside.
 * Records can change while it runs (a deployment scaled); every query is reported to a callback,
 * which is how the lab sees when a client re-resolves.
 */
import { createSocket, type Socket } from 'node:dgram';

/** DNS record type numbers we name. */
export const TYPE_A = 1;
export const TYPE_AAAA = 28;
export const TYPE_TXT = 16;

/** Response codes. */
export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_NXDOMAIN = 3;

/** The cluster namespace and domain the search list expands names into (Kubernetes' defaults). */
export const CLUSTER_NAMESPACE = 'default';
export const CLUSTER_DOMAIN = 'cluster.local';

/** TTL of every answer, seconds. Short, as Kubernetes' (30 s) — clients here cache nothing anyway. */
export const ANSWER_TTL_S = 5;

/** Bound on a query we parse (a UDP DNS message is at most 512 bytes without EDNS). */
export const QUERY_BYTES_MAX = 512;

/** One question of a query. */
export interface Question {
  name: string;
  type: number;
  cls: number;
}

/** A parsed query: id, flags and the first question (a query has exactly one in practice). */
export interface Query {
  id: number;
  flags: number;
  question: Question;
  /** Bytes of the header plus the question, echoed in the answer. */
  questionEnd: number;
}

/** Parses a query; returns undefined for anything malformed (the server then answers FORMERR if it can). */
export function parseQuery(buf: Buffer): Query | undefined {
  if (buf.length < 12 || buf.length > QUERY_BYTES_MAX) return undefined;
  const qdcount = buf.readUInt16BE(4);
  if (qdcount !== 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= buf.length) return undefined;
    const len = buf[off]!;
    off++;
    if (len === 0) break;
    if (len > 63 || off + len > buf.length) return undefined; // no compression inside a question
    labels.push(buf.toString('latin1', off, off + len));
    off += len;
  }
  if (off + 4 > buf.length) return undefined;
  return {
    id: buf.readUInt16BE(0),
    flags: buf.readUInt16BE(2),
    question: {
      name: labels.join('.').toLowerCase(),
      type: buf.readUInt16BE(off),
      cls: buf.readUInt16BE(off + 2),
    },
    questionEnd: off + 4,
  };
}

/** Encodes a response to `query` with rcode and A answers (each an IPv4 dotted quad). */
export function encodeResponse(
  query: Buffer,
  parsed: Query,
  rcode: number,
  addresses: readonly string[],
): Buffer {
  const head = Buffer.from(query.subarray(0, parsed.questionEnd));
  // QR=1, opcode copied, AA=1, TC=0, RD copied, RA=0, rcode.
  const flags = 0x8000 | (parsed.flags & 0x7800) | 0x0400 | (parsed.flags & 0x0100) | (rcode & 0xf);
  head.writeUInt16BE(flags, 2);
  head.writeUInt16BE(1, 4); // qdcount
  head.writeUInt16BE(addresses.length, 6); // ancount
  head.writeUInt16BE(0, 8); // nscount
  head.writeUInt16BE(0, 10); // arcount
  const answers = addresses.map((ip) => {
    const a = Buffer.alloc(16);
    a.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    a.writeUInt16BE(TYPE_A, 2);
    a.writeUInt16BE(1, 4); // IN
    a.writeUInt32BE(ANSWER_TTL_S, 6);
    a.writeUInt16BE(4, 10);
    const parts = ip.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
      throw new RangeError(`not an IPv4 address: ${ip}`);
    for (const [i, p] of parts.entries()) a.writeUInt8(p, 12 + i);
    return a;
  });
  return Buffer.concat([head, ...answers]);
}

/** Every name a pod may ask for a Service `svc` (bare, then each search-list expansion). */
export function serviceNames(svc: string): string[] {
  const ns = CLUSTER_NAMESPACE;
  return [svc, `${svc}.${ns}`, `${svc}.${ns}.svc`, `${svc}.${ns}.svc.${CLUSTER_DOMAIN}`];
}

/** What the server did with one query, reported to `onQuery`. */
export interface QueryLog {
  /** Wall-clock time, ms since the epoch. */
  t: number;
  from: string;
  name: string;
  type: number;
  rcode: number;
  answers: string[];
}

/** The server: records keyed by Service name, replaceable while running. */
export class ClusterDns {
  private readonly byName = new Map<string, string[]>();
  private socket: Socket | undefined;

  constructor(private readonly onQuery: (log: QueryLog) => void = () => {}) {}

  /** Replaces every record: Service name -> IPv4 addresses (in answer order). */
  setRecords(records: Readonly<Record<string, readonly string[]>>): void {
    this.byName.clear();
    for (const [svc, ips] of Object.entries(records))
      for (const n of serviceNames(svc)) this.byName.set(n, [...ips]);
  }

  /** The answer for one question: rcode and addresses. */
  answer(q: Question): { rcode: number; addresses: string[] } {
    const ips = this.byName.get(q.name.replace(/\.$/, ''));
    if (!ips) return { rcode: RCODE_NXDOMAIN, addresses: [] };
    return { rcode: RCODE_NOERROR, addresses: q.type === TYPE_A && q.cls === 1 ? ips : [] };
  }

  /** Binds UDP host:port (0: a free port); resolves with the port. */
  listen(host: string, port: number): Promise<number> {
    const sock = createSocket('udp4');
    this.socket = sock;
    sock.on('message', (msg, rinfo) => {
      const q = parseQuery(msg);
      if (!q) return; // not worth an answer; the client times out as for a lost packet
      const { rcode, addresses } = this.answer(q.question);
      sock.send(encodeResponse(msg, q, rcode, addresses), rinfo.port, rinfo.address);
      this.onQuery({
        t: Date.now(),
        from: rinfo.address,
        name: q.question.name,
        type: q.question.type,
        rcode,
        answers: addresses,
      });
    });
    return new Promise((res, rej) => {
      sock.once('error', rej);
      sock.bind(port, host, () => {
        sock.off('error', rej);
        res(sock.address().port);
      });
    });
  }

  /** Closes the socket (idempotent). */
  close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    return new Promise((res) => (s ? s.close(() => res()) : res()));
  }
}
