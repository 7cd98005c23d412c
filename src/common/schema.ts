/** Zod pieces shared by the platform loader and the scenario runner. */
import { z } from 'zod';
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
