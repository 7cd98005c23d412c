/**
 * A CRC runs in slices, and other clients run between them (attack found in review): labels are
 * checked right before each slice is read, so data written into the range mid-CRC by anyone else
 * is never folded into the result.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError } from '../common/errors.ts';
import { createSmafSystem } from '../testing/index.ts';
import { DmaDirection } from './contracts.ts';
import { DMA_SLICE, dmaCrcSteps, dmaWrite } from './dma.ts';

test('data written by another client between two slices of a CRC makes the CRC refuse, not fold it in', () => {
  const { smaf } = createSmafSystem();
  const dev = (n: string) => smaf.platform.device(n);
  const t = smaf.create(2 * DMA_SLICE);
  t.setSecure(true);
  const vdec = t.attach(dev('vdec'));
  t.map(vdec, DmaDirection.FROM_DEVICE);
  dmaWrite(vdec, 0, new Uint8Array(2 * DMA_SLICE).fill(1), 'client 1'); // all of it is client 1's
  const disp = t.attach(dev('display'));
  t.map(disp, DmaDirection.TO_DEVICE);
  const crc = dmaCrcSteps(disp, 0, 2 * DMA_SLICE, 'client 1');
  assert.equal(crc.next().done, false, 'the first slice is read');
  dmaWrite(vdec, 2 * DMA_SLICE - 4096, new Uint8Array(1).fill(0x42), 'client 2'); // someone else's byte
  assert.throws(() => crc.next(), (e) => isSmafError(e, 'EACCES') && /did not supply/.test(e.message));
  // without the interleaved write, the same CRC completes
  dmaWrite(vdec, 0, new Uint8Array(2 * DMA_SLICE).fill(1), 'client 1');
  const again = dmaCrcSteps(disp, 0, 2 * DMA_SLICE, 'client 1');
  let r = again.next();
  while (!r.done) r = again.next();
  assert.equal(typeof r.value, 'number');
});
