/** The SMAF core: registry, buffers, deferred allocation, secure hooks. No Node imports here. */
export * from './attachment.ts';
export * from './buffer.ts';
export * from './cpu-mapping.ts';
export * from './decisions.ts';
export * from './flags.ts';
export * from './contracts.ts';
export * from './explain.ts';
export * from './registry.ts';
export * from './smaf.ts';
export * from './suitability.ts';
export * from './dma.ts';
export * from './self-check.ts';
