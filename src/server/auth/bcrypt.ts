/**
 * bcrypt off the event loop: a small pool of worker threads (bcrypt-worker.ts). A cost-10 hash takes
 * tens of milliseconds; done inline it would stall every write and read of the member, so
 * UserAdd, UserChangePassword and Authenticate hand the work here and await it.
 */
import { Worker } from 'node:worker_threads';

/** etcd's bcrypt bounds (golang.org/x/crypto/bcrypt MinCost, MaxCost, DefaultCost). */
export const BCRYPT_MIN_COST = 4;
export const BCRYPT_MAX_COST = 31;
export const BCRYPT_DEFAULT_COST = 10;

/** Most hash/compare jobs waiting at once; more are refused ("too many requests" at the edge). */
export const BCRYPT_QUEUE_MAX = 10_000;

/** etcd's NewAuthStore: an out-of-range --bcrypt-cost falls back to the default. */
export function effectiveBcryptCost(cost: number | undefined): number {
  if (cost === undefined || cost < BCRYPT_MIN_COST || cost > BCRYPT_MAX_COST) return BCRYPT_DEFAULT_COST;
  return cost;
}

interface Pending {
  resolve(v: { hash?: string; ok?: boolean }): void;
  reject(e: unknown): void;
}

/** A pool of `size` bcrypt workers, started on first use; idle workers do not keep the process alive. */
export class BcryptPool {
  private workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private next = 0;
  private closed = false;

  constructor(private readonly size = 2) {}

  /** The bcrypt hash of `password` at `cost` (etcd's $2a$ form). */
  async hash(password: string, cost: number): Promise<string> {
    const r = await this.run({ op: 'hash', password, cost });
    return r.hash as string;
  }

  /** Whether `password` matches `hash`. */
  async compare(password: string, hash: string): Promise<boolean> {
    const r = await this.run({ op: 'compare', password, hash });
    return r.ok === true;
  }

  private run(msg: Record<string, unknown>): Promise<{ hash?: string; ok?: boolean }> {
    if (this.closed) return Promise.reject(new Error('bcrypt pool closed'));
    if (this.pending.size >= BCRYPT_QUEUE_MAX) return Promise.reject(new Error('too many bcrypt jobs'));
    if (this.workers.length === 0) this.start();
    const id = this.nextId++;
    const w = this.workers[this.next++ % this.workers.length] as Worker;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) for (const x of this.workers) x.ref();
      w.postMessage({ id, ...msg });
    });
  }

  private start(): void {
    for (let i = 0; i < this.size; i++) {
      const w = new Worker(new URL('./bcrypt-worker.js', import.meta.url));
      w.on('message', (m: { id: number; hash?: string; ok?: boolean; error?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (this.pending.size === 0) for (const x of this.workers) x.unref();
        if (m.error !== undefined) p.reject(new Error(m.error));
        else p.resolve(m);
      });
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      w.unref();
      this.workers.push(w);
    }
  }

  /** Stops the workers; jobs still waiting fail. */
  async close(): Promise<void> {
    this.closed = true;
    const ws = this.workers;
    this.workers = [];
    for (const p of this.pending.values()) p.reject(new Error('bcrypt pool closed'));
    this.pending.clear();
    await Promise.all(ws.map((w) => w.terminate()));
  }
}
