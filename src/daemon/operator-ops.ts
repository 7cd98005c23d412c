/** The operator's extension ops: X_EVENTS (the journal, filtered and paged) and X_TRACE. */
import type { EventPage, EventQuery, JournalEvent } from '../uapi/index.ts';
import type { DaemonContext } from './context.ts';
import { buildChromeTrace, type ChromeTrace } from './trace.ts';

export function traceOf(ctx: DaemonContext, sinceMs = 0): ChromeTrace {
  const events = ctx.journal.all().filter((e) => sinceMs === 0 || e.time >= sinceMs);
  return buildChromeTrace({
    events,
    regions: ctx.platform.regionStats().map((r) => ({ name: r.name, inUse: r.inUse })),
    platform: ctx.platform.name,
    nowUs: ctx.journal.nowUs(),
  });
}

/**
 * X_EVENTS: one page of the journal. `visible`: for a client that is not the operator, which
 * buffers' events it may see (those it holds); events of no buffer are the operator's.
 */
export function eventsPage(ctx: DaemonContext, query: EventQuery, visible: ((bufferId: number) => boolean) | null = null): EventPage<JournalEvent> {
  return ctx.journal.query(query, visible ? (e) => e.buffer !== undefined && visible(e.buffer) : undefined);
}
