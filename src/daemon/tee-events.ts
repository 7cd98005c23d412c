/**
 * The journal events of the TEE subsystem (kind `tee`, with the facts in `tee`): shared memory
 * registered and released, sessions opened and closed, and each TA invocation with its UUID,
 * command, result, origin and duration. An event that concerns a dma-buf names it (`buffer`), so
 * it shows on that buffer's row of the timeline and in the events of whoever holds it.
 */
import { teeOriginName, teeResultName, type EventInput } from '../platform/index.ts';

export interface TeeEventSink {
  emit(e: EventInput): unknown;
}

interface Who {
  readonly label: string;
}

interface TeeShm {
  readonly id: number;
  readonly kind: 'alloc' | 'registered' | 'dma-buf';
  readonly size: number;
  readonly buffer?: { readonly id: number };
}

interface TeeSessionInfo {
  readonly id: number;
  readonly uuid: string;
  readonly ta: string;
}

export interface TeeCallFacts {
  readonly uuid: string;
  readonly ta: string;
  readonly session: number;
  readonly command?: number;
  readonly code: number;
  readonly origin: number;
  readonly reason: string;
  /** Microseconds the TEE took. */
  readonly us: number;
  /** The first dma-buf a memref reached. */
  readonly buffer: number | undefined;
}

const KINDS: Readonly<Record<TeeShm['kind'], string>> = { alloc: 'allocated', registered: 'registered user memory', 'dma-buf': 'a dma-buf' };

const round = (us: number): number => Math.round(us * 10) / 10;
const outcome = (f: TeeCallFacts): string => `${teeResultName(f.code)} (${teeOriginName(f.origin)})${f.reason ? `: ${f.reason}` : ''}`;
const onBuffer = (buffer: number | undefined) => (buffer !== undefined ? { buffer } : {});

export const teeEvent = {
  shmRegistered: (who: Who, shm: TeeShm): EventInput => ({
    kind: 'tee', actor: 'tee', ...onBuffer(shm.buffer?.id), length: shm.size,
    message: shm.buffer
      ? `${who.label} registered buffer ${shm.buffer.id} with the TEE: shared memory ${shm.id} (${shm.size} bytes)`
      : `${who.label} has TEE shared memory ${shm.id}: ${KINDS[shm.kind]}, ${shm.size} bytes`,
    tee: { what: 'shm-register', shm: shm.id },
  }),
  shmReleased: (who: Who, shm: TeeShm): EventInput => ({
    kind: 'tee', actor: 'tee', ...onBuffer(shm.buffer?.id),
    message: `${who.label} released TEE shared memory ${shm.id}${shm.buffer ? ` (buffer ${shm.buffer.id})` : ''}`,
    tee: { what: 'shm-release', shm: shm.id },
  }),
  opened: (who: Who, f: TeeCallFacts): EventInput => ({
    kind: 'tee', actor: f.ta, ...onBuffer(f.buffer),
    message: f.session !== 0
      ? `${who.label} opened session ${f.session} to ${f.ta} (${f.uuid}) in ${round(f.us)} µs`
      : `${who.label}: a session to ${f.uuid} was refused: ${outcome(f)}`,
    tee: { what: 'open-session', uuid: f.uuid, ta: f.ta, session: f.session, result: f.code, origin: f.origin, durationUs: round(f.us) },
  }),
  invoked: (who: Who, f: TeeCallFacts): EventInput => ({
    kind: 'tee', actor: f.ta, ...onBuffer(f.buffer),
    message: `${who.label}: ${f.ta} command ${f.command} (session ${f.session}) -> ${outcome(f)} in ${round(f.us)} µs`,
    tee: { what: 'invoke', uuid: f.uuid, ta: f.ta, session: f.session, command: f.command ?? 0, result: f.code, origin: f.origin, durationUs: round(f.us) },
  }),
  closed: (who: Who, s: TeeSessionInfo): EventInput => ({
    kind: 'tee', actor: s.ta,
    message: `${who.label} closed session ${s.id} to ${s.ta}`,
    tee: { what: 'close-session', uuid: s.uuid, ta: s.ta, session: s.id },
  }),
};
