import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frameLabel, frameLayout, isFrameSpec, parseFrameLabel } from './pixel-format.ts';

const sizes = (spec: string, o = {}) => frameLayout(spec, o).planes.map((p) => [p.name, p.offset, p.stride, p.rows, p.size]);

test('1080p NV12 is 3,110,400 bytes (3040 KiB once page-rounded): a Y plane and a half-height UV plane', () => {
  const l = frameLayout('1920x1080:NV12');
  assert.deepEqual(l.planes, [
    { name: 'Y', offset: 0, stride: 1920, rows: 1080, size: 2_073_600 },
    { name: 'UV', offset: 2_073_600, stride: 1920, rows: 540, size: 1_036_800 },
  ]);
  assert.equal(l.size, 3_110_400);
  assert.equal(Math.ceil(l.size / 4096) * 4096, 3040 * 1024);
  assert.deepEqual(l.modifier, { name: 'LINEAR', value: '0x0' });
  assert.deepEqual(l.v4l2, { fourcc: 'NV12', name: 'V4L2_PIX_FMT_NV12', width: 1920, height: 1080, planes: [{ bytesperline: 1920, sizeimage: 3_110_400 }] });
  assert.deepEqual(l.drm, { fourcc: 'NV12', name: 'DRM_FORMAT_NV12', pitches: [1920, 1920], offsets: [0, 2_073_600] });
});

test('strides and plane offsets follow --align; each format has its own planes', () => {
  const l = frameLayout('1366x768:NV12', { align: 64 });
  assert.equal(l.planes[0]!.stride, 1408);
  assert.equal(l.planes[1]!.offset, 1408 * 768);
  assert.equal(l.size, 1408 * 768 + 1408 * 384);
  assert.equal(frameLayout('1920x1080:NV16').size, 1920 * 1080 * 2);
  assert.equal(frameLayout('1920x1080:P010').size, 3840 * 1080 + 3840 * 540);
  assert.deepEqual(frameLayout('640x480:yuyv').planes, [{ name: 'YUYV', offset: 0, stride: 1280, rows: 480, size: 1280 * 480 }]);
  assert.equal(frameLayout('100x100:RGBA8888', { align: 256 }).planes[0]!.stride, 512);
  assert.equal(frameLayout('34x2:YUYV', { align: 16 }).planes[0]!.stride, 80);
});

test('NV21, NV61, I420/YV12 and P016: their planes in their order, planar chroma at half the luma stride', () => {
  assert.deepEqual(sizes('1920x1080:NV21'), [['Y', 0, 1920, 1080, 2_073_600], ['VU', 2_073_600, 1920, 540, 1_036_800]]);
  assert.deepEqual(sizes('1920x1080:NV61'), [['Y', 0, 1920, 1080, 2_073_600], ['VU', 2_073_600, 1920, 1080, 2_073_600]]);
  assert.deepEqual(sizes('1920x1080:I420'), [['Y', 0, 1920, 1080, 2_073_600], ['U', 2_073_600, 960, 540, 518_400], ['V', 2_592_000, 960, 540, 518_400]]);
  assert.deepEqual(sizes('1920x1080:YV12').map((p) => p[0]), ['Y', 'V', 'U']);
  assert.deepEqual(sizes('1280x720:yu12'), sizes('1280x720:I420'), 'YU12 is I420');
  const i420 = frameLayout('1366x768:I420', { align: 64 });
  assert.deepEqual(i420.planes.map((p) => p.stride), [1408, 704, 704], 'the luma stride aligned, chroma half of it, as V4L2 YUV420 defines it');
  assert.equal(i420.v4l2!.name, 'V4L2_PIX_FMT_YUV420');
  assert.equal(frameLayout('1920x1080:YV12').drm.name, 'DRM_FORMAT_YVU420');
  const p016 = frameLayout('1920x1080:P016');
  assert.equal(p016.size, frameLayout('1920x1080:P010').size);
  assert.equal(p016.v4l2, null, 'V4L2 has no P016');
  assert.equal(p016.drm.fourcc, 'P016');
});

test('--align-plane starts each plane at a multiple; --align-height rounds the rows up, as codecs do', () => {
  const p = frameLayout('1920x1080:NV12', { alignPlane: 4096 });
  assert.equal(p.planes[1]!.offset, 507 * 4096, 'the UV plane at the next 4 KiB after 2,073,600');
  assert.equal(p.size, 507 * 4096 + 1_036_800);
  assert.deepEqual(p.drm.offsets, [0, 507 * 4096]);
  const h = frameLayout('1920x1080:NV12', { alignHeight: 16 });
  assert.deepEqual(h.planes.map((x) => x.rows), [1088, 544]);
  assert.equal(h.size, 1920 * 1088 + 1920 * 544);
  assert.equal(h.v4l2!.height, 1088, 'a decoder reports the coded height');
  assert.equal(frameLayout('1366x768:NV12', { align: 64 }).planes[1]!.offset, 1408 * 768, 'the plane alignment defaults to the stride alignment');
});

