/**
 * The one error type of SMAF-TS. Every failure that can reach a user carries a Linux errno, so the
 * daemon can answer `-errno` on the wire and the CLI can exit with it. Anything else thrown is
 * converted once, at the boundary, by `toSmafError` (never leak a stack trace to a client).
 */

/** Linux errno numbers (asm-generic/errno-base.h, errno.h). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ENOSPC: 28,
  ENOTSOCK: 88,
  ERANGE: 34,
  ENOSYS: 38,
  EOVERFLOW: 75,
  EPROTO: 71,
  EOPNOTSUPP: 95,
  ECONNRESET: 104,
  ETIMEDOUT: 110,
} as const;

export type ErrnoName = keyof typeof Errno;

const NAMES: ReadonlyMap<number, ErrnoName> = new Map(
  (Object.entries(Errno) as [ErrnoName, number][]).map(([name, code]) => [code, name]),
);

export class SmafError extends Error {
  override readonly name = 'SmafError';
  readonly code: ErrnoName;
  readonly errno: number;

  constructor(code: ErrnoName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.errno = Errno[code];
  }

  override toString(): string {
    return `${this.code}: ${this.message}`;
  }
}

/** The name of an errno number (EIO for one this table does not know). */
export function errnoName(errno: number): ErrnoName {
  return NAMES.get(errno) ?? 'EIO';
}

/** Build a SmafError from a raw errno number (as received from the wire). */
export function smafErrorFromErrno(errno: number, message: string): SmafError {
  const name = NAMES.get(errno);
  const err = new SmafError(name ?? 'EIO', message);
  if (name === undefined) Object.defineProperty(err, 'errno', { value: errno });
  return err;
}

/** Whether an error is a bug (anything not raised as a SmafError), as opposed to a refusal. */
export function isInternalError(e: unknown): boolean {
  return !(e instanceof SmafError);
}

export function isSmafError(e: unknown, code?: ErrnoName): e is SmafError {
  return e instanceof SmafError && (code === undefined || e.code === code);
}

/**
 * Convert anything thrown into a SmafError. Input is validated at the boundary, where bad input
 * raises EINVAL explicitly; anything else that was thrown (a TypeError "x is not a function", a
 * RangeError from a codec on bytes nobody checked) is a bug: EIO, with the original as `cause` so
 * that the daemon can log its stack. `isInternalError` tells the two apart.
 */
export function toSmafError(e: unknown): SmafError {
  if (e instanceof SmafError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new SmafError('EIO', `internal error: ${message}`, { cause: e });
}
