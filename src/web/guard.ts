/**
 * Who may look at the dashboard. It shows every client's buffers, so it answers only:
 *  - requests whose Host is the dashboard's own (loopback names or the configured host, with its
 *    port): a DNS-rebinding page reaches us under its own host name and is refused (403);
 *  - requests with no Origin, or the dashboard's own Origin: another web page the user visits may
 *    make the browser talk to localhost, but it cannot hide where it comes from (403);
 *  - requests that carry the access token printed at start-up: as `Authorization: Bearer ...`
 *    (the page's fetches, scripts, Prometheus), or, for a WebSocket upgrade (a browser cannot set
 *    its headers), as the subprotocol `smaf-token.TOKEN` beside `smaf-dashboard`. None: 401; a wrong
 *    one: 403.
 * Never a cookie: cookies ignore ports, so a cookie set by 127.0.0.1:7070 is sent to every other
 * server on 127.0.0.1, which could replay it. The page itself (`/` and `/app.js`, which hold no
 * data) loads without the token; it reads the token from the URL's fragment (`/#token=...`, never
 * sent to any server), keeps it in the tab's sessionStorage and removes it from the address bar. A
 * `/?token=...` URL is answered with a redirect to the fragment form, nothing stored.
 * The comparison of tokens takes the same time whatever the guess.
 */
import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';

/** The subprotocol a dashboard page asks for; the token travels as a second one, `smaf-token.TOKEN`. */
export const WS_PROTOCOL = 'smaf-dashboard';
const WS_TOKEN_PREFIX = 'smaf-token.';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** What loads without the token: the HTML shell and the script bundle (no daemon data in either). */
const PUBLIC_PATHS = new Set(['/', '/app.js']);

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface GuardOptions {
  readonly token: string;
  /** The host the dashboard listens on, and the port (known once listening). */
  readonly host: string;
  readonly port: () => number;
}

/** The `host:port` forms a request to this dashboard may name. */
function allowedHosts(o: GuardOptions): Set<string> {
  const port = o.port();
  const names = new Set([...LOOPBACK, o.host.includes(':') && !o.host.startsWith('[') ? `[${o.host}]` : o.host]);
  return new Set([...names].map((n) => `${n}:${port}`));
}

/** The token a request presents: its bearer header, or its WebSocket subprotocol. */
function presentedToken(header: (name: string) => string | undefined): string | undefined {
  const bearer = /^Bearer (.+)$/.exec(header('authorization') ?? '')?.[1];
  if (bearer !== undefined) return bearer;
  const protocols = (header('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
  return protocols.find((p) => p.startsWith(WS_TOKEN_PREFIX))?.slice(WS_TOKEN_PREFIX.length);
}

const NEEDS_TOKEN = '401: this dashboard needs the access token smafd printed at start-up: open the URL it printed (http://HOST:PORT/#token=...), or send "Authorization: Bearer TOKEN" from a script';

export function dashboardGuard(o: GuardOptions): MiddlewareHandler {
  return async (c, next) => {
    const hosts = allowedHosts(o);
    const host = c.req.header('host') ?? '';
    if (!hosts.has(host)) return c.text(`403: Host "${host}" is not this dashboard (${[...hosts].join(', ')})`, 403);
    const origin = c.req.header('origin');
    if (origin !== undefined && ![...hosts].some((h) => origin === `http://${h}`)) return c.text(`403: requests from ${origin} are not allowed`, 403);
    c.header('referrer-policy', 'no-referrer');

    const fromQuery = c.req.query('token');
    if (fromQuery !== undefined) {
      // the old form of the printed URL: the page takes the token from the fragment instead
      if (c.req.path !== '/' || c.req.method !== 'GET') return c.text('401: a token in the query string is not accepted here: send "Authorization: Bearer TOKEN"', 401);
      if (!same(fromQuery, o.token)) return c.text('403: wrong dashboard token', 403);
      return c.redirect(`/#token=${encodeURIComponent(o.token)}`, 303);
    }
    if (PUBLIC_PATHS.has(c.req.path) && (c.req.method === 'GET' || c.req.method === 'HEAD')) return next();
    const presented = presentedToken((name) => c.req.header(name));
    if (presented === undefined) return c.text(NEEDS_TOKEN, 401);
    if (!same(presented, o.token)) return c.text('403: wrong dashboard token', 403);
    await next();
  };
}
