/** How `smaf create 1920x1080:NV12` prints a frame's planes. */
import type { FrameLayout } from '../common/pixel-format.ts';
import { formatSize } from '../common/units.ts';

export function formatFrameLayout(l: FrameLayout): string {
  const rows = l.planes.map((p) => `  plane ${p.name.padEnd(5)} offset ${String(p.offset).padStart(9)}  stride ${String(p.stride).padStart(6)}  rows ${String(p.rows).padStart(5)}  size ${String(p.size).padStart(9)} (${formatSize(p.size)})`);
  return [`frame ${l.width}x${l.height} ${l.format}${l.align > 1 ? `, strides aligned to ${l.align}` : ''}: ${l.size} bytes (${formatSize(l.size)}) in one buffer`, ...rows].join('\n');
}
