/**
 * The memory bus: every device and CPU access to physical memory goes through `read`/`write`,
 * which ask the firewall, count the access and log denials (who, where, why). `peek` is for
 * inspection only: no check, no count, no side effect, and it is never reachable from a client.
 */
import { SmafError } from '../common/errors.ts';
import { hex } from '../common/units.ts';
import type { Device } from './device.ts';
import type { EventLog } from './events.ts';
import type { PhysicalMemory } from './memory.ts';
import type { PhysPieces } from './pieces.ts';

export type Initiator =
  | { readonly kind: 'cpu' }
  | { readonly kind: 'device'; readonly device: Device }
  | { readonly kind: 'secure-world'; readonly who: string };

export type Access = 'read' | 'write';

export const CPU: Initiator = Object.freeze({ kind: 'cpu' });

function initiatorName(i: Initiator): string {
  return i.kind === 'cpu' ? 'cpu' : i.kind === 'device' ? i.device.name : `tee:${i.who}`;
}

/** Decides each access; returns null to allow or the reason for a denial. */
export interface Firewall {
  readonly name: string;
  check(initiator: Initiator, addr: number, length: number, access: Access): string | null;
}

/** Allows everything: the bus of a platform without a secure video path. */
export const permissiveFirewall: Firewall = Object.freeze({
  name: 'permissive',
  check: () => null,
});

export interface BusCounters {
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
  denials: number;
}

export class MemoryBus {
  private firewallImpl: Firewall = permissiveFirewall;
  private readonly counters = new Map<string, BusCounters>();

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly events: EventLog,
  ) {}

  get firewall(): Firewall {
    return this.firewallImpl;
  }

  setFirewall(fw: Firewall): void {
    this.firewallImpl = fw;
  }

  private counter(who: string): BusCounters {
    let c = this.counters.get(who);
    if (!c) {
      c = { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, denials: 0 };
      this.counters.set(who, c);
    }
    return c;
  }

  private admit(initiator: Initiator, addr: number, length: number, access: Access): void {
    const who = initiatorName(initiator);
    if (!this.memory.contains(addr, length)) {
      throw new SmafError('EFAULT', `${who} ${access} at ${hex(addr)}+${length}: no memory there`);
    }
    // the secure world asks the firewall too (the SDP firewall lets it through: see firewall.ts)
    const reason = this.firewallImpl.check(initiator, addr, length, access);
    if (reason !== null) {
      this.counter(who).denials++;
      this.events.emit({ kind: 'denial', actor: who, addr, length, message: `firewall refused ${who} ${access} of ${length} bytes at ${hex(addr)}: ${reason}` });
      throw new SmafError('EACCES', `firewall refused ${who} ${access} at ${hex(addr)}: ${reason}`);
    }
  }

  read(initiator: Initiator, addr: number, dst: Uint8Array): void {
    this.admit(initiator, addr, dst.length, 'read');
    this.memory.read(addr, dst);
    const c = this.counter(initiatorName(initiator));
    c.reads++;
    c.bytesRead += dst.length;
  }

  write(initiator: Initiator, addr: number, src: Uint8Array): void {
    this.admit(initiator, addr, src.length, 'write');
    this.memory.write(addr, src);
    const c = this.counter(initiatorName(initiator));
    c.writes++;
    c.bytesWritten += src.length;
  }

  /**
   * A device copies memory to memory, `src` onto `dst` (pieces of the same total length, paired up
   * in order): every source piece is checked for reading first (a refused read writes nothing),
   * then each destination piece is checked for writing and filled, with no staging copy.
   */
  copy(initiator: Initiator, dst: PhysPieces, src: PhysPieces): void {
    if (dst.total !== src.total) throw new RangeError(`copy of ${src.total} bytes into ${dst.total}`);
    for (let i = 0; i < src.count; i++) this.admit(initiator, src.addr(i), src.length(i), 'read');
    const c = this.counter(initiatorName(initiator));
    let i = 0;
    let si = 0;
    for (let j = 0; j < dst.count; j++) {
      const to = dst.addr(j);
      const n = dst.length(j);
      this.admit(initiator, to, n, 'write');
      for (let dj = 0; dj < n;) {
        const k = Math.min(src.length(i) - si, n - dj);
        this.memory.copy(to + dj, src.addr(i) + si, k);
        si += k;
        dj += k;
        if (si === src.length(i)) [i, si] = [i + 1, 0];
      }
      c.reads++;
      c.bytesRead += n;
      c.writes++;
      c.bytesWritten += n;
    }
  }

  stats(): Record<string, BusCounters> {
    return Object.fromEntries([...this.counters].map(([k, v]) => [k, { ...v }]));
  }
}
