/** `smaf create`: a buffer, optionally secure, attached and mapped; `--hold` keeps it alive. */
import { SmafClient } from '../client/client.ts';
import { isSmafError, SmafError } from '../common/errors.ts';
import { frameLabel, frameLayout, isFrameSpec, type FrameLayout } from '../common/pixel-format.ts';
import { parseSize } from '../common/units.ts';
import { formatExplanation } from '../core/explain.ts';
import { parseDirections } from './cli-support.ts';
import type { Cli } from './context.ts';
import { formatFrameLayout } from './frame-text.ts';
import { holdUntilInterrupt } from './pace.ts';

export interface CreateOptions {
  readonly name?: string;
  readonly secure?: boolean;
  readonly attach?: string;
  readonly map?: boolean;
  readonly hold?: boolean;
  readonly direction?: string;
  readonly align?: number;
  readonly alignPlane?: number;
  readonly alignHeight?: number;
  readonly modifier?: string;
}

function checkOptions(o: CreateOptions, devices: readonly string[], frame: boolean): void {
  if (o.map && devices.length === 0) throw new SmafError('EINVAL', '--map maps the buffer for its attached devices: give them with --attach (e.g. --attach isp,display --map)');
  if (o.direction !== undefined && !o.map) throw new SmafError('EINVAL', '--direction applies to the maps: add --map');
  const frameOnly = (['align', 'alignPlane', 'alignHeight', 'modifier'] as const).filter((k) => o[k] !== undefined);
  if (!frame && frameOnly.length) {
    const flags = frameOnly.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ');
    throw new SmafError('EINVAL', `${flags} ${frameOnly.length > 1 ? 'apply' : 'applies'} to a frame: give the size as WIDTHxHEIGHT:FORMAT (e.g. 1920x1080:NV12)`);
  }
}

/**
 * A secure map the secure module refused because of its direction (a sink may not write, a
 * decrypter may not read): the error, with the --direction that would do (each device only what
 * its class may do).
 */
async function withDirectionFix(c: SmafClient, e: unknown, o: CreateOptions, devices: readonly string[]): Promise<unknown> {
  if (!o.secure || o.direction !== undefined || !isSmafError(e, 'EPERM') || !/may not (write|read) secure memory/.test(e.message)) return e;
  const classes = new Map((await c.state()).devices.map((d) => [d.name, d.class]));
  const dir = (d: string): string => (classes.get(d) === 'sink' ? 'to-device' : classes.get(d) === 'decrypter' ? 'from-device' : 'bidirectional');
  const fix = devices.map((d) => `${d}=${dir(d)}`).join(',');
  return new SmafError('EPERM', `${e.message}; every device was mapped bidirectionally (the default): map each only the way its class may, e.g. --direction ${fix}`, { cause: e });
}

/** Create, set secure, attach every device first, then map: the memory is chosen once all of them are known. */
async function build(c: SmafClient, size: number, o: CreateOptions, devices: readonly string[], directions: ReadonlyMap<string, 0 | 1 | 2>): Promise<number> {
  const fd = await c.create(BigInt(size), o.name ? { name: o.name } : {});
  if (o.secure) await c.setSecure(fd, true);
  const atts = [];
  for (const d of devices) atts.push(await c.attach(fd, d));
  try {
    if (o.map) for (const [i, att] of atts.entries()) await c.map(fd, att, directions.get(devices[i]!) ?? 0);
  } catch (e) {
    throw await withDirectionFix(c, e, o, devices);
  }
  return fd;
}

function frameOf(length: string, o: CreateOptions): FrameLayout | null {
  if (!isFrameSpec(length)) return null;
  return frameLayout(length, {
    ...(o.align !== undefined ? { align: o.align } : {}),
    ...(o.alignPlane !== undefined ? { alignPlane: o.alignPlane } : {}),
    ...(o.alignHeight !== undefined ? { alignHeight: o.alignHeight } : {}),
    ...(o.modifier !== undefined ? { modifier: o.modifier } : {}),
  });
}

export async function createCommand(cli: Cli, length: string, o: CreateOptions): Promise<void> {
  const { g, out } = cli;
  const devices = o.attach ? o.attach.split(',').map((x) => x.trim()).filter(Boolean) : [];
  checkOptions(o, devices, isFrameSpec(length));
  const frame = frameOf(length, o);
  const directions = parseDirections(o.direction, devices); // a bad --direction fails before anything is created
  const c = await SmafClient.connect(g().socket, { timeoutMs: g().timeout });
  try {
    await c.hello(process.pid, 'smaf create'); // smaf ps and the dashboard name the process that holds the buffer
    const fd = await build(c, frame ? frame.size : parseSize(length), o, devices, directions);
    const label = frame ? frameLabel(frame) : null;
    if (label) await c.setName(fd, label); // its name says its layout: the dashboard draws its planes
    if (frame && !g().json) out(formatFrameLayout(frame));
    const e = await c.explainFd(fd);
    const token = o.hold ? Buffer.from(await c.exportToken(fd)).toString('hex') : undefined;
    if (g().json) out(JSON.stringify({ fd, token, ...(frame ? { frame } : {}), explain: e }, null, 2));
    else out(formatExplanation(e));
    if (!token) {
      if (!g().json) out(`(buffer ${e.buffer} is released when this command exits, as a process's fds close; --hold keeps it)`);
      return;
    }
    if (!g().json) out(`token ${token} (import it with "smaf stat ${token}")`);
    await holdUntilInterrupt(`smaf: holding buffer ${e.buffer} until Ctrl-C`, [c], `buffer ${e.buffer}`);
  } finally {
    await c.close();
  }
}
