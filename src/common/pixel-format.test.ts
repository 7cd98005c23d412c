import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frameLayout, isFrameSpec } from './pixel-format.ts';

test('1080p NV12 is 3,110,400 bytes (3040 KiB once page-rounded): a Y plane and a half-height CbCr plane', () => {
  const l = frameLayout('1920x1080:NV12');
  assert.deepEqual(l.planes, [
    { name: 'Y', offset: 0, stride: 1920, rows: 1080, size: 2_073_600 },
    { name: 'CbCr', offset: 2_073_600, stride: 1920, rows: 540, size: 1_036_800 },
  ]);
  assert.equal(l.size, 3_110_400);
  assert.equal(Math.ceil(l.size / 4096) * 4096, 3040 * 1024);
});

test('strides and plane offsets follow --align; each format has its own planes', () => {
  const l = frameLayout('1366x768:NV12', 64);
  assert.equal(l.planes[0]!.stride, 1408);
  assert.equal(l.planes[1]!.offset, 1408 * 768);
  assert.equal(l.size, 1408 * 768 + 1408 * 384);
  assert.equal(frameLayout('1920x1080:NV16').size, 1920 * 1080 * 2);
  assert.equal(frameLayout('1920x1080:P010').size, 3840 * 1080 + 3840 * 540);
  assert.deepEqual(frameLayout('640x480:yuyv').planes, [{ name: 'YUYV', offset: 0, stride: 1280, rows: 480, size: 1280 * 480 }]);
  assert.equal(frameLayout('100x100:RGBA8888', 256).planes[0]!.stride, 512);
  const odd = frameLayout('33x2:YUYV'.replace('33', '34'), 16);
  assert.equal(odd.planes[0]!.stride, 80);
});

test('bad frames are RangeErrors that say what is wrong', () => {
  assert.throws(() => frameLayout('1920x1080:NV21'), /unknown pixel format "NV21" \(known: NV12, NV16, P010, YUYV, RGBA8888\)/);
  assert.throws(() => frameLayout('1921x1080:NV12'), /width must be a multiple of 2/);
  assert.throws(() => frameLayout('1920x1081:NV12'), /height of 2/);
  assert.throws(() => frameLayout('1920x1080:NV12', 48), /alignment 48 is not a power of two/);
  assert.throws(() => frameLayout('0x10:RGBA8888'), /1\.\.65536/);
  assert.throws(() => frameLayout('1080p'), /is not a frame/);
  assert.equal(isFrameSpec('1920x1080:NV12'), true);
  assert.equal(isFrameSpec('8MiB'), false);
});
