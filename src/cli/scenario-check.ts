/**
 * A scenario checked before anything runs: every buffer, attachment, mapping, pool and CRC a step
 * names was defined by an earlier step (and not closed since), no step defines a name that is still
 * in use, every device exists on the platform, and a DMA copy's two ends belong to one client.
 * A step expected to fail defines nothing. Also says which buffer each step acts on, for its output.
 */
import { SmafError } from '../common/errors.ts';
import { atLine, type Scenario, type Step } from './scenario-schema.ts';

interface Issue {
  readonly index: number;
  readonly field: string;
  readonly message: string;
}

interface Defined {
  readonly buffer: string;
  readonly client: string;
  readonly index: number;
}

type Args = Record<string, unknown> & { client?: string; expect_error?: string };

/** The names a scenario has defined so far, as it runs step by step. */
class Names {
  readonly buffers = new Map<string, Defined>();
  readonly attachments = new Map<string, Defined & { device: string }>();
  readonly mappings = new Map<string, Defined>();
  readonly pools = new Map<string, { count: number; client: string }>();
  readonly crcs = new Set<string>();
  readonly clients = new Set<string>(['main']);
  readonly issues: Issue[] = [];

  constructor(private readonly scenario: Scenario, private readonly devices: ReadonlySet<string> | null) {}

  issue(index: number, field: string, message: string): void {
    this.issues.push({ index, field, message });
  }

  need<T>(map: ReadonlyMap<string, T>, name: string, what: string, index: number, field: string): T | undefined {
    const v = map.get(name);
    if (v === undefined) {
      const known = [...map.keys()];
      this.issue(index, field, `no ${what} named "${name}" is defined before this step${known.length ? ` (${what}s: ${known.slice(0, 12).join(', ')})` : ''}`);
    }
    return v;
  }

  define<T extends { index: number }>(map: Map<string, T>, name: string, value: T, what: string, field: string): void {
    const old = map.get(name);
    if (old !== undefined) {
      this.issue(value.index, field, `"${name}" is already ${what === 'attachment' ? 'an' : 'a'} ${what} (defined at ${atLine(this.scenario, old.index)}steps[${old.index}]): close it first, or pick another name`);
      return;
    }
    map.set(name, value);
  }

  device(name: string, index: number, field: string): void {
    if (this.devices && !this.devices.has(name)) this.issue(index, field, `no device "${name}" on this platform (devices: ${[...this.devices].filter((d) => !d.startsWith('/')).join(', ')})`);
  }

  /** A buffer closed or its client gone: what named it, or its fds, goes with it. */
  forgetBuffer(name: string): void {
    this.buffers.delete(name);
    for (const m of [this.attachments, this.mappings]) for (const [k, v] of m) if (v.buffer === name) m.delete(k);
  }
}

/** What each action does to the names, and the buffer it acts on (for its output). */
const CHECKS: Readonly<Record<string, (a: Args, n: Names, i: number, live: boolean) => string | undefined>> = {
  create: (a, n, i, live) => {
    if (live) n.define(n.buffers, a.buffer as string, { buffer: a.buffer as string, client: a.client ?? 'main', index: i }, 'buffer', 'buffer');
    return a.buffer as string;
  },
  attach: (a, n, i, live) => {
    n.device(a.device as string, i, 'device');
    const b = n.need(n.buffers, a.buffer as string, 'buffer', i, 'buffer');
    if (b && live) n.define(n.attachments, a.as as string, { ...b, buffer: a.buffer as string, device: a.device as string, index: i }, 'attachment', 'as');
    return a.buffer as string;
  },
  detach: (a, n, i, live) => {
    const att = n.need(n.attachments, a.attachment as string, 'attachment', i, 'attachment');
    if (live) n.attachments.delete(a.attachment as string);
    return att?.buffer;
  },
  mmap: (a, n, i, live) => {
    const b = n.need(n.buffers, a.buffer as string, 'buffer', i, 'buffer');
    if (b && live && typeof a.as === 'string') n.define(n.mappings, a.as, { ...b, buffer: a.buffer as string, index: i }, 'mapping', 'as');
    return a.buffer as string;
  },
  munmap: (a, n, i, live) => {
    const m = n.need(n.mappings, a.mapping as string, 'mapping', i, 'mapping');
    if (live) n.mappings.delete(a.mapping as string);
    return m?.buffer;
  },
  share: (a, n, i, live) => {
    const b = n.need(n.buffers, a.buffer as string, 'buffer', i, 'buffer');
    n.clients.add(a.to as string);
    if (b && live) n.define(n.buffers, a.as as string, { buffer: a.as as string, client: a.to as string, index: i }, 'buffer', 'as');
    return a.buffer as string;
  },
  dup: (a, n, i, live) => {
    const b = n.need(n.buffers, a.buffer as string, 'buffer', i, 'buffer');
    if (b && live) n.define(n.buffers, a.as as string, { ...b, buffer: a.as as string, index: i }, 'buffer', 'as');
    return a.buffer as string;
  },
  close: (a, n, i, live) => {
    n.need(n.buffers, a.buffer as string, 'buffer', i, 'buffer');
    if (live) n.forgetBuffer(a.buffer as string);
    return a.buffer as string;
  },
  dma_copy: (a, n, i) => {
    const dst = n.need(n.attachments, a.dst as string, 'attachment', i, 'dst');
    const src = n.need(n.attachments, a.src as string, 'attachment', i, 'src');
    if (dst && src && dst.client !== src.client) n.issue(i, 'src', `"${a.src as string}" belongs to client ${src.client} and "${a.dst as string}" to ${dst.client}: a DMA copy runs in one client (share the buffer first)`);
    return `${src?.buffer ?? '?'} -> ${dst?.buffer ?? '?'}`;
  },
  dma_crc: (a, n, i, live) => {
    const att = n.need(n.attachments, a.attachment as string, 'attachment', i, 'attachment');
    if (typeof a.expect === 'string' && !n.crcs.has(a.expect)) n.issue(i, 'expect', `no CRC named "${a.expect}" is taken before this step (dma_crc ... as: NAME)`);
    if (live && typeof a.as === 'string') n.crcs.add(a.as);
    return att?.buffer;
  },
  disconnect: (a, n, i, live) => {
    const client = a.client as string;
    if (!n.clients.has(client)) n.issue(i, 'client', `no client "${client}" has run a step before this one (clients: ${[...n.clients].join(', ')})`);
    if (live) for (const [k, v] of n.buffers) if (v.client === client) n.forgetBuffer(k);
    return undefined;
  },
  pool: (a, n, i, live) => {
    const name = a.name as string;
    const count = a.count as number;
    if (live && n.pools.has(name)) n.issue(i, 'name', `"${name}" is already a pool: pick another name`);
    else if (live) n.pools.set(name, { count, client: a.client ?? 'main' });
    if (live) for (let k = 0; k < count; k++) n.define(n.buffers, `${name}[${k}]`, { buffer: `${name}[${k}]`, client: a.client ?? 'main', index: i }, 'buffer', 'name');
    return `${name}[0..${count - 1}]`;
  },
  stream: (a, n, i, live) => streamCheck(a, n, i, live),
  say: () => undefined,
};

