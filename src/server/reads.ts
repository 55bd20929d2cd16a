/**
 * The ReadIndex barrier of linearizable reads: learn the commit index from the leader (the driver's
 * readIndex), then wait until this member has applied up to it. Released at the end of each apply
 * turn, after the writes applied before it are acknowledged, so a read never shows a write a crash
 * could still take back.
 */
import { etcdError } from '../wire/errors.js';

export interface ReadBarrierHost {
  stopped(): boolean;
  appliedIndex(): number;
  /** The leader's commit index as of now (Raft's ReadIndex); fails with etcd's errors. */
  readIndex(): Promise<number>;
}

export class ReadBarrier {
  private readonly waiting: { index: number; resolve(): void; reject(e: unknown): void }[] = [];

  constructor(private readonly host: ReadBarrierHost) {}

  /** Resolves once everything committed before the call is applied here. */
  async wait(): Promise<void> {
    if (this.host.stopped()) throw etcdError('stopped');
    const index = await this.host.readIndex();
    if (this.host.appliedIndex() >= index) return;
    await new Promise<void>((resolve, reject) => this.waiting.push({ index, resolve, reject }));
  }

  /**
   * Resolves true once raft index `index` is applied here, false after `timeoutMs` (simple auth
   * tokens name the index of the entry that issued them; a member behind waits for it, as etcd's).
   */
  waitApplied(index: number, timeoutMs: number): Promise<boolean> {
    if (this.host.appliedIndex() >= index) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const entry = {
        index,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
        reject: () => {
          clearTimeout(timer);
          resolve(false);
        },
      };
      // A token naming an index never reached (forged) must not leave its waiter behind.
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      this.waiting.push(entry);
    });
  }

  /** Releases the reads whose index is now applied. */
  release(): void {
    const applied = this.host.appliedIndex();
    let kept = 0;
    for (const r of this.waiting) {
      if (r.index <= applied) r.resolve();
      else this.waiting[kept++] = r;
    }
    this.waiting.length = kept;
  }

  /** The member stopped: waiting reads fail with "server stopped". */
  failAll(): void {
    for (const r of this.waiting.splice(0)) r.reject(etcdError('stopped'));
  }
}
