/**
 * The member's requests to other members' peer URLs outside the Raft streams (join: the member
 * list; lease forwarding; promote): a `fetch`-shaped function that uses the peer TLS settings for
 * https:// URLs (client certificate, trusted CA) and plain fetch for http:// ones.
 */
import https from 'node:https';
import { collectBodyCapped } from '../pkg/index.js';
import type { TlsEndpoint } from './endpoint.js';

/** The subset of fetch the member uses on peer URLs. */
export type PeerFetch = (
  url: string,
  init?: { method?: string; body?: string; signal?: AbortSignal; headers?: Record<string, string> },
) => Promise<Response>;

/** Most bytes read from a peer's answer (member lists and lease replies are small). */
export const PEER_RESPONSE_BYTES_MAX = 16 * 1024 * 1024;

/** A PeerFetch over `endpoint`'s client options; without one, https:// URLs fail as fetch would. */
export function makePeerFetch(endpoint: TlsEndpoint | undefined): PeerFetch {
  return (url, init = {}) => {
    if (!url.startsWith('https:') || !endpoint) return fetch(url, init);
    return new Promise<Response>((resolve, reject) => {
      const req = https.request(
        url,
        {
          ...endpoint.clientOptions(),
          ...({ ALPNProtocols: ['http/1.1'] } as object),
          method: init.method ?? 'GET',
          headers: init.headers,
          signal: init.signal,
          agent: false,
        },
        (res) => {
          collectBodyCapped(req, res, PEER_RESPONSE_BYTES_MAX, (all) => {
            const headers = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
            const status = res.statusCode ?? 500;
            resolve(new Response(status === 204 || status === 304 ? null : all, { status, headers }));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(init.body);
    });
  };
}
