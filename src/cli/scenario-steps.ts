/**
 * What each scenario step does: one handler per action, in a table. A handler gets its step's
 * arguments (typed by the step's schema), the client it runs as, and the run's named things.
 */
import crc32 from 'crc-32';
import { SmafError } from '../common/errors.ts';
import { formatExplanation } from '../core/explain.ts';
import { formatSize, hex } from '../common/units.ts';
import type { SmafClient } from '../client/client.ts';
import { frameLabel, type FrameLayout } from '../common/pixel-format.ts';
import type { Step } from './scenario-schema.ts';
import { runStream, type StreamReport } from './scenario-stream.ts';

interface Handle {
  readonly client: string;
  readonly fd: number;
}

/** The clients of one run and what its steps named: buffers, attachments, mappings, CRCs. */
export class ScenarioRun {
  readonly clients = new Map<string, SmafClient>();
  readonly buffers = new Map<string, Handle>();
  readonly attachments = new Map<string, Handle & { id: number; device: string }>();
  readonly mappings = new Map<string, Handle & { id: number }>();
  /** Fds of a buffer that other clients got by import, for a stream's stages (`CLIENT:BUFFER`). */
  readonly imported = new Map<string, Handle>();
  readonly crcs = new Map<string, number>();
  /** Rings of buffers (`pool`): the names of their buffers, NAME[0]..NAME[count-1]. */
  readonly pools = new Map<string, { buffers: string[] }>();

  /** `connect` opens a new client connection (one per client name, which it is given). */
  constructor(private readonly connect: (name: string) => Promise<SmafClient>) {}

  async client(name: string): Promise<SmafClient> {
    let c = this.clients.get(name);
    if (!c) {
      c = await this.connect(name);
      this.clients.set(name, c);
    }
    return c;
  }

  need<T>(m: Map<string, T>, key: string, what: string): T {
    const v = m.get(key);
    if (v === undefined) throw new SmafError('EINVAL', `scenario: no ${what} named "${key}" (define it in an earlier step)`);
    return v;
  }
}

/** Every action of a scenario step but `say` (which only prints). */
type KeysOfUnion<T> = T extends unknown ? keyof T : never;
export type Action = Exclude<KeysOfUnion<Step>, 'say'>;
type ArgsOf<K extends Action> = Extract<Step, Record<K, unknown>>[K];
/** What a step printed, and for a stream its measurements. */
export type StepOutput = string | { readonly detail: string; readonly stream: StreamReport };
type Handler<K extends Action> = (args: ArgsOf<K>, who: string, run: ScenarioRun) => Promise<StepOutput>;

const DIRS = { bidirectional: 0, 'to-device': 1, 'from-device': 2 } as const;
const PROT = { r: 1, w: 2, rw: 3 } as const;
const ACCESS = { read: 1, write: 2, rw: 3 } as const;
/** A frame buffer is named after its layout (DMA_BUF_SET_NAME): the dashboard draws its planes. */
async function nameFrame(c: SmafClient, fd: number, layout: FrameLayout | undefined): Promise<void> {
  const label = layout ? frameLabel(layout) : null;
  if (label) await c.setName(fd, label);
}

/** Bytes of a `fill` sent per WRITE. */
const FILL_PIECE = 1 << 20;

