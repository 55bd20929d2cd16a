/**
 * The dashboard page: one preact tree fed by the server's `state` events (one per poll) and the
 * watch tail. Bundled with uPlot into app.js / app.css by scripts/build-dashboard.mjs.
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { ClusterState } from '../api-types.js';
import { Members, MethodTable, RateChart, Timeline } from './cluster.js';
import { KeyBrowser } from './keys.js';
import { Leases, PutForm, WatchTail } from './tail.js';

/** Least time between two refreshes of the key browser caused by watch events, in ms. */
const KEYS_REFRESH_MS = 2000;

function App() {
  const [state, setState] = useState<ClusterState | undefined>(undefined);
  const [conn, setConn] = useState('connecting');
  const [changed, setChanged] = useState(0);
  const [tick, setTick] = useState(0);
  const pending = useRef(false);
  useEffect(() => {
    const es = new EventSource('api/events');
    es.addEventListener('state', (m) => {
      setState(JSON.parse((m as MessageEvent<string>).data) as ClusterState);
      setConn('live');
      setTick((t) => t + 1);
    });
    es.onerror = () => setConn('reconnecting');
    return () => es.close();
  }, []);
  // Watch events under the key browser's prefix refresh it, at most every KEYS_REFRESH_MS: each
  // refresh reads the page and counts the keys under the prefix, which on a busy root is not free.
  const browsing = useRef('');
  const onChange = useCallback((keys: string[]) => {
    if (pending.current || !keys.some((k) => k.startsWith(browsing.current))) return;
    pending.current = true;
    setTimeout(() => {
      pending.current = false;
      setChanged((c) => c + 1);
    }, KEYS_REFRESH_MS);
  }, []);
  if (!state) return <p class="boot">Connecting to the dashboard server…</p>;
  const leader = state.members.find((m) => m.id === state.leader);
  return (
    <main>
      <header>
        <h1>tsetcd dashboard</h1>
        <span>
          cluster <b class="mono">{state.clusterId || '?'}</b>
        </span>
        <span>
          leader{' '}
          <b id="leader" data-leader={state.leader}>
            {leader ? leader.name || leader.id : 'none'}
          </b>
        </span>
        <span>
          revision <b id="revision">{state.revision}</b>
        </span>
        <span class={state.writesEnabled ? 'badge warn' : 'badge'} id="mode">
          {state.writesEnabled ? 'writes enabled' : 'read-only'}
        </span>
        <span class={`badge ${conn === 'live' ? 'ok' : 'bad'}`} id="conn">
          {conn}
        </span>
        {state.error && <span class="bad">{state.error}</span>}
      </header>
      <div class="grid">
        <Members state={state} />
        <RateChart state={state} />
        <MethodTable state={state} />
        <Timeline state={state} />
        <KeyBrowser writesEnabled={state.writesEnabled} changed={changed} browsing={browsing} />
        <WatchTail onChange={onChange} />
        <Leases writesEnabled={state.writesEnabled} tick={Math.floor(tick / 5)} />
        {state.writesEnabled && <PutForm />}
      </div>
    </main>
  );
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
