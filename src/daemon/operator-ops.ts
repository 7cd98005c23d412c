/** X_TRACE: the journal a scope sees, as a Chrome trace. */
import type { Scope } from './scope.ts';
import { buildChromeTrace, type ChromeTrace } from './trace.ts';

export function traceOf(scope: Scope, sinceMs = 0): ChromeTrace {
  const shared = scope.shared();
  return buildChromeTrace({
    events: scope.journal(sinceMs),
    regions: shared.regions.map((r) => ({ name: r.name, inUse: r.inUse })),
    platform: shared.platform.name,
    nowUs: scope.nowUs(),
  });
}
