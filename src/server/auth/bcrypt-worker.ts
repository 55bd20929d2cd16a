/**
 * The bcrypt worker thread: hashes and compares passwords with bcryptjs, off the member's event loop.
 * Messages: `{ id, op: 'hash', password, cost }` -> `{ id, hash }`;
 * `{ id, op: 'compare', password, hash }` -> `{ id, ok }`.
 */
import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

type Request =
  | { id: number; op: 'hash'; password: string; cost: number }
  | { id: number; op: 'compare'; password: string; hash: string };

parentPort?.on('message', (m: Request) => {
  try {
    if (m.op === 'hash') {
      // Go's bcrypt writes the $2a$ prefix; bcryptjs the equivalent $2b$. Keep etcd's.
      const hash = bcrypt.hashSync(m.password, bcrypt.genSaltSync(m.cost)).replace(/^\$2b\$/, '$2a$');
      parentPort?.postMessage({ id: m.id, hash });
    } else {
      parentPort?.postMessage({ id: m.id, ok: bcrypt.compareSync(m.password, m.hash) });
    }
  } catch (err) {
    parentPort?.postMessage({ id: m.id, error: String(err) });
  }
});
