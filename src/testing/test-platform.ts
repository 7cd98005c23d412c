/** A small platform for tests: every region kind, and devices that exercise every constraint. */
import { parsePlatform, type PlatformSpec } from '../platform/index.ts';

const TEST_PLATFORM_YAML = `
name: test-soc
memory:
  - { name: dram, base: 0x40000000, size: 64MiB, kind: system }
  - { name: cma, base: 0x42000000, size: 8MiB, kind: cma }
  - { name: cam-carveout, base: 0x43000000, size: 4MiB, kind: carveout }
  - { name: sdp, base: 0x43800000, size: 4MiB, kind: secure-carveout }
  - { name: low-cma, base: 0x0F800000, size: 16MiB, kind: cma }
devices:
  - { name: dec, class: decoder, dma_mask: 32, secure: true }
  - { name: disp, class: sink, dma_mask: 32, secure: true }
  - { name: gpu, class: gpu, dma_mask: 40, iommu: true, max_segment_size: 64KiB }
  - { name: cam, class: camera, dma_mask: 32, memory_region: cam-carveout }
  - { name: legacy, class: generic, dma_mask: 28 }
  - { name: sec-mmu, class: transformer, dma_mask: 32, iommu: true, secure: true }
  - { name: crypto, class: decrypter, dma_mask: 32, secure: true }
tee:
  sdp_max_regions: 4
`;

export function testPlatformSpec(): PlatformSpec {
  return parsePlatform(TEST_PLATFORM_YAML, 'test platform');
}
