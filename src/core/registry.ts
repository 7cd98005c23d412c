/** Registry of allocators and the secure module, validated once at registration. */
import { SmafError } from '../common/errors.ts';
import type { Allocator, SecureModule } from './contracts.ts';

/** An allocator's counters, kept by the registry as the core reports each allocation and free. */
export interface AllocatorStats {
  readonly name: string;
  readonly ranking: number;
  readonly allocations: number;
  readonly failures: number;
  readonly declines: number;
  readonly frees: number;
  readonly bytesInUse: number;
  readonly peak: number;
  readonly buffersInUse: number;
}

type Counters = { -readonly [K in keyof AllocatorStats]: AllocatorStats[K] };

const NAME_RE = /^[\x21-\x7e]{1,63}$/;

export class Registry {
  private readonly allocatorList: Allocator[] = [];
  private readonly statsByName = new Map<string, Counters>();
  private secure: SecureModule | null = null;

  registerAllocator(a: Allocator): void {
    const what = typeof a?.name === 'string' ? `allocator "${a.name}"` : 'allocator';
    if (typeof a !== 'object' || a === null) throw new SmafError('EINVAL', 'cannot register an allocator: not an object');
    if (typeof a.name !== 'string' || !NAME_RE.test(a.name)) throw new SmafError('EINVAL', `cannot register ${what}: name must be 1-63 printable ASCII bytes without spaces`);
    for (const fn of ['match', 'allocate', 'free'] as const) {
      if (typeof a[fn] !== 'function') throw new SmafError('EINVAL', `cannot register ${what}: missing ${fn}()`);
    }
    if (typeof a.ranking !== 'number' || !Number.isFinite(a.ranking)) throw new SmafError('EINVAL', `cannot register ${what}: ranking must be a finite number`);
    if (this.statsByName.has(a.name)) throw new SmafError('EEXIST', `cannot register ${what}: an allocator with that name is already registered`);
    this.allocatorList.push(a);
    this.allocatorList.sort((x, y) => y.ranking - x.ranking || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    this.statsByName.set(a.name, {
      name: a.name, ranking: a.ranking, allocations: 0, failures: 0, declines: 0, frees: 0, bytesInUse: 0, peak: 0, buffersInUse: 0,
    });
  }

  /** Unregister an allocator; EBUSY while it still backs buffers. */
  unregisterAllocator(name: string): void {
    const s = this.statsByName.get(name);
    if (!s) throw new SmafError('ENOENT', `no allocator "${name}" is registered`);
    if (s.buffersInUse > 0) throw new SmafError('EBUSY', `allocator "${name}" still backs ${s.buffersInUse} buffer(s)`);
    this.allocatorList.splice(this.allocatorList.findIndex((a) => a.name === name), 1);
    this.statsByName.delete(name);
  }

  /** Allocators in the order they are asked: ranking descending, then name. */
  get allocators(): readonly Allocator[] {
    return this.allocatorList;
  }

  allocator(name: string): Allocator | undefined {
    return this.allocatorList.find((a) => a.name === name);
  }

  /** A copy of one allocator's counters. */
  stats(name: string): AllocatorStats {
    return { ...this.counters(name) };
  }

  /** @internal the live counters (only the registry's note* methods change them; tests corrupt them). */
  counters(name: string): Counters {
    const s = this.statsByName.get(name);
    if (!s) throw new SmafError('ENOENT', `no allocator "${name}" is registered`);
    return s;
  }

  /** The allocator handed out `bytes` for a buffer. */
  noteAllocation(name: string, bytes: number): void {
    const s = this.counters(name);
    s.allocations++;
    s.buffersInUse++;
    s.bytesInUse += bytes;
    s.peak = Math.max(s.peak, s.bytesInUse);
  }

  /** The allocator matched but gave nothing usable (declined: it said no; else it threw or erred). */
  noteFailure(name: string, declined: boolean): void {
    const s = this.counters(name);
    if (declined) s.declines++;
    s.failures++;
  }

  /** A buffer's `bytes` went back to the allocator. */
  noteFree(name: string, bytes: number): void {
    const s = this.counters(name);
    s.frees++;
    s.buffersInUse--;
    s.bytesInUse -= bytes;
  }

  /** Buffers that have memory now, over every allocator. */
  get buffersInUse(): number {
    let n = 0;
    for (const s of this.statsByName.values()) n += s.buffersInUse;
    return n;
  }

  allStats(): AllocatorStats[] {
    return this.allocatorList.map((a) => ({ ...this.stats(a.name) }));
  }

  registerSecureModule(m: SecureModule): void {
    if (typeof m !== 'object' || m === null || typeof m.name !== 'string' || !NAME_RE.test(m.name)) {
      throw new SmafError('EINVAL', 'cannot register secure module: name must be 1-63 printable ASCII bytes');
    }
    for (const fn of ['createContext', 'destroyContext', 'grantAccess', 'revokeAccess', 'checkCpuAccess'] as const) {
      if (typeof m[fn] !== 'function') throw new SmafError('EINVAL', `cannot register secure module "${m.name}": missing ${fn}()`);
    }
    if (this.secure) throw new SmafError('EBUSY', `cannot register secure module "${m.name}": "${this.secure.name}" is already registered (one at a time)`);
    this.secure = m;
  }

  unregisterSecureModule(name: string, secureBuffersAlive: number): void {
    if (!this.secure || this.secure.name !== name) throw new SmafError('ENOENT', `secure module "${name}" is not registered`);
    if (secureBuffersAlive > 0) throw new SmafError('EBUSY', `secure module "${name}" still guards ${secureBuffersAlive} secure buffer(s)`);
    this.secure = null;
  }

  get secureModule(): SecureModule | null {
    return this.secure;
  }
}
