/**
 * The key browser: the tree under a prefix one page at a time (Prev/Next keep a stack of cursors,
 * so going back costs one request), a key's versions newest first, and a diff of two versions.
 */
import { useEffect, useState } from 'preact/hooks';
import type { KeyDetail, KeysPage, KeyVersionView, TreeEntryView } from '../api-types.js';
import { b64ToB64url, bytesToB64, getJson, postJson, toB64url, useFetch } from './api.js';
import { lineDiff } from './diff.js';

const PAGE = 100;

interface Cursor {
  keyB64: string;
  dir: boolean;
}

function label(e: TreeEntryView, prefix: string): string {
  const rest = e.key.slice(prefix.length);
  return rest === '' ? '(this key)' : rest;
}

export function KeyBrowser({
  writesEnabled,
  changed,
  browsing,
}: {
  writesEnabled: boolean;
  changed: number;
  /** Where the browser is, for the page to decide which watch events concern it. */
  browsing: { current: string };
}) {
  const [prefix, setPrefix] = useState('');
  browsing.current = prefix;
  const [cursors, setCursors] = useState<(Cursor | undefined)[]>([undefined]);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const cursor = cursors[cursors.length - 1];
  const q = new URLSearchParams({ prefix: toB64url(prefix), limit: String(PAGE) });
  if (cursor) {
    q.set('after', b64ToB64url(cursor.keyB64));
    q.set('dir', cursor.dir ? '1' : '0');
  }
  const { data, error } = useFetch<KeysPage>(`api/keys?${q}`, changed);
  // An answer for another prefix or page (the previous view) is not shown as this one.
  const page = data && data.prefixB64 === bytesToB64(new TextEncoder().encode(prefix)) ? data : undefined;

  const open = (p: string) => {
    setPrefix(p);
    setCursors([undefined]);
  };
  const parts = prefix.split('/').slice(0, -1);
  const last = page?.entries[page.entries.length - 1];
  return (
    <section class="card wide" id="keys">
      <h2>Keys</h2>
      <div class="crumbs">
        <button type="button" class="link" onClick={() => open('')}>
          (root)
        </button>
        {parts.map((part, i) => {
          const p = `${parts.slice(0, i + 1).join('/')}/`;
          return (
            <span key={p}>
              {' / '}
              <button type="button" class="link" onClick={() => open(p)}>
                {part === '' ? '(empty)' : part}
              </button>
            </span>
          );
        })}
        <form
          class="inline"
          onSubmit={(ev) => {
            ev.preventDefault();
            const v = (ev.currentTarget.elements.namedItem('prefix') as HTMLInputElement).value;
            open(v);
          }}
        >
          {/* Uncontrolled (remounted per prefix): a re-render from a watch event must not wipe what is being typed. */}
          <input name="prefix" placeholder="prefix" defaultValue={prefix} key={prefix} id="prefix-input" />
          <button type="submit">Go</button>
        </form>
      </div>
      <div class="split">
        <div class="tree">
          <p class="muted" id="keys-summary">
            {page
              ? `${page.count} keys under “${prefix}” at revision ${page.revision}; page ${cursors.length}`
              : '…'}
          </p>
          {error && <p class="bad">{error}</p>}
          <ul class="entries">
            {page?.entries.map((e) => (
              <li key={e.keyB64} class={e.dir ? 'dir' : 'leaf'} data-key={e.key}>
                <button
                  type="button"
                  class={`link ${selected === e.keyB64 ? 'sel' : ''}`}
                  onClick={() => (e.dir ? open(e.key) : setSelected(e.keyB64))}
                >
                  {e.dir ? '▸ ' : ''}
                  {label(e, prefix)}
                </button>
              </li>
            ))}
          </ul>
          <div class="pager">
            <button
              type="button"
              id="keys-prev"
              disabled={cursors.length <= 1}
              onClick={() => setCursors(cursors.slice(0, -1))}
            >
              ‹ Prev
            </button>
            <button
              type="button"
              id="keys-next"
              disabled={!page?.more || last === undefined}
              onClick={() => last && setCursors([...cursors, { keyB64: last.keyB64, dir: last.dir }])}
            >
              Next ›
            </button>
          </div>
        </div>
        <div class="detail">
          {selected ? (
            <KeyPanel keyB64={selected} writesEnabled={writesEnabled} changed={changed} />
          ) : (
            <p class="muted">Select a key to see its value, its versions and diffs between them.</p>
          )}
        </div>
      </div>
    </section>
  );
}

