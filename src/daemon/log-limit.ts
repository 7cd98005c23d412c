/**
 * smafd's warnings, rate-limited per cause: a client that repeats what makes smafd warn (a malformed
 * frame, a connection past a budget, a bug it can trigger) cannot flood the log. Each cause is
 * logged at most `perWindow` times in a window of `windowMs`; past that its warnings are counted,
 * and when the window ends one line says how many were suppressed ("malformed frame: closing this
 * connection: suppressed 1234 similar warnings in 10 s").
 */
import type { Logger } from 'pino';

/** Warnings of one cause logged per window; the rest are counted. */
const WARNINGS_PER_WINDOW = 10;
const WARNING_WINDOW_MS = 10_000;

interface Window {
  readonly start: number;
  logged: number;
  suppressed: number;
  level: 'warn' | 'error';
  timer: ReturnType<typeof setTimeout> | null;
}

export class RateLimitedLog {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly log: Logger,
    private readonly perWindow = WARNINGS_PER_WINDOW,
    private readonly windowMs = WARNING_WINDOW_MS,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Log `cause` (the message) with its fields, unless this cause has been logged too often lately. */
  warn(cause: string, fields: Record<string, unknown>, level: 'warn' | 'error' = 'warn'): void {
    const t = this.now();
    let w = this.windows.get(cause);
    if (w && t - w.start >= this.windowMs) {
      this.close(cause, w);
      w = undefined;
    }
    if (!w) this.windows.set(cause, (w = { start: t, logged: 0, suppressed: 0, level, timer: null }));
    if (w.logged < this.perWindow) {
      w.logged++;
      this.log[level](fields, cause);
      return;
    }
    w.suppressed++;
    // the count is said when the window ends, even if the cause never comes back
    const ending = w;
    ending.timer ??= setTimeout(() => this.close(cause, ending), Math.max(0, ending.start + this.windowMs - t));
    ending.timer.unref?.();
  }

  /** End a cause's window: say what it suppressed. */
  private close(cause: string, w: Window): void {
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
    this.windows.delete(cause); // a window's timer never outlives it: it is cleared here
    if (w.suppressed > 0) {
      this.log[w.level]({ suppressed: w.suppressed }, `${cause}: suppressed ${w.suppressed} similar warning${w.suppressed === 1 ? '' : 's'} in ${this.windowMs / 1000} s`);
      w.suppressed = 0;
    }
  }

  /** Say every pending count now (at shutdown). */
  flush(): void {
    for (const [cause, w] of [...this.windows]) this.close(cause, w);
  }
}
