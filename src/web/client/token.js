// The dashboard's access token, in the browser. smafd prints http://HOST:PORT/#token=...: the
// fragment never leaves the browser. This module reads it once, keeps it in this tab's
// sessionStorage (per origin: no other port sees it), removes it from the address bar, and sends
// it with every request: as an Authorization header on fetches and as a WebSocket subprotocol.
// Never as a cookie: a cookie of 127.0.0.1 goes to every server on 127.0.0.1, whatever its port.
import { useEffect, useState } from 'preact/hooks';

const KEY = 'smaf-dashboard-token';
const WS_PROTOCOL = 'smaf-dashboard';

function takeToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const fromUrl = params.get('token');
  if (fromUrl) {
    sessionStorage.setItem(KEY, fromUrl);
    params.delete('token');
    const rest = params.toString();
    history.replaceState(history.state, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
  }
  return sessionStorage.getItem(KEY);
}

const token = takeToken();

/** fetch() with the token. */
export function authFetch(url, init = {}) {
  return fetch(url, { ...init, headers: { ...init.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
}

/** A WebSocket to `path` of this dashboard, the token in its handshake. */
export function openSocket(path) {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
  return new WebSocket(url, token ? [WS_PROTOCOL, `smaf-token.${token}`] : [WS_PROTOCOL]);
}

/** Download `url` (an attachment the server names) with the token: a plain link could not carry it. */
export async function download(url) {
  const r = await authFetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  const name = /filename="([^"]+)"/.exec(r.headers.get('content-disposition') ?? '')?.[1] ?? url.split('/').at(-1);
  const a = document.createElement('a');
  a.href = URL.createObjectURL(await r.blob());
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** 'ok', 'checking', 'missing' (no token: the URL was opened without it) or 'wrong' (refused). */
export function useAccess() {
  const [access, setAccess] = useState(token ? 'checking' : 'missing');
  useEffect(() => {
    if (!token) return;
    authFetch('/api/access').then((r) => setAccess(r.ok ? 'ok' : r.status === 403 ? 'wrong' : 'missing')).catch(() => setAccess('ok'));
  }, []);
  return access;
}
