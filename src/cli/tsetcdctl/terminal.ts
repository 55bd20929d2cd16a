/**
 * Standard input as etcdctl reads it: one line at a time without reading past it (bufio and
 * speakeasy on os.Stdin), and passwords through speakeasy's prompt.
 */
import { spawnSync } from 'node:child_process';
import { readSync } from 'node:fs';

/**
 * One line of standard input without its newline, read a byte at a time so nothing past the line is
 * consumed; undefined at the end of input.
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
    if (b[0] === 0x0a) return Buffer.from(bytes).toString();
    bytes.push(b[0]!);
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