function KeyPanel({
  keyB64,
  writesEnabled,
  changed,
}: {
  keyB64: string;
  writesEnabled: boolean;
  changed: number;
}) {
  const { data, error } = useFetch<KeyDetail>(`api/key?key=${b64ToB64url(keyB64)}`, changed);
  const detail = data?.keyB64 === keyB64 ? data : undefined;
  const [older, setOlder] = useState<KeyVersionView[]>([]);
  const [pair, setPair] = useState<[string, string] | undefined>(undefined);
  // A new version (or another key) starts the history and the diff afresh; a refetch that finds
  // nothing new leaves the reader's choice alone.
  const newest = detail?.versions[0]?.modRevision;
  const second = detail?.versions[1]?.modRevision;
  useEffect(() => {
    setOlder([]);
    setPair(newest && second ? [second, newest] : undefined);
  }, [keyB64, newest, second]);
  if (error) return <p class="bad">{error}</p>;
  if (!detail) return <p class="muted">…</p>;
  const versions = [...detail.versions, ...older];
  const cur = versions[0];
  if (!cur) return <p class="muted">This key does not exist now.</p>;
  const more = async () => {
    const lastV = versions[versions.length - 1]!;
    const d = await getJson<KeyDetail>(`api/key?key=${b64ToB64url(keyB64)}&before=${lastV.modRevision}`);
    setOlder([...older, ...d.versions]);
  };
  const byRev = (r: string) => versions.find((v) => v.modRevision === r);
  const a = pair && byRev(pair[0]);
  const b = pair && byRev(pair[1]);
  const lines = a && b ? lineDiff(a.value, b.value) : undefined;
  return (
    <div id="key-detail">
      <h3 class="mono">{cur.key}</h3>
      <dl class="kv">
        <dt>create revision</dt>
        <dd>{cur.createRevision}</dd>
        <dt>mod revision</dt>
        <dd>{cur.modRevision}</dd>
        <dt>version</dt>
        <dd>{cur.version}</dd>
        <dt>lease</dt>
        <dd>{cur.lease === '0' ? 'none' : cur.lease}</dd>
      </dl>
      <pre class="value" id="key-value">
        {cur.utf8 ? cur.value : `(base64) ${cur.valueB64}`}
      </pre>
      {writesEnabled && <KeyWrites keyB64={keyB64} value={cur.value} />}
      <h4>History</h4>
      <table class="history">
        <thead>
          <tr>
            <th>mod rev</th>
            <th>version</th>
            <th>value</th>
            <th>diff from</th>
            <th>to</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.modRevision} data-rev={v.modRevision}>
              <td>{v.modRevision}</td>
              <td>{v.version}</td>
              <td class="mono clip">{v.utf8 ? v.value : `(base64) ${v.valueB64}`}</td>
              <td>
                <input
                  type="radio"
                  name="from"
                  checked={pair?.[0] === v.modRevision}
                  onChange={() => setPair([v.modRevision, pair?.[1] ?? cur.modRevision])}
                />
              </td>
              <td>
                <input
                  type="radio"
                  name="to"
                  checked={pair?.[1] === v.modRevision}
                  onChange={() => setPair([pair?.[0] ?? v.modRevision, v.modRevision])}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted">
        {detail.end === 'created' && older.length === 0 && 'Every version since the key was created.'}
        {detail.end === 'compacted' && 'Older revisions were compacted away.'}
      </p>
      {(detail.end === 'page' || older.length > 0) && (
        <button type="button" onClick={() => void more()}>
          Older versions
        </button>
      )}
      {a && b && (
        <div class="diff" id="key-diff">
          <h4>
            Diff: revision {a.modRevision} → {b.modRevision}
          </h4>
          {lines === undefined ? (
            <p class="muted">Too large to diff here.</p>
          ) : (
            <pre>
              {lines.map((l, i) => (
                <div key={i} class={`d d${l.op === ' ' ? 'k' : l.op === '+' ? 'a' : 'r'}`}>
                  {l.op} {l.text}
                </div>
              ))}
            </pre>
          )}
        </div>
      )}
    </div>
  );
}

function KeyWrites({ keyB64, value }: { keyB64: string; value: string }) {
  const [text, setText] = useState(value);
  const [msg, setMsg] = useState('');
  return (
    <form
      class="inline"
      onSubmit={(ev) => {
        ev.preventDefault();
        postJson<{ revision: string }>('api/put', { keyB64, value: text })
          .then((r) => setMsg(`written at revision ${r.revision}`))
          .catch((e: Error) => setMsg(e.message));
      }}
    >
      <input value={text} onInput={(e) => setText(e.currentTarget.value)} />
      <button type="submit">Put</button>
      <button
        type="button"
        class="danger"
        onClick={() =>
          postJson<{ deleted: string }>('api/delete', { keyB64 })
            .then((r) => setMsg(`deleted ${r.deleted}`))
            .catch((e: Error) => setMsg(e.message))
        }
      >
        Delete
      </button>
      <span class="muted">{msg}</span>
    </form>
  );
}
