/** Zod pieces shared by the platform loader and the scenario runner. */
import { z } from 'zod';
import { firstUnsafe } from './printable.ts';
import { parseSize } from './units.ts';

/** A size or address as users write it (4096, "0x1000", "64MiB"), validated into a number. */
export const sizeSchema = z.union([z.number(), z.string()]).transform((v, ctx) => {
  try {
    return parseSize(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

/**
 * Text a file gives that clients will be shown (a platform's name, a region's or device's
 * description, a device class): at most `max` characters, and nothing `printable` would have to
 * escape (no control, bidi or invisible character, no newline). The one check for such strings.
 */
export function displayText(max: number): z.ZodString {
  return z.string().max(max).superRefine((value, ctx) => {
    const bad = firstUnsafe(value);
    if (bad) ctx.addIssue({ code: 'custom', message: `holds ${bad.codePoint} at character ${bad.index}: text shown to clients must be printable (no control, bidi or invisible characters, no newline)` });
  });
}
