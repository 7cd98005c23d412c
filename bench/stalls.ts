/**
 * Stalls of a server's event loop, told apart by what filled them: a 1 ms timer notes each turn of
 * the loop, and the main thread's own scheduler counters (/proc/thread-self/schedstat: nanoseconds
 * run on a CPU, and waited runnable for one) say how much of the time between two turns the loop
 * was running, and how much it was ready but the machine gave its CPU to others. On a loaded
 * machine the second dominates wall-clock stalls; the first is the server's own doing (its units of
 * work, its garbage collections): it is the same on a quiet machine.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export interface StallReport {
  /** The longest time between two turns, wall clock (ms). */
  readonly wallMs: number;
  /** The most CPU the main thread ran between two turns (ms): the longest the server itself kept the loop. */
  readonly runMs: number;
}

/** A thread's scheduler counters (/proc/.../schedstat), read again and again from one open file. */
export class SchedStat {
  private readonly fd: number | null;
  private readonly buf = Buffer.alloc(96);

  /** `path`: /proc/thread-self/schedstat (this thread), /proc/PID/schedstat (a process's main thread). */
  constructor(path: string) {
    let fd: number | null = null;
    try {
      fd = openSync(path, 'r');
    } catch {
      // not Linux, or the process is gone: zeros
    }
    this.fd = fd;
  }

  /** [ms run on a CPU, ms waited runnable for one] since the thread started; zeros where unknown. */
  read(): [number, number] {
    if (this.fd === null) return [0, 0];
    try {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
      const [run, wait] = this.buf.toString('latin1', 0, n).split(' ');
      return [Number(run) / 1e6, Number(wait) / 1e6];
    } catch {
      return [0, 0];
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
  }
}

export class StallMonitor {
  private readonly stat = new SchedStat('/proc/thread-self/schedstat');
  private last = performance.now();
  private lastRun = 0;
  private worst = { wallMs: 0, runMs: 0 };
  private readonly timer: NodeJS.Timeout;

  /** `onStall`: every stall longer than `reportMs` (wall), as it happens. */
  constructor(reportMs = 0, onStall?: (wallMs: number, runMs: number, waitMs: number) => void) {
    let lastWait = 0;
    [this.lastRun, lastWait] = this.stat.read();
    this.timer = setInterval(() => {
      const now = performance.now();
      const [run, wait] = this.stat.read();
      const wallMs = now - this.last;
      const runMs = run - this.lastRun;
      if (wallMs > this.worst.wallMs) this.worst.wallMs = wallMs;
      if (runMs > this.worst.runMs) this.worst.runMs = runMs;
      if (reportMs > 0 && wallMs > reportMs) onStall?.(wallMs, runMs, wait - lastWait);
      [this.last, this.lastRun, lastWait] = [now, run, wait];
    }, 1);
    this.timer.unref();
  }

  /** The worst stall since the last call (or the start), and a fresh start. */
  take(): StallReport {
    const w = this.worst;
    this.worst = { wallMs: 0, runMs: 0 };
    return w;
  }
}