test('DRM_FORMAT_MOD_ALLWINNER_TILED follows the Cedrus decoder\'s NV12_32L32 sizes: strides of 32, luma rows of 32, chroma rows of 32 (64 image lines)', () => {
  for (const [w, h] of [[1920, 1080], [1280, 720], [1366, 768], [720, 576]] as const) {
    const l = frameLayout(`${w}x${h}:NV12`, { modifier: 'ALLWINNER_TILED' });
    // cedrus_prepare_format: bytesperline = ALIGN(width, 32); height = ALIGN(height, 32);
    // sizeimage = bytesperline * height + bytesperline * ALIGN(height, 64) / 2
    const bpl = Math.ceil(w / 32) * 32;
    const h32 = Math.ceil(h / 32) * 32;
    assert.equal(l.size, bpl * h32 + (bpl * Math.ceil(h32 / 64) * 64) / 2, `${w}x${h}`);
    assert.equal(l.planes[1]!.offset, bpl * h32);
    assert.deepEqual(l.v4l2, { fourcc: 'ST12', name: 'V4L2_PIX_FMT_NV12_32L32', width: w, height: h32, planes: [{ bytesperline: bpl, sizeimage: l.size }] });
  }
  const l = frameLayout('1920x1080:NV12', { modifier: 'DRM_FORMAT_MOD_ALLWINNER_TILED' });
  assert.deepEqual(l.modifier, { name: 'ALLWINNER_TILED', value: '0x0900000000000001' });
  assert.equal(frameLayout('1920x1080:NV12', { modifier: '0x0900000000000001' }).modifier.name, 'ALLWINNER_TILED', 'by value');
  assert.throws(() => frameLayout('1920x1080:P010', { modifier: 'ALLWINNER_TILED' }), /modifier ALLWINNER_TILED applies to NV12, not P010/);
});

test('DRM_FORMAT_MOD_SAMSUNG_64_32_TILE (NV12MT): each plane 128 pixels wide and 32 lines high, two memory planes in V4L2', () => {
  const l = frameLayout('720x480:NV12', { modifier: 'samsung_64_32_tile' });
  assert.deepEqual(l.planes.map((p) => [p.stride, p.rows]), [[768, 480], [768, 256]]);
  assert.equal(l.size, 768 * 480 + 768 * 256);
  assert.deepEqual(l.v4l2!.planes, [{ bytesperline: 768, sizeimage: 768 * 480 }, { bytesperline: 768, sizeimage: 768 * 256 }]);
  assert.equal(l.v4l2!.name, 'V4L2_PIX_FMT_NV12MT');
  assert.equal(l.modifier.value, '0x0400000000000001');
});

test('bad frames are errors that say what is wrong', () => {
  assert.throws(() => frameLayout('1920x1080:NV24'), /unknown pixel format "NV24" \(known: NV12, NV21, NV16, NV61, I420, YV12, P010, P016, YUYV, RGBA8888\)/);
  assert.throws(() => frameLayout('1921x1080:NV12'), /width must be a multiple of 2/);
  assert.throws(() => frameLayout('1920x1081:NV12'), /height of 2/);
  assert.throws(() => frameLayout('1920x1080:NV12', { align: 48 }), /alignment 48 is not a power of two/);
  assert.throws(() => frameLayout('1920x1080:NV12', { alignHeight: 24 }), /height alignment 24 is not a power of two from 1 to 256/);
  assert.throws(() => frameLayout('1920x1080:NV12', { alignPlane: 3000 }), /plane alignment 3000/);
  assert.throws(() => frameLayout('1920x1080:NV12', { modifier: 'AFBC' }), /unknown format modifier "AFBC" \(known: LINEAR \(0x0\), ALLWINNER_TILED \(0x900000000000001\), SAMSUNG_64_32_TILE/);
  assert.throws(() => frameLayout('0x10:RGBA8888'), /1\.\.65536/);
  assert.throws(() => frameLayout('1080p'), /is not a frame/);
  assert.equal(isFrameSpec('1920x1080:NV12'), true);
  assert.equal(isFrameSpec('8MiB'), false);
});

test('a frame\'s label (its dma-buf name) gives its layout back, alignments and modifier included', () => {
  for (const [spec, o] of [['1920x1080:NV12', {}], ['1366x768:I420', { align: 64, alignPlane: 4096, alignHeight: 16 }], ['1280x720:NV12', { modifier: 'ALLWINNER_TILED', align: 64 }], ['720x480:NV12', { modifier: 'samsung' }]] as const) {
    const l = frameLayout(spec, o);
    const label = frameLabel(l)!;
    assert.ok(label.length <= 31, label);
    assert.deepEqual(parseFrameLabel(label), l, label);
  }
  assert.equal(frameLabel(frameLayout('1920x1080:NV12', { modifier: 'ALLWINNER_TILED', alignPlane: 4096 })), '1920x1080:NV12:allwinner,p4096');
  assert.equal(frameLabel(frameLayout('65536x65536:RGBA8888', { align: 4096, alignPlane: 1 << 20, alignHeight: 256 })), null, 'too long for a dma-buf name');
  assert.equal(parseFrameLabel('camera-frame'), null);
  assert.equal(parseFrameLabel(null), null);
  assert.equal(parseFrameLabel('1921x1080:NV12'), null, 'not a valid frame');
});
