/**
 * `--help` for the repository's scripts, benchmarks and long runs (npm run bench:*, soak, jepsen,
 * fuzz, ...): a script's leading comment block is its help text — what it does, its flags, how to
 * run it — so the two can never disagree. Printed when -h or --help is on its command line.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The leading comment of a JS/TS source text (a `/** ... *\/` block or a run of `//` lines), as plain text. */
export function leadingComment(source: string): string {
  const lines = source.split('\n').filter((l, i) => !(i === 0 && l.startsWith('#!')));
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) return '';
  const out: string[] = [];
  if (lines[first]?.trimStart().startsWith('/*')) {
    for (let i = first; i < lines.length; i++) {
      const line = lines[i] ?? '';
      const end = line.includes('*/');
      const text = line
        .replace(/^\s*\/\*\*?\s?/, '')
        .replace(/\s*\*\/\s*$/, '')
        .replace(/^\s*\* ?/, '');
      if (!(end && text.trim() === '') && !(i === first && text.trim() === '')) out.push(text);
      if (end) break;
    }
  } else {
    for (let i = first; i < lines.length && (lines[i] ?? '').startsWith('//'); i++) {
      out.push((lines[i] ?? '').replace(/^\/\/ ?/, ''));
    }
  }
  return out.join('\n');
}

/**
 * Prints the leading comment of the module at `moduleUrl` (pass `import.meta.url`) and exits 0 when
 * `argv` asks for help; otherwise returns at once.
 */
export function helpFromHeader(moduleUrl: string, argv: readonly string[] = process.argv.slice(2)): void {
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  process.stdout.write(`${leadingComment(readFileSync(fileURLToPath(moduleUrl), 'utf8'))}\n`);
  process.exit(0);
}
