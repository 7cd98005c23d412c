/**
 * A recording must make sense on its own before it is replayed: what an operation that succeeded
 * used must exist at that point of the recording (an fd some CREATE, DUP or IMPORT gave and no
 * CLOSE took back, an attachment of that fd, a mapping, a buffer an EXPORT shared). A record that
 * breaks this is refused with its line and field (TraceFileError, EINVAL): the recording was cut,
 * reordered or edited, and a replay of it would measure nothing.
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
  readonly atts: Set<string>;
  readonly maps: Set<string>;
  goneAt?: number;
}

class Checker {
  private readonly clients = new Map<number, Client>();
  /** fds open on each live buffer (all clients). */
  private readonly holders = new Map<number, number>();
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
    if (!c) this.clients.set(id, (c = { fds: new Map(), atts: new Set(), maps: new Set() }));
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
    c.fds.set(fd, buffer);
    this.holders.set(buffer, (this.holders.get(buffer) ?? 0) + 1);
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

  /** One holder of a buffer fewer: the last one releases it (an EXPORT of it is over). */
  private drop(b: number): void {
    const n = (this.holders.get(b) ?? 1) - 1;
    if (n > 0) this.holders.set(b, n);
    else {
      this.holders.delete(b);
      this.exported.delete(b);
    }
  }

  private close(c: Client, fd: number): void {
    const b = c.fds.get(fd);
    if (b === undefined) return;
    c.fds.delete(fd);
    for (const set of [c.atts, c.maps]) for (const k of [...set]) if (k.startsWith(`${fd}:`)) set.delete(k);
    this.drop(b);
  }

  /** One record: checked, and completed with the buffer ids it left out. */
  step(r: OpRecord, line: number): OpRecord {
    this.line = line;
    const c = this.client(r.client);
    if (c.goneAt !== undefined) this.problem('client', `#${r.seq} ${r.op} of client ${r.client}, after its DISCONNECT on line ${c.goneAt}`);
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
        this.close(c, fd);
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
