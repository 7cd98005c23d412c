/**
 * The dashboard's state pushes: on change, at most every `throttleMs`, and spaced further when a
 * push costs more (many buffers, much memory in use) so that building and sending them takes at
 * most PUSH_SHARE of smafd's time (never more than MAX_PUSH_GAP_MS apart). A viewer that does not read gets no more updates (it gets the
 * latest state once it catches up) and is closed if it stays behind.
 */
import type { WSContext } from 'hono/ws';
import type { WebSocket } from 'ws';
import type { EventLog } from '../platform/index.ts';
import { SLOW_VIEWER_BYTES, SLOW_VIEWER_MS } from './limits.ts';

/** Most of smafd's time the state pushes may take. */
export const PUSH_SHARE = 0.05;
/** Longest wait between a change and its push, however much a push costs. */
export const MAX_PUSH_GAP_MS = 2000;

export interface PushOptions {
  readonly throttleMs?: number;
  readonly slowViewerBytes?: number;
  readonly slowViewerMs?: number;
}

/** Pushes `payload()` to the viewers when `events` change; `tick` runs before each push. */
export class StatePusher {
  private readonly sockets = new Set<WSContext>();
  private readonly behindSince = new Map<WSContext, number>();
  private timer: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private pushCostMs = 0;
  private readonly unsubscribe: () => void;

  constructor(events: EventLog, private readonly payload: () => string, private readonly tick: () => void, private readonly o: PushOptions = {}) {
    this.unsubscribe = events.subscribe(() => {
      this.timer ??= setTimeout(() => this.push(), Math.min(MAX_PUSH_GAP_MS, Math.max(o.throttleMs ?? 100, this.pushCostMs / PUSH_SHARE)));
    });
  }

  add(ws: WSContext): void {
    this.sockets.add(ws);
    ws.send(this.payload());
  }

  remove(ws: WSContext): void {
    this.sockets.delete(ws);
    this.behindSince.delete(ws);
  }

  get viewers(): number {
    return this.sockets.size;
  }

  /** Stop listening and close every viewer. */
  close(): void {
    this.unsubscribe();
    if (this.timer) clearTimeout(this.timer);
    if (this.retry) clearTimeout(this.retry);
    for (const ws of this.sockets) ws.close();
  }

  private push(): void {
    this.timer = null;
    this.tick();
    if (this.sockets.size === 0) return;
    const t0 = performance.now();
    try {
      let text: string | null = null;
      const now = Date.now();
      for (const ws of this.sockets) if (!this.behind(ws, now)) ws.send((text ??= this.payload()));
    } finally {
      this.pushCostMs = performance.now() - t0;
    }
  }

  /** true when the viewer is too far behind for this push (and closed when it stays so). */
  private behind(ws: WSContext, now: number): boolean {
    const raw = ws.raw as WebSocket | undefined;
    if (!raw || raw.bufferedAmount <= (this.o.slowViewerBytes ?? SLOW_VIEWER_BYTES)) {
      this.behindSince.delete(ws);
      return false;
    }
    const since = this.behindSince.get(ws) ?? now;
    this.behindSince.set(ws, since);
    if (now - since > (this.o.slowViewerMs ?? SLOW_VIEWER_MS)) {
      raw.terminate(); // a close frame would only queue behind what it did not read
      this.remove(ws);
    }
    this.retry ??= setTimeout(() => {
      this.retry = null;
      this.push();
    }, 1000); // try again when it may have caught up
    return true;
  }
}
