// smaf-ts/core: the SMAF core, deferred constraint-matched allocation (types: types/core/index.d.ts).
import { load } from './load.js';

export const {
  Attachment, CpuMapping, DMA_SLICE, DecisionLog, DmaDirection, DmaTransform, MAX_DECISIONS, MAX_NAME_BYTES, PROT_READ, PROT_WRITE,
  Registry, SMAF_CLOEXEC, SMAF_RDWR, SMAF_VALID_FLAGS, Smaf, SmafBuffer, checkCpuAccess, checkMmapRange, directionName, dmaCopy,
  dmaCopySteps, dmaCrc, dmaCrcSteps, dmaRead, dmaScanoutSteps, dmaWrite, explain, formatExplanation, isDecline, protMode, selfCheck,
  unsuitableReason, verdictOf,
} = await load('../src/core/index.ts');
