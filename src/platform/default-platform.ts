/**
 * The embedded default platform: a media SoC with 1 GiB of DRAM, a 64 MiB CMA pool and a 31 MiB
 * secure carveout carved out of it, and the devices of a camera and secure video pipeline.
 * Docs, scenarios and external tests rely on these names.
 */
import { parsePlatform, type PlatformSpec } from './loader.ts';

const DEFAULT_PLATFORM_YAML = `# SMAF-TS default platform: an emulated media SoC
name: media-soc
page_size: 4096
memory:
  - { name: dram, base: 0x40000000, size: 1GiB, kind: system }
  - { name: cma, base: 0x78000000, size: 64MiB, kind: cma }
  - { name: sdp, base: 0x7C000000, size: 31MiB, kind: secure-carveout }
devices:
  - { name: vdec, class: decoder, dma_mask: 32, coherent_dma_mask: 32, secure: true, description: video decoder }
  - { name: venc, class: encoder, dma_mask: 32, description: video encoder }
  - { name: display, class: sink, dma_mask: 32, coherent_dma_mask: 32, iommu: false, secure: true, description: display controller }
  - { name: gpu, class: gpu, dma_mask: 40, iommu: true, max_segment_size: 64KiB, description: 3D GPU behind an IOMMU }
  - { name: isp, class: camera, dma_mask: 32, iommu: true, description: camera image signal processor behind an IOMMU }
  - { name: crypto, class: decrypter, dma_mask: 32, secure: true, description: crypto engine (content decrypter) }
tee:
  sdp_max_regions: 16
`;

export function defaultPlatformSpec(): PlatformSpec {
  return parsePlatform(DEFAULT_PLATFORM_YAML, 'default platform');
}
