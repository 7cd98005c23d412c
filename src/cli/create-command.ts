/** `smaf create`: a buffer, optionally secure, attached and mapped; `--hold` keeps it alive. */
import { SmafClient } from '../client/client.ts';
import { SmafError } from '../common/errors.ts';
import { frameLayout, isFrameSpec } from '../common/pixel-format.ts';
import { parseSize } from '../common/units.ts';
import { formatExplanation } from '../core/explain.ts';
import { parseDirections } from './cli-support.ts';
import type { Cli } from './context.ts';
import { formatFrameLayout } from './frame-text.ts';
import { nextInterrupt } from './pace.ts';

export interface CreateOptions {
  readonly name?: string;
  readonly secure?: boolean;
  readonly attach?: string;
  readonly map?: boolean;
  readonly hold?: boolean;
  readonly direction?: string;
  readonly align: number;
}

function checkOptions(o: CreateOptions, devices: readonly string[]): void {
  if (o.map && devices.length === 0) throw new SmafError('EINVAL', '--map maps the buffer for its attached devices: give them with --attach (e.g. --attach isp,display --map)');
  if (o.direction !== undefined && !o.map) throw new SmafError('EINVAL', '--direction applies to the maps: add --map');
}

/** Create, set secure, attach every device first, then map: the memory is chosen once all of them are known. */
async function build(c: SmafClient, size: number, o: CreateOptions, devices: readonly string[], directions: ReadonlyMap<string, 0 | 1 | 2>): Promise<number> {
  const fd = await c.create(BigInt(size), o.name ? { name: o.name } : {});
  if (o.secure) await c.setSecure(fd, true);
  const atts = [];
  for (const d of devices) atts.push(await c.attach(fd, d));
  if (o.map) for (const [i, att] of atts.entries()) await c.map(fd, att, directions.get(devices[i]!) ?? 0);
  return fd;
}

export async function createCommand(cli: Cli, length: string, o: CreateOptions): Promise<void> {
  const { g, out } = cli;
  const frame = isFrameSpec(length) ? frameLayout(length, o.align) : null;
  const devices = o.attach ? o.attach.split(',').map((x) => x.trim()).filter(Boolean) : [];
  checkOptions(o, devices);
  const directions = parseDirections(o.direction, devices); // a bad --direction fails before anything is created
  const c = await SmafClient.connect(g().socket, { timeoutMs: g().timeout });
  try {
    const fd = await build(c, frame ? frame.size : parseSize(length), o, devices, directions);
    if (frame && !g().json) out(formatFrameLayout(frame));
    const e = await c.explainFd(fd);
    const token = o.hold ? Buffer.from(await c.exportToken(fd)).toString('hex') : undefined;
    // listening for Ctrl-C before saying so (see nextInterrupt)
    const interrupted = o.hold ? nextInterrupt() : null;
    if (g().json) out(JSON.stringify({ fd, token, ...(frame ? { frame } : {}), explain: e }, null, 2));
    else {
      out(formatExplanation(e));
      out(token ? `token ${token} (import it with "smaf stat ${token}"); holding the buffer until Ctrl-C` : `(buffer ${e.buffer} is released when this command exits, as a process's fds close; --hold keeps it)`);
    }
    if (interrupted) await interrupted;
  } finally {
    await c.close();
  }
}
