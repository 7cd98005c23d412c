/** The operator's extension ops: X_EVENTS (the journal, filtered and paged) and X_TRACE. */
import { SmafError } from '../common/errors.ts';
import { decodeEventQuery, DEVICE_FD, MAX_FRAME, Op, RESPONSE_HEADER, type Request } from '../uapi/index.ts';
import type { DaemonContext } from './context.ts';
import { buildChromeTrace, type ChromeTrace } from './trace.ts';

const enc = new TextEncoder();

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
 * X_EVENTS and X_TRACE. `visible`: for a client that is not the operator, which buffers' events it
 * may see (those it holds); events of no buffer are the operator's.
 */
export function operatorOp(ctx: DaemonContext, req: Request, visible: ((bufferId: number) => boolean) | null = null): { result: number; payload: Uint8Array } {
  if (req.fd !== DEVICE_FD) throw new SmafError('EINVAL', `op ${req.op === Op.X_EVENTS ? 'X_EVENTS' : 'X_TRACE'} goes to the device (fd -1)`);
  if (req.op === Op.X_EVENTS) {
    const page = ctx.journal.query(decodeEventQuery(req.payload), visible ? (e) => e.buffer !== undefined && visible(e.buffer) : undefined);
    return { result: page.events.length, payload: enc.encode(JSON.stringify(page)) };
  }
  const since = new DataView(req.payload.buffer, req.payload.byteOffset, 8).getBigUint64(0, true);
  if (since > BigInt(Number.MAX_SAFE_INTEGER)) throw new SmafError('EINVAL', `X_TRACE: since ${since} is out of range`);
  const payload = enc.encode(JSON.stringify(traceOf(ctx, Number(since))));
  if (payload.length > MAX_FRAME - RESPONSE_HEADER) throw new SmafError('EOVERFLOW', `X_TRACE: the trace is ${payload.length} bytes, over one frame: ask for a shorter span (since)`);
  return { result: 0, payload };
}
