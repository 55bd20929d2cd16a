// A LeaseKeepAlive stream for e2e tests: one promise per keep-alive request, in order.
import {
  LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  LeaseService,
} from '../../src/proto/etcdserverpb/rpc.js';
import type { EtcdClients } from '../helpers/index.js';

/** A LeaseKeepAlive stream with a promise per keep-alive (responses come in request order). */
export interface KeepAliveStream {
  keepAlive(id: bigint, timeoutMs?: number): Promise<LeaseKeepAliveResponse>;
  close(): void;
}

export function openKeepAlive(c: EtcdClients): KeepAliveStream {
  const def = LeaseService.leaseKeepAlive;
  const call = c.raw.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize);
  const pending: { resolve(r: LeaseKeepAliveResponse): void; reject(e: Error): void }[] = [];
  let failure: Error | undefined;
  const fail = (e: Error) => {
    failure ??= e;
    for (const p of pending.splice(0)) p.reject(failure);
  };
  call.on('data', (r: LeaseKeepAliveResponse) => pending.shift()?.resolve(r));
  call.on('error', (e: Error) => fail(e));
  call.on('end', () => fail(new Error('keep-alive stream ended')));
  return {
    keepAlive: (id, timeoutMs = 5000) => {
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          // A response that never comes breaks the request/response pairing: the stream is done.
          fail(new Error(`no keep-alive response within ${timeoutMs} ms`));
          call.cancel();
        }, timeoutMs);
        pending.push({
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        call.write(LeaseKeepAliveRequest.fromPartial({ ID: id }));
      });
    },
    close: () => {
      call.end();
      call.cancel();
    },
  };
}
