// Screenshots of the labs' HTML reports for docs/: `node scripts/lab-screenshots.mjs OUT.png IN.html ...`
// (pairs). Uses Debian's chromium through playwright-core; the reports need no network.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { helpFromHeader } from './help.mjs';

helpFromHeader(import.meta.url);

const args = process.argv.slice(2);
if (args.length === 0 || args.length % 2 !== 0) {
  console.error('usage: node scripts/lab-screenshots.mjs OUT.png IN.html [OUT.png IN.html ...]');
  process.exit(2);
}
const executablePath = execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
try {
  for (let i = 0; i < args.length; i += 2) {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    await page.route('**/*', (route) => route.abort());
    await page.setContent(readFileSync(args[i + 1], 'utf8'), { waitUntil: 'load' });
    await page.screenshot({ path: args[i], fullPage: true });
    await page.close();
    console.log(`wrote ${args[i]}`);
  }
} finally {
  await browser.close();
}
