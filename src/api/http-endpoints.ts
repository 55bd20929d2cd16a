/**
 * The plain-HTTP endpoints etcd serves on its client port: /health, /version, /metrics, and etcd
 * 3.5's /livez and /readyz (http-health.ts). Shapes and
 * status codes as etcd 3.4's (`{"health":"true"}` with 200, `{"health":"false"}` with 503).
 */
import type { Member } from '../server/index.js';
import { CLUSTER_VERSION, SERVER_VERSION } from '../server/index.js';
import type { HttpHandler, HttpResponse } from './http-handler.js';
import { healthz } from './http-health.js';

const JSON_TYPE = { 'content-type': 'application/json' };

export function httpEndpoints(member: Member): HttpHandler {
  return async (req): Promise<HttpResponse> => {
    const path = req.url.split('?')[0];
    switch (path) {
      case '/health': {
        const ok = member.healthy;
        (ok ? member.metrics.healthSuccess : member.metrics.healthFailures).inc();
        return { status: ok ? 200 : 503, headers: JSON_TYPE, body: JSON.stringify({ health: String(ok) }) };
      }
      case '/version':
        return {
          status: 200,
          headers: JSON_TYPE,
          body: JSON.stringify({ etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION }),
        };
      case '/metrics': {
        const body = await member.metrics.registry.metrics();
        return { status: 200, headers: { 'content-type': member.metrics.registry.contentType }, body };
      }
      default: {
        const h = await healthz(member, req.url);
        if (h) return h;
        return {
          status: 404,
          headers: { 'content-type': 'text/plain; charset=utf-8' },
          body: '404 page not found\n',
        };
      }
    }
  };
}
