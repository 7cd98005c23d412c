/**
 * smafd's addon without the kernel, for tests that drive C programs' files in process: memfds,
 * open files and descriptors modelled as the kernel keeps them (a descriptor names an open file;
 * dup and SCM_RIGHTS share it; the open file is released with its last descriptor), and inotify
 * events queued as the kernel queues them (an event the same as the last one queued is merged into
 * it), delivered when the test says (`deliver`), as they arrive on smafd's loop some time after
 * the close. Sockets are not modelled.
 */
import type { SmafAddon } from '../native/addon.ts';

const IN_OPEN = 0x20;
const IN_CLOSE_WRITE = 0x8;
const IN_CLOSE_NOWRITE = 0x10;
const IN_Q_OVERFLOW = 0x4000;
const DEV = 42;
const S_IFREG = 0o100000;
const S_IFIFO = 0o010000;

interface OpenFile {
  readonly ino: number;
  readonly access: 0 | 1 | 2;
  descriptors: number;
}

/** What the native socket gives a session of one connection. */
export interface FakeConnection {
  readonly files: { takeFile(): number | null; closeFile(fd: number): void };
  /** Send a descriptor with the next request (SCM_RIGHTS: smafd gets another descriptor of the same open file, and closes it). */
  pass(fd: number): void;
}

const unsupported = (what: string) => (): never => {
  throw new Error(`the fake addon has no ${what}`);
};

export class FakeAddon implements SmafAddon {
  private readonly fds = new Map<number, OpenFile>();
  private readonly sizes = new Map<number, number>();
  private readonly stores = new Map<number, ArrayBuffer>();
  /** ino -> watch descriptor */
  private readonly watches = new Map<number, number>();
  private queue: number[] = [];
  private onEvents: ((events: Int32Array) => void) | null = null;
  private nextFd = 1000;
  private nextIno = 1;
  private nextWd = 1;
  /** Inodes that are pipes (sync files). */
  private readonly fifos = new Set<number>();

  private file(fd: number): OpenFile {
    const f = this.fds.get(fd);
    if (!f) throw new Error(`EBADF: fd ${fd} is not open`);
    return f;
  }

  /** Queue an event, merged with the last one queued when they are the same, as inotify does. */
  private event(ino: number, mask: number): void {
    const wd = this.watches.get(ino);
    if (wd === undefined) return;
    const n = this.queue.length;
    if (n >= 2 && this.queue[n - 2] === wd && this.queue[n - 1] === mask) return;
    this.queue.push(wd, mask);
  }

  private open(ino: number, access: 0 | 1 | 2): number {
    const fd = this.nextFd++;
    this.fds.set(fd, { ino, access, descriptors: 1 });
    this.event(ino, IN_OPEN);
    return fd;
  }

  memfd(_name: string, size: number): number {
    const ino = this.nextIno++;
    this.sizes.set(ino, size);
    return this.open(ino, 2);
  }

  sealWrites(): void {}

  map(fd: number, size: number): ArrayBuffer {
    const { ino } = this.file(fd);
    let store = this.stores.get(ino);
    if (!store) this.stores.set(ino, (store = new ArrayBuffer(Math.max(size, this.sizes.get(ino) ?? 0))));
    return store;
  }

  detach(): void {}
  discard(view: Uint8Array): void {
    view.fill(0);
  }

  reopen(fd: number, access: 0 | 1 | 2): number {
    return this.open(this.file(fd).ino, access);
  }

  /** A program opens another file of the memfd behind `fd` (through /proc/PID/fd): a new open file, IN_OPEN queued. */
  openAgain(fd: number, access: 0 | 1 | 2): number {
    return this.open(this.file(fd).ino, access);
  }

  close(fd: number): void {
    const f = this.file(fd);
    this.fds.delete(fd);
    if (--f.descriptors === 0) this.event(f.ino, f.access === 0 ? IN_CLOSE_NOWRITE : IN_CLOSE_WRITE);
  }

  dup(fd: number): number {
    const f = this.file(fd);
    f.descriptors++;
    const n = this.nextFd++;
    this.fds.set(n, f);
    return n;
  }

  fstat(fd: number): [number, number, number, number] {
    const { ino } = this.file(fd);
    return [DEV, ino, this.sizes.get(ino) ?? 0, (this.fifos.has(ino) ? S_IFIFO : S_IFREG) | 0o600];
  }

  /** A sync file: a pipe's read end (access 0) and write end (access 1), one inode of their own. */
  syncFile(): [number, number] {
    const ino = this.nextIno++;
    this.fifos.add(ino);
    const read = this.nextFd++;
    const write = this.nextFd++;
    this.fds.set(read, { ino, access: 0, descriptors: 1 });
    this.fds.set(write, { ino, access: 1, descriptors: 1 });
    return [read, write];
  }

  signal(): void {}

  held(fd: number): boolean {
    const { ino } = this.file(fd);
    for (const f of this.fds.values()) if (f.ino === ino && f.access === 0) return true;
    return false;
  }

  watchStart(onEvents: (events: Int32Array) => void): void {
    this.onEvents = onEvents;
  }

  watch(fd: number): number {
    const { ino } = this.file(fd);
    let wd = this.watches.get(ino);
    if (wd === undefined) this.watches.set(ino, (wd = this.nextWd++));
    return wd;
  }

  unwatch(wd: number): void {
    for (const [ino, w] of this.watches) if (w === wd) this.watches.delete(ino);
  }

  lock(): number {
    return 0;
  }

  /** Whether `fd`'s open file is the only open file of its memfd (the kernel's count behind a write lease). */
  alone(fd: number): boolean {
    const mine = this.file(fd);
    for (const f of this.fds.values()) if (f !== mine && f.ino === mine.ino) return false;
    return true;
  }

  watchDrain(): Int32Array {
    const events = Int32Array.from(this.queue);
    this.queue = [];
    return events;
  }

  /** Queued inotify events reach smafd now (in the order they were queued). */
  deliver(): void {
    if (this.queue.length === 0 || !this.onEvents) return;
    const events = Int32Array.from(this.queue);
    this.queue = [];
    this.onEvents(events);
  }

  /** The queue overflows: what was queued is lost, and one IN_Q_OVERFLOW (wd -1) takes its place. */
  overflow(): void {
    this.queue = [-1, IN_Q_OVERFLOW];
  }

  /** What the native socket gives a session of one connection. */
  connection(): FakeConnection {
    let passed: number | null = null;
    return {
      files: {
        takeFile: () => {
          const f = passed;
          passed = null;
          return f;
        },
        closeFile: (fd) => this.close(fd),
      },
      pass: (fd) => void (passed = this.dup(fd)),
    };
  }

  setDumpable(): void {}

  raiseFdLimit(): number {
    return 1 << 20;
  }

  readonly listen = unsupported('sockets');
  readonly closeListener = unsupported('sockets');
  readonly write = unsupported('sockets');
  readonly queued = unsupported('sockets');
  readonly pause = unsupported('sockets');
  readonly resume = unsupported('sockets');
  readonly destroy = unsupported('sockets');
}

export function createFakeAddon(): FakeAddon {
  return new FakeAddon();
}
