/**
 * SmafClient: a typed Node client of smafd, one method per op. Errors come back as SmafError with
 * the errno the daemon sent. Requests may be pipelined; responses are matched by request id.
 */
import { createConnection, type Socket } from 'node:net';
import { Errno, SmafError, smafErrorFromErrno } from '../common/errors.ts';
import { uuidToBytes } from '../platform/tee.ts';
import type { Explanation, SelfCheckReport } from '../core/index.ts';
import { frameLayout, type FrameLayout, type FrameOptions } from '../common/pixel-format.ts';
import { checkSocketOwner } from '../uapi/socket-path.ts';
import {
  COMM_LEN, decodeName, decodeOpReply, decodeStruct, DEVICE_FD, DEVICE_NAME_LEN, DMA_BUF_IOCTL_SYNC, DMA_BUF_NAME_LEN, dmaBufSync, encodeName,
  encodeOpRequest, encodeRequest, encodeStruct, eventQueryStruct, FrameReader, MAX_FRAME, opRowNamed, parseResponse, REQUEST_HEADER, RESPONSE_HEADER,
  SMAF_IOC_CREATE, SMAF_IOC_GET_INFO, SMAF_IOC_GET_SECURE_FLAG, SMAF_IOC_SET_SECURE_FLAG, SMAF_NAME_LEN, smafCreateData, TOKEN_LEN, smafInfo, smafSecureFlag,
  type ChromeTrace, type DaemonState, type DevicesReport, type EventPage, type EventQuery, type HeapInfo, type JournalEvent, type NativeStatus, type OpName, type ProcessReport, type Reply,
  type RecordingPage, type RequestInput, type Response, type RowOf, X_RECORDING_MAX_LIMIT,
} from '../uapi/index.ts';
import { decodeTeeAnswer, encodeTeeCall, type TeeCallAnswer, type TeeCallParam } from '../uapi/tee-abi.ts';

export type { TeeCallAnswer, TeeCallParam } from '../uapi/tee-abi.ts';

export interface DmaSegmentInfo {
  readonly dma: bigint;
  readonly length: bigint;
}

export interface BufferStat {
  readonly size: bigint;
  readonly allocated: boolean;
  readonly secure: boolean;
  readonly allocator: string;
}

export type Direction = 0 | 1 | 2;

export interface TeeShmInfo {
  readonly id: number;
  readonly size: bigint;
  readonly flags: number;
}


const dec = new TextDecoder();

/** The command name a process goes by: the script's base name (`smaf`, `quick-tour.ts`), else `node`. */
function defaultComm(): string {
  const script = process.argv[1];
  return (script ? script.split('/').pop()! : process.title).slice(0, COMM_LEN - 1) || 'node';
}

export interface ConnectOptions {
  /** Milliseconds to wait for each answer (and for the connection) before giving up: ETIMEDOUT. */
  readonly timeoutMs?: number;
  /** Connection attempts when the listen backlog is full (EAGAIN). */
  readonly attempts?: number;
}

/** Bytes of data one WRITE frame carries (the frame limit less the headers). */
const MAX_WRITE = MAX_FRAME - REQUEST_HEADER - opRowNamed('WRITE').request.struct.size;

/** How long a client waits for smafd by default. */
const DEFAULT_TIMEOUT_MS = 10_000;

interface Pending {
  resolve: (r: Response) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class SmafClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly reader = new FrameReader(RESPONSE_HEADER);
  private closedError: SmafError | null = null;
  private whenClosed: (e: SmafError) => void = () => {};
  /**
   * Settles when the connection ends, with why: smafd closed it, went away or answered garbage (or
   * this side closed it). A client holding buffers watches it: they are gone with the connection.
   */
  readonly closed = new Promise<SmafError>((resolve) => (this.whenClosed = resolve));

