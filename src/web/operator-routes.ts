/**
 * The operator's routes of the dashboard, mounted by server.ts: the journal as a stream of events
 * over `/ws/events` (a backlog, then only new events, batched: never whole snapshots), paged
 * `/api/events`, the trace download `/api/trace.json`, and Prometheus `/metrics`.
 */
import { upgradeWebSocket } from '@hono/node-server';
import type { Hono } from 'hono';
import type { WSContext } from 'hono/ws';
import { SmafError } from '../common/errors.ts';
import type { DaemonContext } from '../daemon/context.ts';
import type { JournalEvent } from '../daemon/journal.ts';
import { traceFileOf } from '../daemon/operator-ops.ts';
import { operatorScope } from '../daemon/scope.ts';
import { EVENT_KINDS, isEventKind, X_EVENTS_MAX_LIMIT, type EventQuery } from '../uapi/index.ts';
import type { WebSocket } from 'ws';
import { SLOW_VIEWER_BYTES } from './limits.ts';
import { createMetrics } from './metrics.ts';

/** Events a new viewer receives at once (its window then slides as new ones come). */
const EVENT_BACKLOG = 2000;

export interface OperatorRoutes {
  close(): void;
}

function intParam(v: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new SmafError('EINVAL', `${name}: "${v}" is not a whole number within ${min}..${max}`);
  return n;
}

export function mountOperatorRoutes(app: Hono, ctx: DaemonContext, options: { batchMs?: number } = {}): OperatorRoutes {
  const metrics = createMetrics(ctx);
  const stream = mountEventStream(app, ctx, options.batchMs ?? 50);

  app.get('/api/events', (c) => {
    try {
      return c.json(ctx.journal.query(eventQueryOf((name) => c.req.query(name))));
    } catch (e) {
      return c.json({ error: (e as Error).message }, 400);
    }
  });

  app.get('/api/trace.json', (c) => {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return c.body(traceFileOf(operatorScope(ctx)), 200, {
      'content-type': 'application/json',
      'content-disposition': `attachment; filename="smaf-trace-${stamp}.json"`,
    });
  });

  app.get('/metrics', async (c) => c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));

  return {
    close: () => {
      stream.close();
      metrics.close();
    },
  };
}

/** The events of a batch a viewer's backlog did not already hold (none: nothing is sent). */
function sendNewer(ws: WSContext, batch: readonly JournalEvent[], seen: number, now: number): void {
  const newer = batch.filter((e) => e.seq > seen);
  if (newer.length > 0) ws.send(JSON.stringify({ type: 'events', events: newer, now }));
}

/** `/ws/events`: a backlog on open, then the new events in batches every `batchMs`. */
function mountEventStream(app: Hono, ctx: DaemonContext, batchMs: number): OperatorRoutes {
  // each viewer with the sequence number of the last event its backlog held: a viewer that opens
  // while a batch is gathering already has those events, and must not get them twice
  const viewers = new Map<WSContext, number>();
  let batch: JournalEvent[] = [];
  let timer: NodeJS.Timeout | null = null;
  const flush = (): void => {
    timer = null;
    const now = Date.now();
    const text = JSON.stringify({ type: 'events', events: batch, now });
    for (const [ws, seen] of viewers) {
      // events cannot be skipped like state snapshots: a viewer this far behind is dropped (it
      // reconnects and gets the backlog), so nobody can make smafd queue events without bound
      const raw = ws.raw as WebSocket | undefined;
      if (raw && raw.bufferedAmount > SLOW_VIEWER_BYTES) {
        raw.terminate();
        viewers.delete(ws);
        continue;
      }
      if (seen < (batch[0]?.seq ?? 0)) ws.send(text);
      else sendNewer(ws, batch, seen, now);
      viewers.set(ws, 0);
    }
    batch = [];
  };
  const unsubscribe = ctx.journal.subscribe((e) => {
    if (viewers.size === 0) return;
    batch.push(e);
    timer ??= setTimeout(flush, batchMs);
  });

  app.get(
    '/ws/events',
    upgradeWebSocket(() => ({
      onOpen: (_e, ws) => {
        const backlog = ctx.journal.all().slice(-EVENT_BACKLOG);
        viewers.set(ws, backlog.at(-1)?.seq ?? 0);
        ws.send(JSON.stringify({ type: 'backlog', events: backlog, now: Date.now() }));
      },
      onClose: (_e, ws) => void viewers.delete(ws),
    })),
  );

  return {
    close: () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
      for (const ws of viewers.keys()) ws.close();
    },
  };
}

/** `/api/events`'s query string as a journal query; SmafError EINVAL on a bad parameter. */
function eventQueryOf(query: (name: string) => string | undefined): EventQuery {
  const kinds = (query('kind') ?? '').split(',').filter(Boolean);
  const bad = kinds.filter((k) => !isEventKind(k));
  if (bad.length) throw new SmafError('EINVAL', `kind: unknown ${bad.join(', ')} (valid: ${EVENT_KINDS.join(', ')})`);
  return {
    kinds: kinds.filter(isEventKind),
    after: intParam(query('after'), 'after', 0, Number.MAX_SAFE_INTEGER, 0),
    since: intParam(query('since'), 'since', 0, Number.MAX_SAFE_INTEGER, 0),
    limit: intParam(query('limit'), 'limit', 1, X_EVENTS_MAX_LIMIT, 100),
    client: intParam(query('client'), 'client', 0, 2 ** 32 - 1, 0),
    buffer: intParam(query('buffer'), 'buffer', 0, 2 ** 32 - 1, 0),
    newest: query('newest') === '1',
  };
}