export const STEP_HANDLERS: { readonly [K in Action]: Handler<K> } = {
  create: async (s, who, r) => {
    const c = await r.client(who);
    const fd = await c.create(s.size, { ...(s.flags !== undefined ? { flags: s.flags } : {}), ...(s.name ? { name: s.name } : {}) });
    r.buffers.set(s.buffer, { client: who, fd });
    if (s.secure) await c.setSecure(fd, true);
    await nameFrame(c, fd, s.layout);
    const what = s.frame ? `a ${s.frame} frame, ${s.size} bytes (${formatSize(Math.ceil(s.size / 4096) * 4096)} in pages)` : formatSize(s.size);
    return `fd ${fd}: ${what}${s.secure ? ', secure' : ''}, no memory yet`;
  },
  secure: async (s, _who, r) => {
    const b = r.need(r.buffers, s.buffer, 'buffer');
    await (await r.client(b.client)).setSecure(b.fd, s.on);
    return `secure flag ${s.on ? 'set' : 'cleared'} on fd ${b.fd}`;
  },
  attach: async (s, _who, r) => {
    const b = r.need(r.buffers, s.buffer, 'buffer');
    const id = await (await r.client(b.client)).attach(b.fd, s.device);
    r.attachments.set(s.as, { ...b, id, device: s.device });
    return `${s.device} attached (attachment ${id})`;
  },
  detach: async (s, _who, r) => {
    const a = r.need(r.attachments, s.attachment, 'attachment');
    await (await r.client(a.client)).detach(a.fd, a.id);
    return `${a.device} detached`;
  },
  map: async (s, _who, r) => {
    const a = r.need(r.attachments, s.attachment, 'attachment');
    const c = await r.client(a.client);
    const segs = await c.map(a.fd, a.id, DIRS[s.direction]);
    const st = await c.stat(a.fd);
    return `${a.device} mapped ${s.direction}: ${segs.length} segment${segs.length > 1 ? 's' : ''} at ${hex(segs[0]?.dma ?? 0n)}; memory from ${st.allocator}`;
  },
  unmap: async (s, _who, r) => {
    const a = r.need(r.attachments, s.attachment, 'attachment');
    await (await r.client(a.client)).unmap(a.fd, a.id);
    return `${a.device} unmapped`;
  },
  mmap: async (s, _who, r) => {
    const b = r.need(r.buffers, s.buffer, 'buffer');
    const c = await r.client(b.client);
    const length = s.length ?? Number((await c.stat(b.fd)).size) - s.offset;
    const id = await c.mmap(b.fd, s.offset, length, PROT[s.prot]);
    if (s.as) r.mappings.set(s.as, { ...b, id });
    return `CPU mapping ${id} of ${formatSize(length)} (${s.prot})`;
  },
  munmap: async (s, _who, r) => {
    const m = r.need(r.mappings, s.mapping, 'mapping');
    await (await r.client(m.client)).munmap(m.fd, m.id);
    return 'CPU mapping removed';
  },
  write: async (s, _who, r) => {
    const m = r.need(r.mappings, s.mapping, 'mapping');
    const c = await r.client(m.client);
    if (s.fill) {
      // a fill is streamed in 1 MiB pieces: its length costs the CLI nothing
      const piece = new Uint8Array(Math.min(s.fill.length, FILL_PIECE)).fill(s.fill.byte);
      let n = 0;
      while (n < s.fill.length) n += await c.write(m.fd, m.id, s.offset + n, piece.subarray(0, Math.min(piece.length, s.fill.length - n)));
      return `wrote ${n} bytes at ${s.offset}`;
    }
    const data = s.text !== undefined ? new TextEncoder().encode(s.text) : s.hex !== undefined ? Uint8Array.from(Buffer.from(s.hex, 'hex')) : new Uint8Array(0);
    const n = await c.write(m.fd, m.id, s.offset, data);
    return `wrote ${n} bytes at ${s.offset}`;
  },
  read: async (s, _who, r) => {
    const m = r.need(r.mappings, s.mapping, 'mapping');
    const bytes = await (await r.client(m.client)).read(m.fd, m.id, s.offset, s.length);
    const text = new TextDecoder().decode(bytes);
    if (s.expect_text !== undefined && text !== s.expect_text) throw new SmafError('EIO', `read "${text}", expected "${s.expect_text}"`);
    const hx = Buffer.from(bytes).toString('hex');
    if (s.expect_hex !== undefined && hx !== s.expect_hex.toLowerCase()) throw new SmafError('EIO', `read ${hx}, expected ${s.expect_hex}`);
    return `read ${bytes.length} bytes: ${/^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : hx.slice(0, 64)}`;
  },
  sync: async (s, _who, r) => {
    const b = r.need(r.buffers, s.buffer, 'buffer');
    await (await r.client(b.client)).sync(b.fd, ACCESS[s.access] | (s.phase === 'end' ? 4 : 0));
    return `DMA_BUF_IOCTL_SYNC ${s.phase} ${s.access}`;
  },
  share: async (s, _who, r) => {
    const b = r.need(r.buffers, s.buffer, 'buffer');
    const token = await (await r.client(b.client)).exportToken(b.fd);
    const fd = await (await r.client(s.to)).importToken(token);
    r.buffers.set(s.as, { client: s.to, fd });
    return `exported by ${b.client} (token ${Buffer.from(token).toString('hex').slice(0, 8)}...), imported by ${s.to} as fd ${fd}`;
  },
  dup: async (s, _who, r) => {
    const b = r.need(r.buffers, s.buffer, 'buffer');
    const fd = await (await r.client(b.client)).dup(b.fd);
    r.buffers.set(s.as, { client: b.client, fd });
    return `fd ${b.fd} duplicated as fd ${fd}`;
  },
  close: async (s, _who, r) => {
    const b = r.need(r.buffers, s.buffer, 'buffer');
    await (await r.client(b.client)).closeFd(b.fd);
    r.buffers.delete(s.buffer);
    return `fd ${b.fd} closed`;
  },
  stat: async (s, _who, r) => {
    const b = r.need(r.buffers, s.buffer, 'buffer');
    const st = await (await r.client(b.client)).stat(b.fd);
    const e = s.expect;
    if (e && ((e.allocated !== undefined && e.allocated !== st.allocated) || (e.secure !== undefined && e.secure !== st.secure) || (e.allocator !== undefined && e.allocator !== st.allocator))) {
      throw new SmafError('EIO', `stat ${JSON.stringify({ ...st, size: Number(st.size) })} does not match ${JSON.stringify(e)}`);
    }
    return `${formatSize(Number(st.size))}, ${st.allocated ? `allocated by ${st.allocator}` : 'not allocated'}${st.secure ? ', secure' : ''}`;
  },
  explain: async (s, _who, r) => {
    const b = r.need(r.buffers, s.buffer, 'buffer');
    const e = await (await r.client(b.client)).explainFd(b.fd);
    return formatExplanation(e);
  },
  dma_copy: async (s, _who, r) => {
    const dst = r.need(r.attachments, s.dst, 'attachment');
    const src = r.need(r.attachments, s.src, 'attachment');
    if (dst.client !== src.client) throw new SmafError('EINVAL', 'scenario: dma_copy r.attachments must be in the same client');
    const n = await (await r.client(dst.client)).dmaCopy(dst.fd, dst.id, src.fd, src.id, s.length, { transform: s.transform === 'decrypt' ? 1 : 0, srcOffset: s.src_offset, dstOffset: s.dst_offset });
    return `${dst.device} ${s.transform === 'decrypt' ? 'decrypted' : 'copied'} ${formatSize(n)}`;
  },
  dma_crc: async (s, _who, r) => {
    const a = r.need(r.attachments, s.attachment, 'attachment');
    const crc = await (await r.client(a.client)).dmaCrc(a.fd, a.id, s.offset, s.length);
    if (s.as) r.crcs.set(s.as, crc);
    // the expected content: the text, then zeros up to the length (r.buffers start zeroed)
    const padded = (t: string): Uint8Array => {
      const b = new Uint8Array(s.length);
      b.set(new TextEncoder().encode(t).subarray(0, s.length));
      return b;
    };
    const want = s.expect_text_crc !== undefined ? crc32.buf(padded(s.expect_text_crc)) >>> 0 : typeof s.expect === 'string' ? r.need(r.crcs, s.expect, 'crc') : s.expect;
    if (want !== undefined && want !== crc) throw new SmafError('EIO', `crc 0x${crc.toString(16)} differs from the expected 0x${want.toString(16)}`);
    return `${a.device} CRC of ${formatSize(s.length)}: 0x${crc.toString(16).padStart(8, '0')}${want !== undefined ? ' (as expected)' : ''}`;
  },
  disconnect: async (s, _who, r) => {
    const c = r.clients.get(s.client);
    if (!c) throw new SmafError('EINVAL', `scenario: no client "${s.client}"`);
    c.destroy();
    r.clients.delete(s.client);
    for (const m of [r.buffers, r.attachments, r.mappings] as Map<string, Handle>[]) for (const [k, v] of m) if (v.client === s.client) m.delete(k);
    await new Promise((r) => setTimeout(r, 50));
    return `client ${s.client} dropped its connection (as a crash would)`;
  },
  pool: async (s, who, r) => {
    const c = await r.client(who);
    const names: string[] = [];
    for (let i = 0; i < s.count; i++) {
      const fd = await c.create(s.size);
      if (s.secure) await c.setSecure(fd, true);
      await nameFrame(c, fd, s.layout);
      names.push(`${s.name}[${i}]`);
      r.buffers.set(names[i]!, { client: who, fd });
    }
    r.pools.set(s.name, { buffers: names });
    const what = s.frame ? `${s.frame} frames of ${s.size} bytes` : `buffers of ${formatSize(s.size)}`;
    return `a ring of ${s.count} ${what}${s.secure ? ', secure' : ''}: ${names[0]}..${names.at(-1)}, no memory yet`;
  },
  stream: async (s, _who, r) => {
    const { detail, report } = await runStream(r, s.frames, s.stages);
    return { detail, stream: report };
  },
};
