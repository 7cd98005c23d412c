/**
 * A recording must make sense on its own before it is replayed: what an operation that succeeded
 * used must exist at that point of the recording (an fd some CREATE, DUP, IMPORT or IDENTIFY gave
 * and no CLOSE took back, an attachment of that fd, a mapping, a buffer an EXPORT shared, a buffer
 * whose files a FILE handed out for IDENTIFY and FILES_CLOSED). A record that breaks this is
 * refused with its line and field (TraceFileError, EINVAL): the recording was cut, reordered or
 * edited, and a replay of it would measure nothing.
 *
 * A buffer lives while something holds a reference: an fd that is not a handle, TEE shared
 * memory, its files (from its first FILE to FILES_CLOSED). When the last goes, its handles go too.
 *
 * The check also completes a hand-written recording: `buffer` ids it leaves out are filled in
 * from the fds (new buffers get ids above every id the file names).
 */
import {
  IOCTLS, OP_TABLE, TraceFileError, type OpRecord, type RecordedOpName, type Recording,
} from '../uapi/index.ts';

/** The fd an op of the tables goes to: the device or a buffer fd (session ops: none). */
const TARGETS: ReadonlyMap<string, 'device' | 'buffer' | 'either'> = new Map([
  ...OP_TABLE.map((r): [string, 'device' | 'buffer' | 'either'] => [r.name, r.target]),
  ...IOCTLS.map((d): [string, 'device' | 'buffer'] => [d.name, d.target]),
]);

export function targetOf(op: RecordedOpName): 'device' | 'buffer' | 'either' | 'session' {
  return TARGETS.get(op) ?? 'session';
}

/** Ops whose `args` name an attachment or a mapping of the fd. */
const ATTACHMENT_ARGS: Readonly<Record<string, readonly string[]>> = { DETACH: ['attachment'], MAP: ['attachment'], UNMAP: ['attachment'], DMA_CRC: ['attachment'], DMA_COPY: ['dst_attachment'] };
const MAPPING_ARGS: Readonly<Record<string, readonly string[]>> = { MUNMAP: ['mapping'], READ: ['mapping'], WRITE: ['mapping'] };

interface Client {
  readonly fds: Map<number, number>;
  /** fds that are handles (they hold no reference). */
  readonly handles: Set<number>;
  readonly atts: Set<string>;
  readonly maps: Set<string>;
  goneAt?: number;
}

class Checker {
  private readonly clients = new Map<number, Client>();
  /** References held on each live buffer (fds that are not handles, TEE shared memory, its files). */
  private readonly holders = new Map<number, number>();
  /** Buffers whose files hold a reference. */
  private readonly files = new Set<number>();
  /** Where each buffer's files were last closed (FILES_CLOSED), for the message. */
  private readonly filesClosedAt = new Map<number, number>();
  /** Each buffer's handles: [client, fd]. */
  private readonly handles = new Map<number, [Client, number][]>();
  private readonly created = new Map<number, number>();
  private readonly exported = new Set<number>();
  /** TEE shared memory holding a dma-buf, by client and shm id: a holder of the buffer as an fd is. */
  private readonly teeShms = new Map<string, number>();
  private nextId: number;
  readonly problems: string[] = [];
  private line = 0;

  constructor(private readonly rec: Recording) {
    let max = 0;
    for (const r of rec.records) max = Math.max(max, r.buffer ?? 0, r.src_buffer ?? 0);
    this.nextId = max + 1;
  }

  private problem(field: string, what: string): void {
    if (this.problems.length < 10) this.problems.push(`${this.rec.source}:${this.line}: ${field}: ${what}`);
  }

  private client(id: number): Client {
    let c = this.clients.get(id);
    if (!c) this.clients.set(id, (c = { fds: new Map(), handles: new Set(), atts: new Set(), maps: new Set() }));
    return c;
  }

  /** The buffer of an fd the record used, or a problem (a buffer used before it was created). */
  private held(c: Client, r: OpRecord, fd: number, field: string): number | undefined {
    const b = c.fds.get(fd);
    if (b === undefined) {
      this.problem(field, `#${r.seq} ${r.op} on fd ${fd} succeeded in the recording, but client ${r.client} holds no fd ${fd} there: no CREATE, DUP or IMPORT before it gave one (a buffer used before it was created, or the recording was cut or reordered)`);
    }
    return b;
  }

  private open(c: Client, fd: number, buffer: number): void {
    if (c.fds.has(fd)) this.close(c, fd);
    c.fds.set(fd, buffer);
    this.holders.set(buffer, (this.holders.get(buffer) ?? 0) + 1);
  }

  /** An fd that holds no reference: FILE made it one, or IDENTIFY gave it. */
  private handle(c: Client, fd: number, buffer: number): void {
    c.handles.add(fd);
    const list = this.handles.get(buffer);
    if (list) list.push([c, fd]);
    else this.handles.set(buffer, [[c, fd]]);
  }

