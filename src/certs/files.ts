/**
 * Writes an issued certificate as `cfssljson -bare NAME` does: NAME.pem (certificate, 0644),
 * NAME-key.pem (private key, 0600) and NAME.csr (request, 0644) in a directory.
 */
import { chmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Issued } from './issue.js';

/** Paths written by `writeBare`. */
export interface BarePaths {
  cert: string;
  key: string;
  csr: string;
}

/** File names `cfssljson -bare <bare>` uses, inside `dir`. */
export function barePaths(dir: string, bare: string): BarePaths {
  return { cert: join(dir, `${bare}.pem`), key: join(dir, `${bare}-key.pem`), csr: join(dir, `${bare}.csr`) };
}

/**
 * Writes `issued` under `dir`. The key is written to a fresh file created 0600 and renamed into
 * place, so a key never sits in a world-readable file, not even for a moment and not when an older
 * NAME-key.pem with wider permissions was there before.
 */
export function writeBare(dir: string, bare: string, issued: Issued): BarePaths {
  const p = barePaths(dir, bare);
  const tmp = `${p.key}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, issued.keyPem, { mode: 0o600, flag: 'wx' });
  chmodSync(tmp, 0o600); // the umask may only narrow the mode; make it exact
  renameSync(tmp, p.key);
  writeFileSync(p.cert, issued.certPem, { mode: 0o644 });
  writeFileSync(p.csr, issued.csrPem, { mode: 0o644 });
  return p;
}