/** Each stage's device exists, its pools are pools, its `from` a buffer; the attachments the stream makes get their names. */
function streamCheck(a: Args, n: Names, i: number, live: boolean): string {
  const stages = a.stages as { device: string; client?: string; reads?: string; writes?: string; from?: string }[];
  const pools = new Set<string>();
  stages.forEach((s, k) => {
    n.device(s.device, i, `stages[${k}].device`);
    if (s.client) n.clients.add(s.client);
    for (const field of ['reads', 'writes'] as const) {
      const p = s[field];
      if (p === undefined) continue;
      if (n.pools.has(p)) pools.add(p);
      else n.issue(i, `stages[${k}].${field}`, `no pool named "${p}" is defined before this step (pool: { name: ${p}, count: N, size: ... })`);
    }
    if (s.from !== undefined) n.need(n.buffers, s.from, 'buffer', i, `stages[${k}].from`);
  });
  if (live) {
    for (const s of stages) {
      const buffers = [s.reads, s.writes].flatMap((p) => (p && n.pools.has(p) ? Array.from({ length: n.pools.get(p)!.count }, (_, k) => `${p}[${k}]`) : []));
      if (s.from !== undefined && n.buffers.has(s.from)) buffers.push(s.from);
      for (const b of buffers) {
        const owner = n.buffers.get(b);
        // the stage's client drives the device (it is given the buffer): the attachment is its
        if (owner && !n.attachments.has(`${b}@${s.device}`)) n.attachments.set(`${b}@${s.device}`, { ...owner, client: s.client ?? owner.client, buffer: b, device: s.device, index: i });
      }
    }
  }
  return [...pools].join(', ');
}

/** The buffer of a step that names one directly. */
const bufferOf = (a: Args): string | undefined => (typeof a.buffer === 'string' ? a.buffer : undefined);

export interface ScenarioCheck {
  /** The buffer (or pool, or copy) each step acts on, for its output; undefined for a `say`. */
  readonly targets: readonly (string | undefined)[];
}

/**
 * Check a parsed scenario before it runs. `devices`: the platform's device names (and node paths),
 * or null to leave devices to the daemon. EINVAL naming each problem's line, step and field.
 */
export function checkScenario(scenario: Scenario, devices: ReadonlySet<string> | null): ScenarioCheck {
  const n = new Names(scenario, devices);
  const targets = scenario.steps.map((step: Step, index) => {
    const action = Object.keys(step)[0]!;
    if (action === 'say') return undefined;
    const args = (step as Record<string, Args>)[action]!;
    if (args.client && action !== 'disconnect') n.clients.add(args.client); // disconnect's client is the one it drops
    const live = args.expect_error === undefined;
    const check = CHECKS[action];
    if (check) return check(args, n, index, live);
    // secure, map, unmap, write, read, sync, stat, explain: they only use a name
    if ('attachment' in args) return n.need(n.attachments, args.attachment as string, 'attachment', index, 'attachment')?.buffer;
    if ('mapping' in args) return n.need(n.mappings, args.mapping as string, 'mapping', index, 'mapping')?.buffer;
    const b = bufferOf(args);
    if (b !== undefined) n.need(n.buffers, b, 'buffer', index, 'buffer');
    return b;
  });
  if (n.issues.length) {
    const rows = n.issues.slice(0, 12).map((x) => {
      const action = Object.keys(scenario.steps[x.index]!)[0]!;
      return `  ${atLine(scenario, x.index)}steps[${x.index}].${action}.${x.field}: ${x.message}`;
    });
    const more = n.issues.length > rows.length ? `\n  ... and ${n.issues.length - rows.length} more` : '';
    throw new SmafError('EINVAL', `${scenario.source ?? 'the scenario'} would fail part-way: nothing was run\n${rows.join('\n')}${more}`);
  }
  return { targets };
}
