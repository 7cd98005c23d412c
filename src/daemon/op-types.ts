/**
 * What an op handler gets: the session's fd table and helpers (implemented by ClientSession), the
 * decoded request, and for ops on a buffer fd that fd's entry. The handler types are derived from
 * the op table (src/uapi/ops.ts): a handler with the wrong request or reply type does not compile.
 */
import type { Attachment, CpuMapping, SmafBuffer } from '../core/index.ts';
import type { OpName, Reply, RequestValue, RowOf } from '../uapi/index.ts';
import type { DaemonContext, SessionLike } from './context.ts';
import type { TeeClient } from './tee-client.ts';

export interface FdEntry {
  readonly fd: number;
  readonly buffer: SmafBuffer;
  readonly attachments: Map<number, Attachment>;
  readonly mappings: Map<number, CpuMapping>;
}

/** What the dispatcher answers: a result and its payload bytes. */
export interface Outcome {
  result: number;
  payload: Uint8Array;
}

/** An op's work: done at once, or sliced (a generator that yields between slices). */
export type Work<T> = T | Generator<void, T>;

export function isSliced<T extends object>(w: Work<T>): w is Generator<void, T> {
  return typeof (w as Partial<Generator<void, T>>).next === 'function';
}

export function* mapWork<T, U>(steps: Generator<void, T>, f: (v: T) => U): Generator<void, U> {
  return f(yield* steps);
}

/** The session as the handlers see it. */
export interface HandlerSession extends SessionLike {
  readonly ctx: DaemonContext;
  /** Whose data this client's DMA writes into secure memory. */
  readonly principal: string;
  /** Its TEE contexts, sessions and shared memory. */
  readonly tee: TeeClient;
  pid: number | null;
  comm: string | null;
  /** DMA_BUF_IOCTL_SYNC STARTs not yet ENDed, per dma-buf (not per fd, as in the kernel). */
  readonly cpuAccess: Map<SmafBuffer, number>;
  /** EPERM unless on the operator's admin socket. */
  operatorOnly(what: string): void;
  entry(fd: number): FdEntry;
  attachment(entry: FdEntry, id: number): Attachment;
  mapping(entry: FdEntry, id: number): CpuMapping;
  /** Put a buffer reference into the lowest free fd (`undo` drops it if that fails). */
  install(buf: SmafBuffer, undo: () => void): number;
  closeFd(entry: FdEntry): void;
  /** EPERM: the normal world never reads or writes secure bytes. */
  notSecure(buf: SmafBuffer, what: string): void;
  /** Work that writes into a buffer moves its write generation before and after. */
  bumping<T>(buf: SmafBuffer, steps: Generator<void, T>): Generator<void, T>;
  /** A buffer by id, if this client may see it. */
  visibleBuffer(id: number): SmafBuffer;
  secureBuffersMapped(): Set<SmafBuffer>;
}

/** One call of an op: the session, the fd, the decoded request; the fd's entry for buffer ops. */
export type OpCall<K extends OpName> = {
  readonly session: HandlerSession;
  readonly fd: number;
  readonly value: RequestValue<RowOf<K>>;
} & (RowOf<K>['target'] extends 'buffer' ? { readonly entry: FdEntry } : unknown);

export type OpHandler<K extends OpName> = (call: OpCall<K>) => Work<Reply<RowOf<K>>>;

/** One handler per op of the table: a missing one, or one of the wrong type, does not compile. */
export type OpHandlers = { readonly [K in OpName]: OpHandler<K> };