  private constructor(private readonly sock: Socket, private readonly timeoutMs: number) {
    sock.on('data', (chunk) => {
      let frames: Uint8Array[];
      try {
        frames = this.reader.push(chunk);
      } catch (e) {
        this.fail(new SmafError('EPROTO', `smafd sent a malformed answer (${(e as Error).message}): connection dropped`, { cause: e }));
        sock.destroy();
        return;
      }
      for (const f of frames) {
        const r = parseResponse(f);
        if (r.id === 0 && r.result < 0) {
          // an unsolicited notice from smafd (e.g. too many clients): the connection is refused
          this.fail(smafErrorFromErrno(-r.result, dec.decode(r.payload)));
          sock.destroy();
          return;
        }
        const p = this.pending.get(r.id);
        if (!p) continue;
        this.pending.delete(r.id);
        clearTimeout(p.timer);
        p.resolve({ id: r.id, result: r.result, payload: Uint8Array.from(r.payload) });
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => this.fail(new SmafError('ECONNRESET', `connection to smafd lost (${e.code ?? e.message})`, { cause: e })));
    sock.on('close', () => this.fail(new SmafError('ECONNRESET', 'connection to smafd closed')));
  }

  /**
   * Connect to smafd. Only a socket owned by this user or root is trusted (EPERM otherwise); a full
   * listen backlog (EAGAIN) is retried a few times, as a device open would block.
   */
  static async connect(path: string, options: ConnectOptions = {}): Promise<SmafClient> {
    checkSocketOwner(path);
    const attempts = options.attempts ?? 6;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    for (let i = 1; ; i++) {
      try {
        return await SmafClient.connectOnce(path, timeoutMs);
      } catch (e) {
        if ((e as { cause?: NodeJS.ErrnoException }).cause?.code !== 'EAGAIN' || i >= attempts) throw e;
        await new Promise((r) => setTimeout(r, 20 * i));
      }
    }
  }

  private static connectOnce(path: string, timeoutMs: number): Promise<SmafClient> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new SmafError('ETIMEDOUT', `smafd did not answer at ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(new SmafClient(sock, timeoutMs));
      });
      sock.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const code = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ENOTDIR' ? 'ENOENT' : e.code === 'EAGAIN' ? 'EAGAIN' : e.code === 'EACCES' ? 'EACCES' : 'EIO';
        reject(new SmafError(code, `cannot reach smafd at ${path}: ${e.code ?? e.message} (is smafd running? start it: \`npx smafd\`, or \`npm start\` in the smaf-ts checkout)`, { cause: e }));
      });
    });
  }

  private fail(e: SmafError): void {
    if (!this.closedError) {
      this.closedError = e;
      this.whenClosed(e);
    }
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(this.closedError);
    }
    this.pending.clear();
  }

  /**
   * Send a raw request; resolves with the raw response (negative results included). Rejects with
   * ETIMEDOUT when smafd does not answer in time (the connection is then dropped: a late answer
   * could not be matched any more).
   */
  request(op: number, fd: number, body: Uint8Array = new Uint8Array(0)): Promise<Response> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.nextId > 0xffff_ffff) this.nextId = 1; // id 0 is smafd's, for unsolicited notices
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new SmafError('ETIMEDOUT', `smafd did not answer within ${this.timeoutMs} ms (request ${id}, op ${op})`));
        this.sock.destroy();
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const frame = encodeRequest({ id, op, fd, payload: body });
      this.sock.write(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
    });
  }

  /** A request whose negative result becomes a thrown SmafError. */
  async call(op: number, fd: number, body?: Uint8Array): Promise<Response> {
    const r = await this.request(op, fd, body);
    if (r.result < 0) throw smafErrorFromErrno(-r.result, dec.decode(r.payload));
    return r;
  }

  /**
   * One op of the table: its request encoded and its reply decoded from the op's row, typed by it.
   * A reply that does not fit the row (a bad daemon) is EPROTO naming the op.
   */
  async op<K extends OpName>(name: K, fd: number, input: RequestInput<RowOf<K>>): Promise<Reply<RowOf<K>>> {
    const row = opRowNamed(name);
    const r = await this.call(row.op, fd, encodeOpRequest(row, input));
    return decodeOpReply(row, r.result, r.payload);
  }

  /** Close the connection; a peer that never finishes the shutdown is cut off after the timeout. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.sock.destroyed) return resolve();
      const timer = setTimeout(() => this.sock.destroy(), this.timeoutMs);
      this.sock.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.sock.end();
    });
  }

  /** Drop the connection abruptly, as a crashing process would. */
  destroy(): void {
    this.sock.destroy();
  }

  // ---- ioctls on /dev/smaf -----------------------------------------------------------------

  async create(length: number | bigint, options: { flags?: number; name?: string } = {}): Promise<number> {
    const body = encodeStruct(smafCreateData, { length: BigInt(length), flags: options.flags ?? 2, name: encodeName(options.name ?? '', SMAF_NAME_LEN) });
    const r = await this.call(SMAF_IOC_CREATE.number, DEVICE_FD, body);
    return decodeStruct(smafCreateData, r.payload).fd;
  }

  /**
   * One buffer holding every plane of a frame (`1920x1080:NV12`; strides aligned to `align`, planes
   * to `alignPlane`, rows to `alignHeight`, a DRM format `modifier`).
   */
  async createFrame(spec: string, options: FrameOptions & { flags?: number; name?: string } = {}): Promise<{ fd: number; layout: FrameLayout }> {
    const { flags, name, ...frame } = options;
    const layout = frameLayout(spec, frame);
    const fd = await this.create(layout.size, { ...(flags !== undefined ? { flags } : {}), ...(name !== undefined ? { name } : {}) });
    return { fd, layout };
  }

  async getSecure(fd: number): Promise<boolean> {
    const r = await this.call(SMAF_IOC_GET_SECURE_FLAG.number, DEVICE_FD, encodeStruct(smafSecureFlag, { fd }));
    return decodeStruct(smafSecureFlag, r.payload).secure === 1;
  }

  async setSecure(fd: number, secure: boolean): Promise<void> {
    await this.call(SMAF_IOC_SET_SECURE_FLAG.number, DEVICE_FD, encodeStruct(smafSecureFlag, { fd, secure: secure ? 1 : 0 }));
  }

  async info(index: number): Promise<{ count: number; name: string }> {
    const r = await this.call(SMAF_IOC_GET_INFO.number, DEVICE_FD, encodeStruct(smafInfo, { index }));
    const v = decodeStruct(smafInfo, r.payload);
    return { count: v.count, name: decodeName(v.name) };
  }

  /** Every allocator name, in the order SMAF asks them. */
  async allocators(): Promise<string[]> {
    const first = await this.info(0);
    const names = [first.name];
    for (let i = 1; i < first.count; i++) names.push((await this.info(i)).name);
    return names;
  }

  // ---- buffer fd ops -----------------------------------------------------------------------

  async closeFd(fd: number): Promise<void> {
    await this.op('CLOSE', fd, {});
  }

  async dup(fd: number): Promise<number> {
    return (await this.op('DUP', fd, {})).result;
  }

  async attach(fd: number, device: string): Promise<number> {
    return (await this.op('ATTACH', fd, { device: encodeName(device, DEVICE_NAME_LEN) })).result;
  }

  async detach(fd: number, attachment: number): Promise<void> {
    await this.op('DETACH', fd, { attachment });
  }

  async map(fd: number, attachment: number, direction: Direction = 0): Promise<DmaSegmentInfo[]> {
    return (await this.op('MAP', fd, { attachment, direction })).payload.map((s) => ({ dma: s.dma_addr, length: s.length }));
  }

  async unmap(fd: number, attachment: number): Promise<void> {
    await this.op('UNMAP', fd, { attachment });
  }

  async mmap(fd: number, offset: number | bigint, length: number | bigint, prot: number): Promise<number> {
    return (await this.op('MMAP', fd, { offset: BigInt(offset), length: BigInt(length), prot })).result;
  }

  async munmap(fd: number, mapping: number): Promise<void> {
    await this.op('MUNMAP', fd, { mapping });
  }

  async read(fd: number, mapping: number, offset: number | bigint, length: number): Promise<Uint8Array> {
    return (await this.op('READ', fd, { mapping, offset: BigInt(offset), length })).payload;
  }

  /** WRITE through a mapping; data longer than one frame holds goes as several WRITEs, in order. */
  async write(fd: number, mapping: number, offset: number | bigint, data: Uint8Array): Promise<number> {
    let done = 0;
    do {
      const piece = data.subarray(done, done + MAX_WRITE);
      done += (await this.op('WRITE', fd, { mapping, offset: BigInt(offset) + BigInt(done), data: piece })).result;
    } while (done < data.length);
    return done;
  }

  async exportToken(fd: number): Promise<Uint8Array> {
    return (await this.op('EXPORT', fd, {})).payload;
  }

  async importToken(token: Uint8Array): Promise<number> {
    if (token.length !== TOKEN_LEN) throw new SmafError('EINVAL', `a token is ${TOKEN_LEN} bytes, got ${token.length}`);
    return (await this.op('IMPORT', DEVICE_FD, { token })).result;
  }

  async stat(fd: number): Promise<BufferStat> {
    const v = (await this.op('STAT', fd, {})).payload;
    return { size: v.size, allocated: v.allocated === 1, secure: v.secure === 1, allocator: decodeName(v.allocator) };
  }

  async dmaCopy(dstFd: number, dstAttachment: number, srcFd: number, srcAttachment: number, length: number | bigint, options: { transform?: number; srcOffset?: number | bigint; dstOffset?: number | bigint } = {}): Promise<number> {
    const req = {
      dst_attachment: dstAttachment, src_fd: srcFd, src_attachment: srcAttachment, transform: options.transform ?? 0,
      src_offset: BigInt(options.srcOffset ?? 0), dst_offset: BigInt(options.dstOffset ?? 0), length: BigInt(length),
    };
    return (await this.op('DMA_COPY', dstFd, req)).result;
  }

  async dmaCrc(fd: number, attachment: number, offset: number | bigint, length: number | bigint): Promise<number> {
    return (await this.op('DMA_CRC', fd, { attachment, offset: BigInt(offset), length: BigInt(length) })).payload.crc32;
  }

  /** DMA_SCANOUT: the device reads a range (a display scanning out); nothing comes back but the count. */
  async dmaScanout(fd: number, attachment: number, offset: number | bigint, length: number | bigint): Promise<number> {
    return (await this.op('DMA_SCANOUT', fd, { attachment, offset: BigInt(offset), length: BigInt(length) })).result;
  }

  /** DMA_BUF_IOCTL_SYNC: flags READ 1 | WRITE 2, START 0 | END 4. */
  async sync(fd: number, flags: number | bigint): Promise<void> {
    await this.call(DMA_BUF_IOCTL_SYNC.number, fd, encodeStruct(dmaBufSync, { flags: BigInt(flags) }));
  }

  /** HELLO: announce who this client is (pid and command name), shown by `smaf info` and the dashboard. */
  async hello(pid: number = process.pid, comm: string = defaultComm()): Promise<void> {
    // NUL-terminated: at most COMM_LEN - 1 bytes of the name
    await this.op('HELLO', DEVICE_FD, { pid, comm: new TextEncoder().encode(comm).subarray(0, COMM_LEN - 1) });
  }

  /** SET_NAME (DMA_BUF_SET_NAME): name a buffer for tools; at most 31 bytes. */
  async setName(fd: number, name: string): Promise<void> {
    const bytes = new TextEncoder().encode(name);
    if (bytes.length >= DMA_BUF_NAME_LEN) throw new SmafError('EINVAL', `name "${name}" is ${bytes.length} bytes, at most ${DMA_BUF_NAME_LEN - 1}`);
    await this.op('SET_NAME', fd, { name: bytes });
  }

  // ---- the TEE subsystem (what /dev/tee0 does: docs/tee.md) ---------------------------------

  /** Open a TEE context (an open of /dev/tee0). */
  async teeOpen(): Promise<number> {
    return (await this.op('TEE_OPEN', DEVICE_FD, {})).result;
  }

  async teeVersion(ctx: number): Promise<{ implId: number; implCaps: number; genCaps: number }> {
    const v = (await this.op('TEE_VERSION', DEVICE_FD, { ctx })).payload;
    return { implId: v.impl_id, implCaps: v.impl_caps, genCaps: v.gen_caps };
  }

  /** Close a TEE context: its sessions close; its shared memory stays until released. */
  async teeClose(ctx: number): Promise<void> {
    await this.op('TEE_CLOSE', DEVICE_FD, { ctx });
  }

  /** Shared memory this client holds the bytes of (TEE_IOC_SHM_ALLOC). */
  async teeShmAlloc(ctx: number, size: number | bigint): Promise<TeeShmInfo> {
    const v = (await this.op('TEE_SHM_ALLOC', DEVICE_FD, { ctx, size: BigInt(size) })).payload;
    return { id: v.id, size: v.size, flags: v.flags };
  }

  /** User memory of this client registered with the TEE (TEE_IOC_SHM_REGISTER); `addr` is only shown. */
  async teeShmRegister(ctx: number, length: number | bigint, addr: bigint = 0n): Promise<TeeShmInfo> {
    const v = (await this.op('TEE_SHM_REGISTER', DEVICE_FD, { ctx, addr, length: BigInt(length) })).payload;
    return { id: v.id, size: v.size, flags: v.flags };
  }

  /** A dma-buf of `fd` as shared memory with its own reference (TEE_IOC_SHM_REGISTER_FD): `fd` may be closed after. */
  async teeShmRegisterFd(ctx: number, fd: number): Promise<TeeShmInfo> {
    const v = (await this.op('TEE_SHM_REGISTER_FD', fd, { ctx })).payload;
    return { id: v.id, size: v.size, flags: v.flags };
  }

  async teeShmRelease(shm: number): Promise<void> {
    await this.op('TEE_SHM_RELEASE', DEVICE_FD, { shm });
  }

  /** TEE_IOC_OPEN_SESSION to the TA `uuid` (login PUBLIC unless given). */
  async teeOpenSession(ctx: number, uuid: string, options: { login?: number; params?: readonly TeeCallParam[]; clientUuid?: Uint8Array } = {}): Promise<TeeCallAnswer> {
    const params = options.params ?? [];
    const data = encodeTeeCall(params);
    const r = await this.op('TEE_OPEN_SESSION', DEVICE_FD, { uuid: uuidToBytes(uuid), clnt_uuid: options.clientUuid ?? new Uint8Array(16), ctx, clnt_login: options.login ?? 0, num_params: params.length, data });
    return decodeTeeAnswer(params, r.payload);
  }

  /** TEE_IOC_INVOKE: command `func` of the session's TA. */
  async teeInvoke(ctx: number, session: number, func: number, params: readonly TeeCallParam[] = []): Promise<TeeCallAnswer> {
    const r = await this.op('TEE_INVOKE', DEVICE_FD, { ctx, session, func, num_params: params.length, data: encodeTeeCall(params) });
    return decodeTeeAnswer(params, r.payload);
  }

  async teeCloseSession(ctx: number, session: number): Promise<void> {
    await this.op('TEE_CLOSE_SESSION', DEVICE_FD, { ctx, session });
  }

  async teeCancel(ctx: number, session: number, cancelId = 0): Promise<void> {
    await this.op('TEE_CANCEL', DEVICE_FD, { ctx, session, cancel_id: cancelId });
  }

  // ---- extensions (JSON, validated against the op's schema) ---------------------------------

  /** X_PS: every client process and the buffers it holds (operator view; `smaf ps`). */
  async ps(): Promise<ProcessReport> {
    return (await this.op('X_PS', DEVICE_FD, {})).payload;
  }

  /** X_HEAPS: the dma-heaps `/dev/dma_heap/` shows under `smaf exec`. */
  async heaps(): Promise<readonly HeapInfo[]> {
    return (await this.op('X_HEAPS', DEVICE_FD, {})).payload;
  }

  /** X_DEVICES: each device and what it maps (a client sees only the buffers it holds). */
  async devices(): Promise<DevicesReport> {
    return (await this.op('X_DEVICES', DEVICE_FD, {})).payload;
  }

  /** X_NATIVE: how C programs reach smafd (the native socket, zero-copy or why not). */
  async native(): Promise<NativeStatus> {
    return (await this.op('X_NATIVE', DEVICE_FD, {})).payload;
  }

  /** X_STATE: one page of buffers (`offset`, at most `limit`); the operator's view on the admin socket. */
  async state(page: { offset?: number; limit?: number } = {}): Promise<DaemonState> {
    const paged = page.offset !== undefined || page.limit !== undefined;
    return (await this.op('X_STATE', DEVICE_FD, paged ? { offset: page.offset ?? 0, limit: page.limit ?? 200 } : null)).payload;
  }

  /** The daemon's self-check (never throws for failed checks: read `ok`). */
  async check(): Promise<SelfCheckReport> {
    const row = opRowNamed('X_CHECK');
    const r = await this.request(row.op, DEVICE_FD);
    if (r.result < 0 && r.result !== -Errno[row.jsonOnError]) throw smafErrorFromErrno(-r.result, dec.decode(r.payload));
    return decodeOpReply(row, r.result, r.payload).payload;
  }

  /** One page of the daemon's journal, filtered there (X_EVENTS). */
  async events(query: Partial<EventQuery> = {}): Promise<EventPage<JournalEvent>> {
    return (await this.op('X_EVENTS', DEVICE_FD, eventQueryStruct(query))).payload;
  }

  /** One page of the recording of every client's operations (X_RECORDING; the operator's). */
  async recording(from: number, limit = X_RECORDING_MAX_LIMIT): Promise<RecordingPage> {
    return (await this.op('X_RECORDING', DEVICE_FD, { from, limit })).payload;
  }

  /** The journal as Chrome trace-event JSON (X_TRACE); `sinceMs` 0 for all of it. */
  async trace(sinceMs = 0): Promise<ChromeTrace> {
    return (await this.op('X_TRACE', DEVICE_FD, { since: BigInt(sinceMs) })).payload;
  }

  async explainFd(fd: number): Promise<Explanation> {
    return (await this.op('X_EXPLAIN', fd, { buffer: 0 })).payload;
  }

  async explain(bufferId: number): Promise<Explanation> {
    return (await this.op('X_EXPLAIN', DEVICE_FD, { buffer: bufferId })).payload;
  }
}
