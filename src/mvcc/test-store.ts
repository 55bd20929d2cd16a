/**
 * Test support, imported by tests only: a small store with several pages of every kind (four
 * transactions of 500 keys; every 50th value 9000 bytes, so overflow pages too) for the store-file
 * checks to walk, damage and stamp.
 */
import { MvccStore } from './store.js';

/** Builds the sample store in `dir` and closes it (cleanly). */
export async function buildSampleStore(dir: string): Promise<void> {
  const s = await MvccStore.open({ dir });
  for (let t = 0; t < 4; t++) {
    const w = s.write(t + 1);
    for (let i = 0; i < 500; i++)
      w.put(Buffer.from(`key/${t}/${i}`), Buffer.alloc(i % 50 === 0 ? 9000 : 40, i), 0n);
    w.end();
  }
  await s.commit();
  await s.close();
}
