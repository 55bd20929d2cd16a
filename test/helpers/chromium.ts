/**
 * Finding the browser the browser tests and the dashboard benchmark drive through playwright-core:
 * Debian's Chromium on the PATH. Tests skip, with the reason, where there is none.
 */
import { execFileSync } from 'node:child_process';

/** The path of `chromium` (else `chromium-browser`) on the PATH, or undefined when neither is. */
export function chromiumPath(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    } catch {
      // try the next name
    }
  }
  return undefined;
}

/** A browser test's `skip` option: false with Chromium installed, else the reason it is skipped. */
export function chromiumSkip(executablePath: string | undefined): false | string {
  return executablePath ? false : 'needs chromium (apt-get install chromium)';
}
