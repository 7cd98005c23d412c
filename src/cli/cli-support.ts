/** Small pieces of `smaf`: the version, JSON errors, per-device DMA directions. */
import { SmafError } from '../common/errors.ts';

export { packageVersion } from '../uapi/version.ts';

/** A command's exit status other than 0 that is not an error (`smaf replay`: 1 when outcomes differ). */
export class ExitStatus extends Error {
  constructor(readonly status: number) {
    super(`exit status ${status}`);
  }
}

/** What `--json` prints on stdout for an error (the exit code is the same errno). */
export function jsonError(err: SmafError): string {
  return JSON.stringify({ error: { code: err.code, errno: err.errno, message: err.message } });
}

/**
 * A failure already reported inside a command's one JSON document (`smaf run --json`): `main`
 * exits with its errno and prints nothing more, so stdout holds exactly one document.
 */
export class PrintedError extends Error {
  constructor(readonly error: SmafError) {
    super(error.message);
  }
}

const DIRECTIONS = { bidirectional: 0, 'to-device': 1, 'from-device': 2 } as const;

/**
 * `--direction to-device` (every device) or `--direction isp=from-device,display=to-device`; a
 * device not named maps bidirectionally. Unknown directions or devices not attached are EINVAL.
 */
export function parseDirections(spec: string | undefined, devices: readonly string[]): Map<string, 0 | 1 | 2> {
  const out = new Map<string, 0 | 1 | 2>(devices.map((d) => [d, 0]));
  if (spec === undefined) return out;
  const valid = Object.keys(DIRECTIONS).join(', ');
  const dir = (v: string): 0 | 1 | 2 => {
    const n = (DIRECTIONS as Record<string, 0 | 1 | 2>)[v];
    if (n === undefined) throw new SmafError('EINVAL', `--direction: unknown direction "${v}" (valid: ${valid})`);
    return n;
  };
  if (!spec.includes('=')) {
    const n = dir(spec.trim());
    for (const d of devices) out.set(d, n);
    return out;
  }
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [dev, v] = part.split('=', 2) as [string, string | undefined];
    if (!out.has(dev)) throw new SmafError('EINVAL', `--direction: "${dev}" is not attached (--attach ${devices.join(',') || 'DEVICES'})`);
    out.set(dev, dir(v ?? ''));
  }
  return out;
}
