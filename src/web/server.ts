/**
 * The dashboard: a read-only web view of smafd, served by Hono on localhost. The page (Preact +
 * htm, bundled by esbuild at start, no CDN) receives the daemon's state over a WebSocket whenever
 * it changes; `GET /api/state` serves the same JSON for scripts. Nothing here changes allocator state.
 */
import { fileURLToPath } from 'node:url';
import { serve, upgradeWebSocket, type ServerType } from '@hono/node-server';
import { build } from 'esbuild';
import { Hono } from 'hono';
import type { WSContext } from 'hono/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { randomBytes } from 'node:crypto';
import { dashboardGuard } from './guard.ts';
import { explain } from '../core/index.ts';
import type { DaemonContext } from '../daemon/context.ts';
import { StatsHistory } from './history.ts';
import { mountOperatorRoutes } from './operator-routes.ts';
import { INDEX_HTML } from './page.ts';

export interface Dashboard {
  /** The address to open, access token included. */
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
}

export { SLOW_VIEWER_BYTES, SLOW_VIEWER_MS, WS_MAX_PAYLOAD } from './limits.ts';
import { SLOW_VIEWER_BYTES, SLOW_VIEWER_MS, WS_MAX_PAYLOAD } from './limits.ts';

/** Most of smafd's time the state pushes may take (they are spaced out when they cost more). */
export const PUSH_SHARE = 0.05;

let bundle: Promise<string> | null = null;

/** The browser code, bundled once per process (Preact + htm + the app). */
export function dashboardBundle(): Promise<string> {
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

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const ctx = o.context;
  const history = new StatsHistory(ctx.smaf);
  history.sample();
  const sockets = new Set<WSContext>();
  const payload = (): string => JSON.stringify({ ...ctx.state(), history: history.list() });
  const js = await dashboardBundle();

  const token = o.token ?? randomBytes(24).toString('base64url');
  const host = o.host ?? '127.0.0.1';
  let port = 0;
  const app = new Hono();
  app.use('*', dashboardGuard({ token, host, port: () => port }));
  app.get('/', (c) => c.html(INDEX_HTML));
  app.get('/app.js', (c) => c.body(js, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }));
  app.get('/api/state', (c) => c.body(payload(), 200, { 'content-type': 'application/json' }));
  // another page of the buffers table (the state pushes carry the first)
  app.get('/api/buffers', (c) => {
    const offset = Number(c.req.query('offset') ?? 0);
    if (!Number.isSafeInteger(offset) || offset < 0) return c.json({ error: `bad offset ${c.req.query('offset')}: a whole number >= 0` }, 400);
    const s = ctx.state({ offset });
    return c.json({ buffers: s.buffers, buffersTotal: s.buffersTotal, offset: s.offset });
  });
  app.get('/api/explain/:id', (c) => {
    const id = Number(c.req.param('id'));
    const buf = ctx.smaf.find(id);
    return buf ? c.json(explain(buf)) : c.json({ error: `no live buffer ${c.req.param('id')}` }, 404);
  });
  app.get(
    '/ws',
    upgradeWebSocket(() => ({
      onOpen: (_e, ws) => {
        sockets.add(ws);
        ws.send(payload());
      },
      onClose: (_e, ws) => {
        sockets.delete(ws);
        behindSince.delete(ws);
      },
    })),
  );
  const operator = mountOperatorRoutes(app, ctx);
  app.all('*', (c) => c.text('the dashboard is read-only', c.req.method === 'GET' ? 404 : 405));

  // push on change, at most every throttleMs; a viewer that does not read gets no more updates
  // (it will get the latest state once it catches up), and is closed if it stays behind
  let timer: NodeJS.Timeout | null = null;
  let retry: NodeJS.Timeout | null = null;
  const behindSince = new Map<WSContext, number>();
  // the state costs more with more buffers and memory in use: pushes are spaced so that building
  // and sending them takes at most PUSH_SHARE of smafd's time, whatever the size
  let pushCostMs = 0;
  const push = (): void => {
    timer = null;
    history.sample();
    if (sockets.size === 0) return;
    const t0 = performance.now();
    try {
      send();
    } finally {
      pushCostMs = performance.now() - t0;
    }
  };
  const send = (): void => {
    let text: string | null = null;
    const now = Date.now();
    for (const ws of sockets) {
      const raw = ws.raw as WebSocket | undefined;
      if (raw && raw.bufferedAmount > (o.slowViewerBytes ?? SLOW_VIEWER_BYTES)) {
        const since = behindSince.get(ws) ?? now;
        behindSince.set(ws, since);
        if (now - since > (o.slowViewerMs ?? SLOW_VIEWER_MS)) {
          raw.terminate(); // a close frame would only queue behind what it did not read
          sockets.delete(ws);
          behindSince.delete(ws);
        }
        retry ??= setTimeout(() => {
          retry = null;
          push();
        }, 1000); // try again when it may have caught up
        continue;
      }
      behindSince.delete(ws);
      ws.send((text ??= payload()));
    }
  };
  const unsubscribe = ctx.platform.events.subscribe(() => {
    timer ??= setTimeout(push, Math.max(o.throttleMs ?? 100, pushCostMs / PUSH_SHARE));
  });
  const ticker = setInterval(() => history.sample(), 1000);
  ticker.unref();

  const wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD });
  let server: ServerType | null = null;
  port = await new Promise<number>((resolve, reject) => {
    server = serve({ fetch: app.fetch, hostname: host, port: o.port ?? 0, websocket: { server: wss } }, (info) => resolve(info.port));
    server.once('error', reject);
  });
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/?token=${token}`,
    token,
    viewers: () => sockets.size,
    close: async () => {
      unsubscribe();
      operator.close();
      clearInterval(ticker);
      if (timer) clearTimeout(timer);
      if (retry) clearTimeout(retry);
      for (const ws of sockets) ws.close();
      wss.close();
      const s = server as ServerType | null;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
