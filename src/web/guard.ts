/**
 * Who may look at the dashboard. It shows every client's buffers, so it answers only:
 *  - requests whose Host is the dashboard's own (loopback names or the configured host, with its
 *    port): a DNS-rebinding page reaches us under its own host name and is refused (403);
 *  - requests with no Origin, or the dashboard's own Origin: another web page the user visits may
 *    make the browser talk to localhost, but it cannot hide where it comes from (403);
 *  - requests that carry the access token printed at start-up (as Jupyter does): in the URL once
 *    (`/?token=...`, then a strict same-site, HttpOnly cookie and a redirect that drops it from the
 *    address bar), in that cookie, or as `Authorization: Bearer ...` for scripts. None: 401; a wrong
 *    one: 403.
 * The comparison of tokens takes the same time whatever the guess.
 */
import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';

const TOKEN_COOKIE = 'smaf_dashboard_token';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

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

export function dashboardGuard(o: GuardOptions): MiddlewareHandler {
  return async (c, next) => {
    const hosts = allowedHosts(o);
    const host = c.req.header('host') ?? '';
    if (!hosts.has(host)) return c.text(`403: Host "${host}" is not this dashboard (${[...hosts].join(', ')})`, 403);
    const origin = c.req.header('origin');
    if (origin !== undefined && ![...hosts].some((h) => origin === `http://${h}`)) return c.text(`403: requests from ${origin} are not allowed`, 403);

    const fromQuery = c.req.query('token');
    const bearer = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1];
    const presented = fromQuery ?? bearer ?? getCookie(c, TOKEN_COOKIE);
    if (presented === undefined) return c.text('401: this dashboard needs the access token smafd printed at start-up (open the URL it printed)', 401);
    if (!same(presented, o.token)) return c.text('403: wrong dashboard token', 403);
    if (fromQuery !== undefined) {
      setCookie(c, TOKEN_COOKIE, o.token, { httpOnly: true, sameSite: 'Strict', path: '/' });
      if (c.req.method === 'GET' && c.req.path === '/') return c.redirect('/', 303);
    }
    await next();
  };
}
