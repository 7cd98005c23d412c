import { loadAddon } from './src/native/addon.ts';
import { createSmafSystem } from './src/testing/index.ts';
import { BufferFiles } from './src/daemon/buffer-files.ts';
import { DmaDirection } from './src/core/index.ts';
import { closeSync } from 'node:fs';
const addon = loadAddon().addon!;
const { smaf, platform } = createSmafSystem();
const files = new BufferFiles(addon, smaf, () => {});
for (let round = 0; round < 6; round++) {
  const buf = smaf.create(256 * 1024 * 1024);
  const gpu = buf.attach(platform.device('gpu'));
  let t = performance.now();
  buf.map(gpu, DmaDirection.BIDIRECTIONAL);
  const alloc = performance.now() - t;
  t = performance.now();
  const fd = files.handOut(buf, 2);
  const share = performance.now() - t;
  buf.unmap(gpu); buf.detach(gpu); buf.put(); closeSync(fd);
  t = performance.now();
  files.settle();
  const rel = performance.now() - t;
  console.log(`segments ${buf.backing?.segments.length ?? '-'} alloc+map ${alloc.toFixed(1)} share ${share.toFixed(1)} ms, release ${rel.toFixed(1)} ms`);
}
