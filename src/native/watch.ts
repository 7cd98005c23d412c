/**
 * The process's one inotify instance (the addon has one), shared by every user in the process:
 * each watch has its own handler. smafd has one BufferFiles; tests build many.
 */
import type { SmafAddon } from './addon.ts';

export interface FileWatcher {
  /** Watch a file (by smafd's descriptor of it): `onEvent(mask)` for each of its events. */
  watch(fd: number, onEvent: (mask: number) => void): number;
  unwatch(wd: number): void;
  /** Called when the kernel dropped events (the queue overflowed): counts may be wrong. */
  onOverflow(handler: () => void): void;
  /** Handle the events the kernel has queued by now, at once (not at the loop's next poll). */
  drain(): void;
}

const IN_Q_OVERFLOW = 0x4000;
const watchers = new WeakMap<SmafAddon, FileWatcher>();

export function fileWatcher(addon: SmafAddon): FileWatcher {
  let w = watchers.get(addon);
  if (w) return w;
  const handlers = new Map<number, (mask: number) => void>();
  const overflow: (() => void)[] = [];
  const dispatch = (events: Int32Array): void => {
    for (let i = 0; i + 1 < events.length; i += 2) {
      const mask = events[i + 1]!;
      if (mask & IN_Q_OVERFLOW) for (const h of overflow) h();
      else handlers.get(events[i]!)?.(mask);
    }
  };
  addon.watchStart(dispatch);
  w = {
    watch(fd, onEvent) {
      const wd = addon.watch(fd);
      handlers.set(wd, onEvent);
      return wd;
    },
    unwatch(wd) {
      handlers.delete(wd);
      addon.unwatch(wd);
    },
    onOverflow(handler) {
      overflow.push(handler);
    },
    drain() {
      dispatch(addon.watchDrain());
    },
  };
  watchers.set(addon, w);
  return w;
}
