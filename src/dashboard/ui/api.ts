/** The page's calls to the dashboard server (same origin), and byte helpers. */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiError } from '../api-types.js';

/** UTF-8 text → base64url, as the API's query parameters take keys. */
export function toB64url(text: string): string {
  return b64ToB64url(bytesToB64(new TextEncoder().encode(text)));
}

export function bytesToB64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Standard base64 (as the API answers keys) → base64url (as it takes them). */
export function b64ToB64url(b64: string): string {
  return b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** GET a JSON answer; rejects with the server's error text. */
export async function getJson<T>(path: string): Promise<T> {
  const r = await fetch(path, { headers: { accept: 'application/json' } });
  const body = (await r.json()) as T | ApiError;
  if (!r.ok) throw new Error((body as ApiError).error ?? `HTTP ${r.status}`);
  return body as T;
}

/** POST a JSON body; rejects with the server's error text. */
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const r = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await r.json()) as T | ApiError;
  if (!r.ok) throw new Error((answer as ApiError).error ?? `HTTP ${r.status}`);
  return answer as T;
}

/** Bytes as people read them: 1.2 MB (decimal units, as etcdctl's humanize). */
export function humanBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/**
 * GETs `url` now, again whenever `url` or `bump` changes, never two requests at once: a change
 * while one is in flight asks again when it ends. An answer is shown only while its URL is still the
 * current one, but a newer `bump` never discards it, so a stream of changes (a busy watch) cannot
 * starve the view of answers.
 */
export function useFetch<T>(url: string, bump: number): { data: T | undefined; error: string } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState('');
  const [again, setAgain] = useState(0);
  const current = useRef(url);
  const inflight = useRef(false);
  const dirty = useRef(false);
  current.current = url;
  useEffect(() => {
    if (inflight.current) {
      dirty.current = true;
      return;
    }
    inflight.current = true;
    const mine = url;
    getJson<T>(mine)
      .then((d) => {
        if (current.current !== mine) return;
        setData(d);
        setError('');
      })
      .catch((e: Error) => {
        if (current.current === mine) setError(e.message);
      })
      .finally(() => {
        inflight.current = false;
        if (dirty.current || current.current !== mine) {
          dirty.current = false;
          setAgain((n) => n + 1);
        }
      });
  }, [url, bump, again]);
  return { data, error };
}
