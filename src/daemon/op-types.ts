/**
 * What an op handler gets: the session's fd table and helpers (implemented by ClientSession), the
 * decoded request, and for ops on a buffer fd that fd's entry. The handler types are derived from
 * the op table (src/uapi/ops.ts): a handler with the wrong request or reply type does not compile.
 */
import type { Attachment, CpuMapping, SmafBuffer } from '../core/index.ts';
import type { HandlerReply, OpName, RequestValue, RowOf } from '../uapi/index.ts';
import type { Account } from './accounts.ts';
import type { DaemonContext } from './context.ts';
import type { Scope, ScopeHolder } from './scope.ts';
import type { TeeClient } from './tee-client.ts';

const NONE: ReadonlyMap<number, never> = new Map<number, never>();

/**
 * A client's fd: its buffer, and the attachments and CPU mappings made through it. Their maps are
 * made at the first of each: most fds of a busy smafd have neither, and two empty maps per fd were
 * a third of what a live buffer cost the heap.
 */
export class FdEntry {
  /**
   * A handle: the fd of a C program's connection for a buffer whose reference its files hold (the
   * FILE op made it one). It holds no reference, cannot be closed, and goes when the buffer goes.
   */
  handle = false;
  private atts: Map<number, Attachment> | null = null;
  private maps: Map<number, CpuMapping> | null = null;

  constructor(readonly fd: number, readonly buffer: SmafBuffer) {}

  get attachments(): ReadonlyMap<number, Attachment> {
    return this.atts ?? NONE;
  }

  get mappings(): ReadonlyMap<number, CpuMapping> {
    return this.maps ?? NONE;
  }

  addAttachment(a: Attachment): void {
    (this.atts ??= new Map()).set(a.id, a);
  }

  removeAttachment(id: number): void {
    this.atts?.delete(id);
  }

  addMapping(m: CpuMapping): void {
    (this.maps ??= new Map()).set(m.id, m);
  }

  removeMapping(id: number): void {
    this.maps?.delete(id);
  }

  /** The fd is closed: what it made goes with it. */
  clear(): void {
    this.atts = null;
    this.maps = null;
  }
}

/** What the dispatcher answers: a result, its payload bytes, and a file to send with them. */
export interface Outcome {
  result: number;
  payload: Uint8Array;
  /** smafd's descriptor of a file sent with the reply (SCM_RIGHTS), closed once sent. */
  file?: number;
}

/**
 * A reply whose payload bytes are sent as they are produced, one slice at a time (READ): its result
 * and payload length are known before the first slice, so that smafd never holds a whole large
 * answer. `chunks` yields the payload in order; together they are exactly `length` bytes.
 */
export interface Streamed {
  readonly streamed: true;
  readonly result: number;
  readonly length: number;
  readonly chunks: Iterator<Uint8Array, void>;
}

/**
 * A JSON reply a sliced handler wrote itself, a piece per slice (X_STATE): the dispatcher sends its
 * bytes as they are, where it would otherwise encode the reply at once in the last slice.
 */
export interface Encoded {
  readonly encoded: true;
  readonly result: number;
  readonly payload: Uint8Array;
}

/** An op's work: done at once, sliced (a generator that yields between slices), or streamed. */
export type Work<T> = T | Generator<void, T | Encoded> | Streamed;

export function isSliced<T extends object>(w: T | Generator<void, T | Encoded> | Streamed): w is Generator<void, T | Encoded> {
  return typeof (w as Partial<Generator<void, T>>).next === 'function';
}

export function isEncoded(r: object): r is Encoded {
  return (r as Partial<Encoded>).encoded === true;
}

export function isStreamed(w: object): w is Streamed {
  return (w as Partial<Streamed>).streamed === true;
}

export function* mapWork<T, U>(steps: Generator<void, T>, f: (v: T) => U): Generator<void, U> {
  return f(yield* steps);
}

/** The session as the handlers see it. */
export interface HandlerSession extends ScopeHolder {
  readonly ctx: DaemonContext;
  /** Whose data this client's DMA writes into secure memory. */
  readonly principal: string;
  /** Its TEE contexts, sessions and shared memory. */
  readonly tee: TeeClient;
  pid: number | null;
  comm: string | null;
  /** DMA_BUF_IOCTL_SYNC STARTs not yet ENDed, per dma-buf (not per fd, as in the kernel). */
  readonly cpuAccess: Map<SmafBuffer, number>;
  /** The sync files this client asked FENCE_INFO about (their ids, the newest last): what FENCE_MERGE may name. */
  readonly fenceIds: Set<number>;
  /** What this session may see: the only way an introspection op (X_*) sees anything. */
  readonly scope: Scope;
  /** Who is charged for what it holds (the per-client limits count per account). */
  readonly account: Account;
  entry(fd: number): FdEntry;
  attachment(entry: FdEntry, id: number): Attachment;
  mapping(entry: FdEntry, id: number): CpuMapping;
  /** Put a buffer reference into the lowest free fd (`undo` drops it if that fails). */
  install(buf: SmafBuffer, undo: () => void): number;
  closeFd(entry: FdEntry): void;
  /** Work that writes into a buffer moves its write generation before and after. */
  bumping<T>(buf: SmafBuffer, steps: Generator<void, T>): Generator<void, T>;
  /** Connected on the native socket: files may travel with messages. */
  readonly native: boolean;
  /** The oldest file the client passed that no request took yet, or null. */
  takeFile(): number | null;
  /** Close a descriptor of smafd's (a file the client passed). */
  closeFile(fd: number): void;
  /** The fd's reference moves to the buffer's files: it becomes a handle. */
  toHandle(entry: FdEntry): void;
  /** This client's handle of the buffer, installed if it has none (no reference is taken). */
  handleFor(buf: SmafBuffer): number;
}

/**
 * One call of an op: the session, the fd, the decoded request; the fd's entry for buffer ops; the
 * file passed with the request for ops that take one (smafd's descriptor, closed after the call).
 */
export type OpCall<K extends OpName> = {
  readonly session: HandlerSession;
  readonly fd: number;
  readonly value: RequestValue<RowOf<K>>;
} & (RowOf<K>['target'] extends 'buffer' ? { readonly entry: FdEntry } : unknown)
  & (RowOf<K> extends { file: { in: string } } ? { readonly file: number } : unknown);

/** An introspection op (every X_* op, including any added later). */
export type IntrospectionOp = Extract<OpName, `X_${string}`>;

/**
 * One call of an introspection op: the asker's scope, the fd and the decoded request. No session and
 * no daemon context: what an X_* op shows, it can only get through the scope (scope.ts).
 */
export interface IntrospectionCall<K extends OpName> {
  readonly scope: Scope;
  readonly fd: number;
  readonly value: RequestValue<RowOf<K>>;
}

export type OpHandler<K extends OpName> = (call: K extends IntrospectionOp ? IntrospectionCall<K> : OpCall<K>) => Work<HandlerReply<RowOf<K>>>;

/** One handler per op of the table: a missing one, or one of the wrong type, does not compile. */
export type OpHandlers = { readonly [K in OpName]: OpHandler<K> };