  private hold(key: string, buffer: number): void {
    this.teeShms.set(key, buffer);
    this.holders.set(buffer, (this.holders.get(buffer) ?? 0) + 1);
  }

  private unhold(key: string): void {
    const b = this.teeShms.get(key);
    if (b === undefined) return;
    this.teeShms.delete(key);
    this.drop(b);
  }

  /** One holder of a buffer fewer: the last one releases it (an EXPORT of it is over, its handles go). */
  private drop(b: number): void {
    const n = (this.holders.get(b) ?? 1) - 1;
    if (n > 0) {
      this.holders.set(b, n);
      return;
    }
    this.holders.delete(b);
    this.exported.delete(b);
    const handles = this.handles.get(b) ?? [];
    this.handles.delete(b);
    for (const [c, fd] of handles) if (c.handles.has(fd) && c.fds.get(fd) === b) this.close(c, fd);
  }

  private close(c: Client, fd: number): void {
    const b = c.fds.get(fd);
    if (b === undefined) return;
    c.fds.delete(fd);
    for (const set of [c.atts, c.maps]) for (const k of [...set]) if (k.startsWith(`${fd}:`)) set.delete(k);
    if (c.handles.delete(fd)) return; // a handle held no reference
    this.drop(b);
  }

  /** One record: checked, and completed with the buffer ids it left out. */
  step(r: OpRecord, line: number): OpRecord {
    this.line = line;
    const c = this.client(r.client);
    if (c.goneAt !== undefined) this.problem('client', `#${r.seq} ${r.op} of client ${r.client}, after its DISCONNECT on line ${c.goneAt}`);
    if (r.op === 'FILES_CLOSED') return this.filesClosed(r);
    if (r.op === 'DISCONNECT') {
      for (const fd of [...c.fds.keys()]) this.close(c, fd);
      for (const key of [...this.teeShms.keys()]) if (key.startsWith(`${r.client}:`)) this.unhold(key);
      c.goneAt = line;
      return r;
    }
    if (r.result === undefined) return this.failed(c, r);
    let buffer = r.buffer;
    const target = targetOf(r.op as RecordedOpName);
    if (target === 'buffer' || (target === 'either' && r.fd !== -1)) buffer = this.fdBuffer(c, r, r.fd!, 'fd', buffer);
    if (typeof r.args?.fd === 'number' && r.op !== 'SMAF_IOC_CREATE') buffer = this.fdBuffer(c, r, r.args.fd, 'args.fd', buffer);
    let src = r.src_buffer;
    if (typeof r.args?.src_fd === 'number') src = this.fdBuffer(c, r, r.args.src_fd, 'args.src_fd', src, 'src_buffer');
    this.ids(c, r, r.fd!);
    buffer = this.effects(c, r, buffer);
    return { ...r, ...(buffer !== undefined ? { buffer } : {}), ...(src !== undefined ? { src_buffer: src } : {}) };
  }

  /** smafd closed the files' reference of a buffer: its files must hold one. */
  private filesClosed(r: OpRecord): OpRecord {
    const b = r.buffer!; // the trace file's check: FILES_CLOSED names its buffer
    if (!this.files.has(b)) {
      const closed = this.filesClosedAt.get(b);
      this.problem('buffer', `#${r.seq} FILES_CLOSED of buffer ${b}, whose files hold no reference there: ${closed !== undefined ? `they were closed already on line ${closed}` : 'no FILE handed one out before'}`);
      return r;
    }
    this.files.delete(b);
    this.filesClosedAt.set(b, this.line);
    this.drop(b);
    return r;
  }

  /** FILE: the buffer's files hold a reference (one), and the fd is a handle (it holds none). */
  private handedOut(c: Client, fd: number, buffer: number): void {
    if (!this.files.has(buffer)) {
      this.files.add(buffer);
      this.holders.set(buffer, (this.holders.get(buffer) ?? 0) + 1);
    }
    if (c.handles.has(fd)) return;
    this.handle(c, fd, buffer);
    this.drop(buffer); // never the last: the files hold one
  }

  /** IDENTIFY: the file must be a buffer whose files are open; with handle 1, its result is a handle of it. */
  private identified(c: Client, r: OpRecord, buffer: number | undefined): void {
    if (buffer === undefined) return this.problem('buffer', `#${r.seq} IDENTIFY names no buffer: an IDENTIFY record says which buffer the file was`);
    if (!this.files.has(buffer)) {
      const closed = this.filesClosedAt.get(buffer);
      return this.problem('buffer', `#${r.seq} IDENTIFY of a file of buffer ${buffer}, which has no open file there (${closed !== undefined ? `its files were closed on line ${closed}` : 'no FILE handed one out before'})`);
    }
    if (r.args?.handle !== 1) return;
    const fd = r.result!;
    if (c.handles.has(fd) && c.fds.get(fd) === buffer) return; // the handle it had already
    if (c.fds.has(fd)) this.close(c, fd);
    c.fds.set(fd, buffer);
    this.handle(c, fd, buffer);
  }

