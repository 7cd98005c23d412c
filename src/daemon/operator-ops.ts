/** X_TRACE: the journal a scope sees, as a Chrome trace; the trace file (docs/trace.md) with smafd's recording. */
import { traceFileText } from '../uapi/index.ts';
import type { Scope } from './scope.ts';
import { buildChromeTrace, type ChromeTrace } from './trace.ts';

export function traceOf(scope: Scope, sinceMs = 0): ChromeTrace {
  const shared = scope.shared();
  const originUs = scope.recordingOrigin();
  return buildChromeTrace({
    events: scope.journal(sinceMs),
    regions: shared.regions.map((r) => ({ name: r.name, inUse: r.inUse })),
    platform: shared.platform.name,
    nowUs: scope.nowUs(),
    ...(originUs !== null ? { originUs } : {}),
  });
}

/** The trace file: the journal's trace with the whole recording (the dashboard's download; the operator's scope, EPERM in another). */
export function traceFileOf(scope: Scope): string {
  const page = scope.recording(0, Number.MAX_SAFE_INTEGER);
  return traceFileText(traceOf(scope), page.header, page.records);
}
