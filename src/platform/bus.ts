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

/** n bytes from physical address src to dst. */
export interface CopyPiece {
  readonly dst: number;
  readonly src: number;
  readonly n: number;
}

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
   * A device copies memory to memory: every source piece is checked for reading first (a refused
   * read writes nothing), then each piece is checked for writing and copied, with no staging copy.
   */
  copy(initiator: Initiator, pieces: readonly CopyPiece[]): void {
    for (const p of pieces) this.admit(initiator, p.src, p.n, 'read');
    const c = this.counter(initiatorName(initiator));
    for (const p of pieces) {
      this.admit(initiator, p.dst, p.n, 'write');
      this.memory.copy(p.dst, p.src, p.n);
      c.reads++;
      c.bytesRead += p.n;
      c.writes++;
      c.bytesWritten += p.n;
    }
  }

  stats(): Record<string, BusCounters> {
    return Object.fromEntries([...this.counters].map(([k, v]) => [k, { ...v }]));
  }
}
