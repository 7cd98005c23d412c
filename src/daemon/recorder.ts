/**
 * The recording of every operation of every client (src/uapi/recording.ts says what a record
 * holds; docs/trace.md the file). The session calls `begin` for each request and the function it
 * returns with the response; `connect` and `disconnect` for the client itself.
 *
 * Bounded without losing its beginning: once `limit` operations are held, later ones are counted
 * (`dropped`) and not kept, and the header says the recording is incomplete. A replay needs every
 * operation from the start (a buffer must be created before it is used), so a ring that forgot the
 * oldest would make the whole recording useless; a full one still replays its prefix.
 */
import { type ErrnoName, errnoName } from '../common/errors.ts';
import {
  createdFd, describeRequest, RECORDING_VERSION, type OpRecord, type RecordArgs, type RecordedOpName, type RecordingHeader, type RecordingPage, type Request, type Response, type Unrecorded,
} from '../uapi/index.ts';

/** What the recorder needs of a session. */
export interface RecordedSession {
  readonly id: number;
  readonly admin: boolean;
  /** The buffer behind one of the session's fds, if it holds that fd. */
  bufferIdOf(fd: number): number | undefined;
}

/** Operations kept by default: about 20 MiB of records at most. */
export const DEFAULT_RECORDED_OPS = 100_000;
/** Longest failure message kept in a record. */
const MESSAGE_MAX = 300;

/** Ops whose result is a new fd. */
const NEW_FD_OPS: ReadonlySet<RecordedOpName> = new Set(['DUP', 'IMPORT']);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const dec = new TextDecoder();
const identity = (r: Response): Response => r;

export class Recorder {
  private readonly records: OpRecord[] = [];
  private dropped = 0;
  private readonly skipped: Mutable<Unrecorded> = { unknown: 0, malformed: 0, introspection: 0 };
  readonly originUs: number;

  /**
   * `clock`: microseconds since the epoch, never going back. `platform`: the platform document;
   * `limits`: smafd's limits (both for the header).
   */
  constructor(
    readonly limit: number,
    private readonly clock: () => number,
    private readonly platform: Readonly<Record<string, unknown>>,
    private readonly limits?: Readonly<Record<string, number>>,
    /** The buffer an export token names (IMPORT's record names it, never the token), if it lives. */
    private readonly tokenBuffer: (token: Uint8Array) => number | undefined = () => undefined,
  ) {
    this.originUs = clock();
  }

  get size(): number {
    return this.records.length;
  }

  private push(r: Omit<OpRecord, 'seq' | 't'>): void {
    if (this.records.length >= this.limit) {
      this.dropped++;
      return;
    }
    this.records.push({ seq: this.records.length + 1, t: Math.max(0, this.clock() - this.originUs), ...r });
  }

  connect(s: RecordedSession): void {
    this.push(s.admin ? { client: s.id, op: 'CONNECT', admin: true } : { client: s.id, op: 'CONNECT' });
  }

  disconnect(s: RecordedSession): void {
    this.push({ client: s.id, op: 'DISCONNECT' });
  }

  /**
   * A request starts: what it concerns is read now (its fd may be closed by the time it ends).
   * Returns the function that records it with its response, and passes the response on.
   */
  begin(s: RecordedSession, req: Request): (res: Response) => Response {
    if (this.records.length >= this.limit) {
      this.dropped++;
      return identity;
    }
    const d = describeRequest(req);
    if (d.kind === 'skip') {
      this.skipped[d.why]++;
      return identity;
    }
    const before = d.op === 'IMPORT' ? bufferOfToken(this.tokenBuffer(req.payload)) : buffersOf(s, req.fd, d.args);
    return (res) => {
      this.push({ client: s.id, op: d.op, fd: req.fd, args: d.args, ...before, ...outcome(s, d.op, res) });
      return res;
    };
  }

  header(): RecordingHeader {
    return {
      version: RECORDING_VERSION, platform: this.platform, ...(this.limits ? { limits: this.limits } : {}), ops: this.records.length,
      complete: this.dropped === 0 && this.limit > 0, dropped: this.dropped, limit: this.limit, unrecorded: { ...this.skipped }, origin_us: this.originUs,
    };
  }

  /** Records [from, from + limit), with the header. */
  page(from: number, limit: number): RecordingPage {
    const records = this.records.slice(from, from + limit);
    return { header: this.header(), records, next: Math.min(this.records.length, from + records.length) };
  }
}

function outcome(s: RecordedSession, op: RecordedOpName, res: Response): Pick<OpRecord, 'result' | 'errno' | 'message' | 'new_fd' | 'buffer'> {
  if (res.result < 0) {
    const errno: ErrnoName = errnoName(-res.result);
    return { errno, message: dec.decode(res.payload.subarray(0, MESSAGE_MAX * 4)).slice(0, MESSAGE_MAX) };
  }
  const fd = op === 'SMAF_IOC_CREATE' ? createdFd(res.payload) : NEW_FD_OPS.has(op) ? res.result : undefined;
  const buffer = fd !== undefined ? s.bufferIdOf(fd) : undefined;
  return {
    result: res.result,
    ...(op === 'SMAF_IOC_CREATE' && fd !== undefined ? { new_fd: fd } : {}),
    ...(buffer !== undefined ? { buffer } : {}),
  };
}

function bufferOfToken(buffer: number | undefined): Pick<OpRecord, 'buffer'> {
  return buffer !== undefined ? { buffer } : {};
}

/**
 * The buffers a request names, read before it runs: its fd's, the fd an ioctl struct carries
 * (`fd`: SET/GET_SECURE_FLAG), DMA_COPY's source (`src_fd` -> `src_buffer`).
 */
function buffersOf(s: RecordedSession, fd: number, args: RecordArgs): Pick<OpRecord, 'buffer' | 'src_buffer'> {
  const target = fd >= 0 ? s.bufferIdOf(fd) : typeof args.fd === 'number' ? s.bufferIdOf(args.fd) : undefined;
  const src = typeof args.src_fd === 'number' ? s.bufferIdOf(args.src_fd) : undefined;
  return { ...(target !== undefined ? { buffer: target } : {}), ...(src !== undefined ? { src_buffer: src } : {}) };
}
