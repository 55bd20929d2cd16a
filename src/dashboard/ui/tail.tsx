/** The watch tail on a prefix, the leases table, and (with --enable-writes) a put form. */
import { useEffect, useState } from 'preact/hooks';
import type { LeasesPage, WatchEventView } from '../api-types.js';
import { postJson, toB64url, useFetch } from './api.js';

/** Events kept in the tail. */
export const TAIL_MAX = 200;

export function WatchTail({ onChange }: { onChange: (keys: string[]) => void }) {
  const [prefix, setPrefix] = useState('');
  const [events, setEvents] = useState<(WatchEventView & { at: number })[]>([]);
  const [status, setStatus] = useState('connecting');
  useEffect(() => {
    setEvents([]);
    const es = new EventSource(`api/watch?prefix=${toB64url(prefix)}`);
    es.addEventListener('ready', () => setStatus('watching'));
    es.addEventListener('events', (m) => {
      const batch = JSON.parse((m as MessageEvent<string>).data) as WatchEventView[];
      const at = Date.now();
      setEvents((old) => [...batch.reverse().map((e) => ({ ...e, at })), ...old].slice(0, TAIL_MAX));
      onChange(batch.map((e) => e.key));
    });
    es.addEventListener('failed', (m) => setStatus(`failed: ${(m as MessageEvent<string>).data}`));
    es.onerror = () => setStatus('reconnecting');
    return () => es.close();
  }, [prefix, onChange]);
  return (
    <section class="card" id="watch">
      <h2>Watch</h2>
      <form
        class="inline"
        onSubmit={(ev) => {
          ev.preventDefault();
          setPrefix((ev.currentTarget.elements.namedItem('wprefix') as HTMLInputElement).value);
        }}
      >
        <input name="wprefix" placeholder="prefix (empty: every key)" defaultValue={prefix} key={prefix} />
        <button type="submit">Watch</button>
        <span class="muted" id="watch-status">
          {status}
        </span>
      </form>
      <ol class="tail" id="watch-tail">
        {events.map((e) => (
          <li key={`${e.modRevision}-${e.keyB64}`} data-key={e.key} data-type={e.type}>
            <span class={`kind kind-${e.type}`}>{e.type}</span> <span class="mono">{e.key}</span>
            {e.type === 'PUT' && <span class="mono clip"> = {e.value}</span>}{' '}
            <span class="muted">rev {e.modRevision}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}

export function Leases({ writesEnabled, tick }: { writesEnabled: boolean; tick: number }) {
  const { data: page, error } = useFetch<LeasesPage>('api/leases', tick);
  return (
    <section class="card" id="leases">
      <h2>Leases {page ? `(${page.total})` : ''}</h2>
      {error && <p class="bad">{error}</p>}
      <table>
        <thead>
          <tr>
            <th>id</th>
            <th>TTL</th>
            <th>granted</th>
            <th>keys</th>
            {writesEnabled && <th />}
          </tr>
        </thead>
        <tbody>
          {page?.leases.map((l) => (
            <tr key={l.id} data-lease={l.id}>
              <td class="mono">{l.id}</td>
              <td>{l.ttl}s</td>
              <td>{l.grantedTtl}s</td>
              <td class="mono clip">{l.keys.join(', ') || '–'}</td>
              {writesEnabled && (
                <td>
                  <button
                    type="button"
                    class="danger"
                    onClick={() => void postJson('api/lease/revoke', { id: l.id }).catch(() => {})}
                  >
                    Revoke
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {page?.more && <p class="muted">Showing the first {page.leases.length}.</p>}
    </section>
  );
}

export function PutForm() {
  const [msg, setMsg] = useState('');
  return (
    <section class="card" id="put">
      <h2>Put</h2>
      <form
        class="inline"
        onSubmit={(ev) => {
          ev.preventDefault();
          const f = ev.currentTarget.elements;
          const key = (f.namedItem('key') as HTMLInputElement).value;
          const value = (f.namedItem('value') as HTMLInputElement).value;
          postJson<{ revision: string }>('api/put', {
            keyB64: btoa(String.fromCharCode(...new TextEncoder().encode(key))),
            value,
          })
            .then((r) => setMsg(`written at revision ${r.revision}`))
            .catch((e: Error) => setMsg(e.message));
        }}
      >
        <input name="key" placeholder="key" />
        <input name="value" placeholder="value" />
        <button type="submit">Put</button>
        <span class="muted">{msg}</span>
      </form>
    </section>
  );
}