  /** A failed operation changed nothing; its buffer is the fd's, when the client holds it. */
  private failed(c: Client, r: OpRecord): OpRecord {
    if (r.buffer !== undefined || r.fd === undefined || r.fd < 0) return r;
    const b = c.fds.get(r.fd);
    return b === undefined ? r : { ...r, buffer: b };
  }

  private fdBuffer(c: Client, r: OpRecord, fd: number, field: string, given: number | undefined, givenField = 'buffer'): number | undefined {
    const b = this.held(c, r, fd, field);
    if (b !== undefined && given !== undefined && given !== b) this.problem(givenField, `#${r.seq} ${r.op} says buffer ${given}, but fd ${fd} of client ${r.client} holds buffer ${b} there`);
    return b ?? given;
  }

  /** Attachments and mappings an operation used must exist on its fd. */
  private ids(c: Client, r: OpRecord, fd: number): void {
    for (const k of ATTACHMENT_ARGS[r.op] ?? []) {
      if (!c.atts.has(`${fd}:${String(r.args?.[k])}`)) this.problem(`args.${k}`, `#${r.seq} ${r.op} used attachment ${String(r.args?.[k])} of fd ${fd}, which no ATTACH on that fd gave (or a DETACH took back)`);
    }
    if (r.op === 'DMA_COPY' && !c.atts.has(`${String(r.args?.src_fd)}:${String(r.args?.src_attachment)}`)) {
      this.problem('args.src_attachment', `#${r.seq} DMA_COPY used attachment ${String(r.args?.src_attachment)} of fd ${String(r.args?.src_fd)}, which no ATTACH on that fd gave`);
    }
    for (const k of MAPPING_ARGS[r.op] ?? []) {
      if (!c.maps.has(`${fd}:${String(r.args?.[k])}`)) this.problem(`args.${k}`, `#${r.seq} ${r.op} used mapping ${String(r.args?.[k])} of fd ${fd}, which no MMAP on that fd gave (or a MUNMAP took back)`);
    }
  }

  /** What a successful operation made or took away. */
  private effects(c: Client, r: OpRecord, buffer: number | undefined): number | undefined {
    const fd = r.fd!;
    const made = r.result!;
    switch (r.op) {
      case 'SMAF_IOC_CREATE': {
        const id = buffer ?? this.nextId++;
        if (this.created.has(id)) this.problem('buffer', `#${r.seq} creates buffer ${id}, already created on line ${this.created.get(id)}`);
        this.created.set(id, this.line);
        if (r.new_fd !== undefined) this.open(c, r.new_fd, id);
        return id;
      }
      case 'DUP':
        if (buffer !== undefined) this.open(c, made, buffer);
        return buffer;
      case 'IMPORT':
        if (buffer === undefined) this.problem('buffer', `#${r.seq} IMPORT names no buffer: an IMPORT record says which buffer its token named`);
        else if (!this.exported.has(buffer)) this.problem('buffer', `#${r.seq} IMPORT of buffer ${buffer}, which no EXPORT shared before (or every fd of it was closed)`);
        else this.open(c, made, buffer);
        return buffer;
      case 'EXPORT':
        if (buffer !== undefined) this.exported.add(buffer);
        return buffer;
      case 'CLOSE':
        if (c.handles.has(fd)) this.problem('fd', `#${r.seq} CLOSE of fd ${fd} succeeded, but fd ${fd} of client ${r.client} is a handle there (smafd answers EINVAL: it goes with the buffer's files)`);
        this.close(c, fd);
        return buffer;
      case 'FILE':
        if (buffer !== undefined) this.handedOut(c, fd, buffer);
        return buffer;
      case 'IDENTIFY':
        this.identified(c, r, buffer);
        return buffer;
      case 'ATTACH':
        c.atts.add(`${fd}:${made}`);
        return buffer;
      case 'DETACH':
        c.atts.delete(`${fd}:${String(r.args?.attachment)}`);
        return buffer;
      case 'MMAP':
        c.maps.add(`${fd}:${made}`);
        return buffer;
      case 'MUNMAP':
        c.maps.delete(`${fd}:${String(r.args?.mapping)}`);
        return buffer;
      case 'TEE_SHM_REGISTER_FD':
        if (buffer !== undefined) this.hold(`${r.client}:${made}`, buffer);
        return buffer;
      case 'TEE_SHM_RELEASE':
        this.unhold(`${r.client}:${String(r.args?.shm)}`);
        return buffer;
      default:
        return buffer;
    }
  }
}

/** Check a recording's consistency; the records completed (buffer ids), or TraceFileError. */
export function checkRecording(rec: Recording): OpRecord[] {
  const checker = new Checker(rec);
  const out = rec.records.map((r, i) => checker.step(r, rec.lines[i]!));
  if (checker.problems.length) throw new TraceFileError(rec.source, checker.problems);
  return out;
}
