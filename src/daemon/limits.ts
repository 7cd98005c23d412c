/**
 * smafd's limits: every resource a client can make it hold is bounded (docs/protocol.md, "Limits").
 * Per-client limits count per account (accounts.ts) and answer the request that would pass them;
 * daemon-wide ones protect everyone. The settings, their option names, and the checks.
 */
import { SmafError } from '../common/errors.ts';
import { formatSize } from '../common/units.ts';
import type { SmafBuffer } from '../core/index.ts';
import type { Account } from './accounts.ts';

export interface LimitSettings {
  /** Open fds per client. */
  readonly maxFds: number;
  /** Bytes of buffers one client may hold (counting every buffer it has an fd of). */
  readonly maxClientBytes: number;
  /** Distinct buffers one client may hold. */
  readonly maxClientBuffers: number;
  /** Attachments and CPU mappings per fd. */
  readonly maxAttachmentsPerFd: number;
  readonly maxMappingsPerFd: number;
  /** Bytes one READ may return. */
  readonly maxIo: number;
  /** Secure buffers one client may have mapped at once (each takes a region of the SDP table). */
  readonly maxClientSecureMaps: number;
  /**
   * Regions of the SDP table kept for clients that have no secure buffer mapped (at most a quarter
   * of the table): a client that has one may not take the last of them.
   */
  readonly sdpReserve: number;
  /** Clients connected at once (both sockets), buffers alive and fds open in the whole daemon. */
  readonly maxClients: number;
  readonly maxBuffers: number;
  readonly maxTotalFds: number;
  /** Answer bytes queued for one connection before smafd stops reading its requests. */
  readonly maxClientBacklog: number;
  /** Answer bytes queued for all connections together; past it the one with most is closed. */
  readonly maxTotalBacklog: number;
  /** Bytes held for incomplete requests, all connections together. */
  readonly maxPendingBytes: number;
  /** Milliseconds a connection may leave a request half-sent before it is closed. */
  readonly readTimeoutMs: number;
}

export const DEFAULT_LIMITS: LimitSettings = {
  maxFds: 1024,
  maxClientBytes: 512 * 1024 * 1024,
  maxClientBuffers: 1024,
  maxAttachmentsPerFd: 64,
  maxMappingsPerFd: 256,
  maxIo: 16 * 1024 * 1024 - 64,
  maxClientSecureMaps: 8,
  sdpReserve: 4,
  maxClients: 2048,
  maxBuffers: 200_000,
  maxTotalFds: 400_000,
  maxClientBacklog: 64 * 1024 * 1024,
  maxTotalBacklog: 256 * 1024 * 1024,
  maxPendingBytes: 256 * 1024 * 1024,
  readTimeoutMs: 30_000,
};

/** What every limit is called on the command line and in docs (`--max-client-fds` for maxFds...). */
export const LIMIT_OPTIONS: Readonly<Record<keyof LimitSettings, string>> = {
  maxFds: 'max-client-fds',
  maxClientBytes: 'max-client-bytes',
  maxClientBuffers: 'max-client-buffers',
  maxAttachmentsPerFd: 'max-attachments-per-fd',
  maxMappingsPerFd: 'max-mappings-per-fd',
  maxIo: 'max-io',
  maxClientSecureMaps: 'max-client-secure-maps',
  sdpReserve: 'sdp-reserve',
  maxClients: 'max-clients',
  maxBuffers: 'max-total-buffers',
  maxTotalFds: 'max-total-fds',
  maxClientBacklog: 'max-client-backlog',
  maxTotalBacklog: 'max-total-backlog',
  maxPendingBytes: 'max-pending-bytes',
  readTimeoutMs: 'read-timeout',
};

/** Who a limit charges: the asking session's label (for messages) and its account. */
interface Charged {
  readonly label: string;
  readonly account: Account;
}

/** The SDP region table the secure module fills: its size and how many regions are in use. */
export interface RegionTable {
  readonly capacity: number;
  readonly used: number;
}

export class Limits {
  /** fds open in the whole daemon. */
  totalFds = 0;

  constructor(
    readonly settings: LimitSettings = DEFAULT_LIMITS,
    private readonly liveBuffers: () => number = () => 0,
    private readonly sdpTable: () => RegionTable | null = () => null,
  ) {}

  get maxIo(): number {
    return this.settings.maxIo;
  }

  checkFds(s: Charged): void {
    const open = s.account.fds;
    if (open >= this.settings.maxFds) throw new SmafError('EMFILE', `${s.label} has ${open} fds open, the limit (max_fds) is ${this.settings.maxFds}`);
    if (this.totalFds >= this.settings.maxTotalFds) throw new SmafError('ENFILE', `smafd has ${this.totalFds} fds open in all, the limit (max_total_fds) is ${this.settings.maxTotalFds}`);
  }

  checkCreate(s: Charged, length: bigint): void {
    const live = this.liveBuffers();
    if (live >= this.settings.maxBuffers) throw new SmafError('ENOMEM', `smafd holds ${live} buffers in all, the limit (max_buffers) is ${this.settings.maxBuffers}`);
    const { held } = s.account;
    if (held.buffers >= this.settings.maxClientBuffers) {
      throw new SmafError('ENOMEM', `${s.label} holds ${held.buffers} buffers, the per-client limit (max_client_buffers) is ${this.settings.maxClientBuffers}`);
    }
    if (BigInt(held.bytes) + length > BigInt(this.settings.maxClientBytes)) {
      throw new SmafError('ENOMEM', `${s.label} holds ${formatSize(held.bytes)}; ${length} more bytes would pass the per-client limit (max_client_bytes) of ${formatSize(this.settings.maxClientBytes)}`);
    }
  }

  checkAttachments(s: Charged, n: number): void {
    if (n >= this.settings.maxAttachmentsPerFd) throw new SmafError('ENOMEM', `${s.label}: ${n} attachments on one fd, the limit (max_attachments_per_fd) is ${this.settings.maxAttachmentsPerFd}`);
  }

  /**
   * A secure buffer mapped takes a region of the platform's small SDP table, shared by every client.
   * An account gets at most `maxClientSecureMaps`, and one that has any may not take the table's
   * last `sdpReserve` regions (at most a quarter of it): they stay for clients that have none.
   * Mapping a buffer some device has mapped already takes no new region.
   */
  checkSecureMap(s: Charged, buf: SmafBuffer): void {
    const a = s.account;
    if (a.hasSecureMapped(buf)) return;
    const mine = a.secureMapped;
    if (mine >= this.settings.maxClientSecureMaps) {
      throw new SmafError('ENOSPC', `${s.label} has ${mine} secure buffers mapped, the per-client limit (max_client_secure_maps) is ${this.settings.maxClientSecureMaps}: the SDP region table is shared by every client`);
    }
    const table = this.sdpTable();
    if (!table || mine === 0 || buf.attachments.some((x) => x.mapped)) return;
    const reserve = Math.min(this.settings.sdpReserve, Math.floor(table.capacity / 4));
    const free = table.capacity - table.used;
    if (free - 1 < reserve) {
      throw new SmafError('ENOSPC', `${s.label} has ${mine} secure buffers mapped and the SDP region table has ${free} of ${table.capacity} regions free: the last ${reserve} are kept for clients that have none mapped (sdp_reserve)`);
    }
  }

  checkMappings(s: Charged, n: number): void {
    if (n >= this.settings.maxMappingsPerFd) throw new SmafError('ENOMEM', `${s.label}: ${n} mappings on one fd, the limit (max_mappings_per_fd) is ${this.settings.maxMappingsPerFd}`);
  }
}

