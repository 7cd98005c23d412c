/**
 * The dashboard: a read-only web view of smafd, served by Hono on localhost. The page (Preact +
 * htm, bundled by esbuild at start, no CDN) receives the daemon's state over a WebSocket whenever
 * it changes; `GET /api/state` serves the same JSON for scripts. Nothing here changes allocator state.
 */
import { fileURLToPath } from 'node:url';
import { serve, upgradeWebSocket, type ServerType } from '@hono/node-server';
import { build } from 'esbuild';
import { Hono } from 'hono';
import { WebSocketServer } from 'ws';
import { randomBytes } from 'node:crypto';
import { dashboardGuard, WS_PROTOCOL } from './guard.ts';
import { explain } from '../core/index.ts';
import type { DaemonContext } from '../daemon/context.ts';
import { StatsHistory } from './history.ts';
import { mountOperatorRoutes } from './operator-routes.ts';
import { INDEX_HTML } from './page.ts';
import { WS_MAX_PAYLOAD } from './limits.ts';
import { StatePusher } from './state-push.ts';
import { snapshot } from '../daemon/state.ts';
import { operatorScope } from '../daemon/scope.ts';

export interface Dashboard {
  /** The address to open, access token included (in the fragment: `http://127.0.0.1:7070/#token=...`). */
  readonly url: string;
  readonly token: string;
  /** WebSocket viewers connected now. */
  readonly viewers: () => number;
  close(): Promise<void>;
}

export interface DashboardOptions {
  readonly context: DaemonContext;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Minimum milliseconds between two pushes to the browsers. */
  readonly throttleMs?: number;
  /** The access token (default: 24 random bytes). */
  readonly token?: string;
  /** Slow-viewer thresholds (tests make them small). */
  readonly slowViewerBytes?: number;
  readonly slowViewerMs?: number;
  /** Milliseconds the event stream gathers events before sending them (default 50). */
  readonly eventBatchMs?: number;
}

let bundle: Promise<string> | null = null;

/** The browser code, bundled once per process (Preact + htm + the app). */
function dashboardBundle(): Promise<string> {
  bundle ??= build({
    entryPoints: [fileURLToPath(new URL('./client/app.js', import.meta.url))],
    bundle: true,
    format: 'esm',
    minify: true,
    write: false,
    target: 'es2022',
    logLevel: 'silent',
  }).then((r) => r.outputFiles[0]!.text);
  return bundle;
}

/** Pages of the buffers table (the state pushes carry the first) and a buffer's explanation. */
function mountStateRoutes(app: Hono, ctx: DaemonContext): void {
  app.get('/api/buffers', (c) => {
    const offset = Number(c.req.query('offset') ?? 0);
    if (!Number.isSafeInteger(offset) || offset < 0) return c.json({ error: `bad offset ${c.req.query('offset')}: a whole number >= 0` }, 400);
    const s = snapshot(operatorScope(ctx), { offset });
    return c.json({ buffers: s.buffers, buffersTotal: s.buffersTotal, offset: s.offset });
  });
  app.get('/api/explain/:id', (c) => {
    const id = Number(c.req.param('id'));
    const buf = ctx.smaf.find(id);
    return buf ? c.json(explain(buf)) : c.json({ error: `no live buffer ${c.req.param('id')}` }, 404);
  });
}

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const ctx = o.context;
  const history = new StatsHistory(ctx.smaf);
  history.sample();
  const payload = (): string => {
    const scope = operatorScope(ctx);
    return JSON.stringify({ ...snapshot(scope), deviceViews: scope.devices(), history: history.list() });
  };
  const pusher = new StatePusher(ctx.platform.events, payload, () => history.sample(), o);
  const js = await dashboardBundle();

  const token = o.token ?? randomBytes(24).toString('base64url');
  const host = o.host ?? '127.0.0.1';
  let port = 0;
  const app = new Hono();
  app.use('*', dashboardGuard({ token, host, port: () => port }));
  app.get('/', (c) => c.html(INDEX_HTML));
  app.get('/app.js', (c) => c.body(js, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }));
  app.get('/api/state', (c) => c.body(payload(), 200, { 'content-type': 'application/json' }));
  // answers 204 to the token holder (the guard answers everyone else): how the page knows its token is right
  app.get('/api/access', (c) => c.body(null, 204));
  mountStateRoutes(app, ctx);
  app.get(
    '/ws',
    upgradeWebSocket(() => ({
      onOpen: (_e, ws) => pusher.add(ws),
      onClose: (_e, ws) => pusher.remove(ws),
    })),
  );
  const operator = mountOperatorRoutes(app, ctx, { batchMs: o.eventBatchMs ?? 50 });
  app.all('*', (c) => c.text('the dashboard is read-only', c.req.method === 'GET' ? 404 : 405));

  const ticker = setInterval(() => history.sample(), 1000);
  ticker.unref();

  // a page's WebSocket offers the dashboard's subprotocol and its token as a second one: the
  // answer names only the first, so the token is never echoed
  const wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD, handleProtocols: (offered) => (offered.has(WS_PROTOCOL) ? WS_PROTOCOL : false) });
  let server: ServerType | null = null;
  port = await new Promise<number>((resolve, reject) => {
    server = serve({ fetch: app.fetch, hostname: host, port: o.port ?? 0, websocket: { server: wss } }, (info) => resolve(info.port));
    server.once('error', reject);
  });
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/#token=${token}`,
    token,
    viewers: () => pusher.viewers,
    close: async () => {
      pusher.close();
      operator.close();
      clearInterval(ticker);
      wss.close();
      const s = server as ServerType | null;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
