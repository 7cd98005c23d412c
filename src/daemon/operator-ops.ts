/** The operator's extension ops: X_EVENTS (the journal, filtered and paged), X_TRACE, and the trace file. */
import { traceFileText, type EventPage, type EventQuery, type JournalEvent } from '../uapi/index.ts';
import type { DaemonContext } from './context.ts';
import { buildChromeTrace, type ChromeTrace } from './trace.ts';

export function traceOf(ctx: DaemonContext, sinceMs = 0): ChromeTrace {
  const events = ctx.journal.all().filter((e) => sinceMs === 0 || e.time >= sinceMs);
  return buildChromeTrace({
    events,
    regions: ctx.platform.regionStats().map((r) => ({ name: r.name, inUse: r.inUse })),
    platform: ctx.platform.name,
    nowUs: ctx.journal.nowUs(),
    ...(ctx.recorder.size > 0 ? { originUs: ctx.recorder.originUs } : {}),
  });
}

/**
 * X_EVENTS: one page of the journal. `visible`: for a client that is not the operator, which
 * buffers' events it may see (those it holds); events of no buffer are the operator's.
 */
export function eventsPage(ctx: DaemonContext, query: EventQuery, visible: ((bufferId: number) => boolean) | null = null): EventPage<JournalEvent> {
  return ctx.journal.query(query, visible ? (e) => e.buffer !== undefined && visible(e.buffer) : undefined);
}

/** The trace file (docs/trace.md): the journal's trace with the whole recording, for the dashboard's download. */
export function traceFileOf(ctx: DaemonContext): string {
  const page = ctx.recorder.page(0, ctx.recorder.size);
  return traceFileText(traceOf(ctx), page.header, page.records);
}
