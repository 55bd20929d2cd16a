/**
 * Standard input as etcdctl reads it: one line at a time without reading past it (bufio and
 * speakeasy on os.Stdin), and passwords through speakeasy's prompt.
 */
import { spawnSync } from 'node:child_process';
import { readSync } from 'node:fs';

/**
 * One line of standard input with its newline (none on a last unterminated line), read a byte at a
 * time so nothing past the line is consumed; undefined at the end of input.
 */
export function readLine(): string | undefined {
  const bytes: number[] = [];
  const b = Buffer.alloc(1);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, b, 0, 1, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue;
      if (code !== 'EOF') throw e;
      n = 0;
    }
    if (n === 0) return bytes.length === 0 ? undefined : Buffer.from(bytes).toString();
    bytes.push(b[0]!);
    if (b[0] === 0x0a) return Buffer.from(bytes).toString();
  }
}

/**
 * speakeasy.Ask: the prompt on stdout, terminal echo off through `stty -echo` on stdin (which, as
 * for etcdctl, complains on stderr when stdin is not a terminal), one line of stdin trimmed, echo
 * back on, and a newline.
 */
export function askPassword(
  write: (s: string) => void,
  prompt: string,
  line: () => string | undefined = readLine,
): string {
  write(prompt);
  spawnSync('/bin/stty', ['-echo'], { stdio: 'inherit', argv0: 'stty' });
  try {
    return (line() ?? '').trim();
  } finally {
    spawnSync('/bin/stty', ['echo'], { stdio: 'inherit', argv0: 'stty' });
    write('\n');
  }
}

/**
 * Raw lines of standard input read asynchronously (for commands that read while other work runs,
 * as `watch -i`): each with its newline, a last unterminated one without; undefined at the end.
 */
export function stdinLines(stream: NodeJS.ReadableStream = process.stdin): () => Promise<string | undefined> {
  let buf = '';
  let ended = false;
  let wake: (() => void) | undefined;
  stream.setEncoding('utf8');
  stream.on('data', (c: string) => {
    buf += c;
    wake?.();
  });
  stream.on('end', () => {
    ended = true;
    wake?.();
  });
  return async () => {
    for (;;) {
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        const line = buf.slice(0, nl + 1);
        buf = buf.slice(nl + 1);
        return line;
      }
      if (ended) {
        const rest = buf;
        buf = '';
        return rest === '' ? undefined : rest;
      }
      await new Promise<void>((r) => {
        wake = r;
      });
      wake = undefined;
    }
  };
}
