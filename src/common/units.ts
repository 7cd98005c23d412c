/** Sizes and addresses as users write them: 4096, "0x1000", "64MiB", "1 GiB", "512KiB". */
import { SmafError } from './errors.ts';

const SUFFIX: Readonly<Record<string, number>> = {
  '': 1, B: 1, K: 1024, KB: 1024, KIB: 1024, M: 1024 ** 2, MB: 1024 ** 2, MIB: 1024 ** 2,
  G: 1024 ** 3, GB: 1024 ** 3, GIB: 1024 ** 3, T: 1024 ** 4, TB: 1024 ** 4, TIB: 1024 ** 4,
};

/** Parse a size or address a user wrote; throws EINVAL with the reason. Results stay within 2^53. */
export function parseSize(value: number | string): number {
  let n: number;
  if (typeof value === 'number') {
    n = value;
  } else {
    const s = value.trim().replace(/_/g, '');
    const hex = /^0x([0-9a-f]+)$/i.exec(s);
    const dec = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s);
    if (hex) n = parseInt(hex[1] as string, 16);
    else if (dec) {
      const mult = SUFFIX[(dec[2] as string).toUpperCase()];
      if (mult === undefined) throw new SmafError('EINVAL', `unknown size suffix "${dec[2]}" in "${value}" (use KiB, MiB, GiB)`);
      n = Number(dec[1]) * mult;
    } else throw new SmafError('EINVAL', `"${value}" is not a size (examples: 4096, 0x1000, 64MiB)`);
  }
  if (!Number.isSafeInteger(n) || n < 0) throw new SmafError('EINVAL', `${String(value)} is not a whole number of bytes below 2^53`);
  return n;
}

/**
 * Human size: exact in the largest unit that divides it ("3040 KiB"), else to one decimal without a
 * trailing ".0" ("15.9 MiB"; 2^32 - 4096 bytes is "4 GiB", as 1 GiB beside it): one format everywhere.
 */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1 && v % 1024 === 0) {
    v /= 1024;
    i++;
  }
  if (v < 10240 || i === units.length - 1) return `${v} ${units[i]}`;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}

export function hex(n: number | bigint, width = 8): string {
  return `0x${n.toString(16).padStart(width, '0')}`;
}

export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}
