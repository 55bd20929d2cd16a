/**
 * What every tsetcdctl command is built from: the context it runs with, the command record, the
 * errors that pick etcdctl's exit codes, and `display`, the one place that picks a printer by output
 * format (etcdctl's printer interface: a format a command has no printer for is "<f> not supported
 * as output format", exit 4).
 */
import type { Client } from '../../client/index.js';
import type { FlagSpecs } from './flags.js';
import { UsageError } from './flags.js';
import { type Format, type Out, printJson, UnsupportedFormat } from './output.js';

/** What a command gets to run with. */
export interface Ctx {
  out: Out;
  format: Format;
  hex: boolean;
  /** Positional arguments after the command words. */
  args: string[];
  /** The whole command line as given (etcdctl's watch reads os.Args for `--`). */
  argv: string[];
  flag(name: string): string;
  has(name: string): boolean;
  client(): Promise<Client>;
  /** A client on one endpoint only (endpoint status/health/hashkv, defrag, move-leader). */
  clientFor(endpoint: string): Client;
  /** A new client on all the endpoints (its own connection); the caller closes it. */
  newClient(): Client;
  /** All of standard input (piped txn, put's value). */
  stdin(): string;
  /** One line of standard input with its newline (none on an unterminated last line); undefined at the end. */
  readLine(): string | undefined;
  /** Whether stdout is a terminal (progress bars are drawn only there). */
  isTty: boolean;
}

/** One runnable command (`path` is its words: "user add"). */
export interface Command {
  path: string;
  /** cobra's Use: the usage line after the parent's path ("add <user name or user:password> [options]"). */
  usage: string;
  short: string;
  /** cobra's Long: printed under DESCRIPTION in --help. */
  long?: string;
  flags: FlagSpecs;
  run(ctx: Ctx): Promise<void>;
}

/** A command record; `usage` is the full path plus arguments as etcdctl's Use ("user add <name>"). */
export function command(
  path: string,
  usage: string,
  short: string,
  flags: FlagSpecs,
  run: (ctx: Ctx) => Promise<void>,
  long?: string,
): Command {
  return { path, usage, short, flags, run, ...(long !== undefined ? { long } : {}) };
}

/** A format's printer; `display` runs the one for the chosen format. */
export type Printers = Partial<Record<Format, () => void>>;

/** Runs the printer for ctx.format, or throws UnsupportedFormat (etcdctl's printerUnsupported). */
export function display(ctx: Ctx, printers: Printers): void {
  const p = printers[ctx.format];
  if (p === undefined) throw new UnsupportedFormat(ctx.format);
  p();
}

/** A ts-proto message type, for the protobuf printer. */
export interface Encoder<T> {
  encode(m: T): { finish(): Uint8Array };
}

/**
 * etcdctl's printerRPC: `-w json` prints the response message with encoding/json and `-w protobuf`
 * its wire bytes (when `type` is given; without it protobuf is unsupported).
 */
export function rpcPrinters<T>(ctx: Ctx, r: T, type?: Encoder<T>, jsonCtx = ''): Printers {
  return {
    json: () => printJson(ctx.out, r, jsonCtx),
    ...(type ? { protobuf: () => ctx.out.out(Buffer.from(type.encode(r).finish())) } : {}),
  };
}

/** encoding/json of `v` without the newline. */
export function jsonOf(v: unknown, jsonCtx = ''): string {
  const chunks: string[] = [];
  printJson({ out: (s) => chunks.push(s.toString()), err: () => {} }, v, jsonCtx);
  return chunks.join('').trimEnd();
}

/** A decimal integer argument or flag; anything else is a usage error. */
export const toInt = (s: string, what: string): bigint => {
  if (!/^-?\d+$/.test(s)) throw new UsageError(`bad ${what} ${JSON.stringify(s)}`);
  return BigInt(s);
};

/** A 64-bit id as %016x (or %x with width 0). */
export const hexId = (id: bigint, width = 16): string =>
  BigInt.asUintN(64, id).toString(16).padStart(width, '0');

/** A 64-bit id as %16x (space-padded). */
export const spaceHex = (id: bigint): string => BigInt.asUintN(64, id).toString(16).padStart(16, ' ');

/** A lease id given in hex, refused with strconv's text as etcdctl refuses it. */
export function parseLeaseHex(s: string): bigint {
  if (!/^[0-9a-fA-F]+$/.test(s))
    throw new UsageError(
      `bad lease ID (strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax), expecting ID in Hex`,
    );
  return BigInt.asIntN(64, BigInt(`0x${s}`));
}

/** A member id given in hex, refused with strconv's text as etcdctl refuses it. */
export function parseHexId(s: string): bigint {
  if (!/^[0-9a-fA-F]+$/.test(s))
    throw new UsageError(
      `bad member ID arg (strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax), expecting ID in Hex`,
    );
  return BigInt(`0x${s}`);
}

/** Bad standard input: exit code 3 (ExitInvalidInput). */
export class InvalidInput extends Error {}

/** An error printed as "Error: <prefix> (<cause>)" (etcdctl's fmt.Errorf wrapping). */
export class Wrapped extends Error {
  constructor(
    prefix: string,
    readonly inner: unknown,
  ) {
    super(prefix);
  }
}

/** Exit with this code after printing "Error: <message>" (nothing when the message is empty). */
export class ExitCodeError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A usage or input error of a txn/stdin grammar becomes exit code 3. */
export function wrapInvalid(e: unknown): Error {
  if (e instanceof UsageError) return new ExitCodeError(3, e.message);
  if (e instanceof InvalidInput) return new ExitCodeError(3, e.message);
  return e as Error;
}
