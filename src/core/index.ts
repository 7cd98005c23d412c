/** The SMAF core: registry, buffers, deferred allocation, secure hooks. No Node imports here. */
export * from './buffer.ts';
export * from './contracts.ts';
export * from './explain.ts';
export * from './registry.ts';
export * from './smaf.ts';
export * from './dma.ts';
export * from './self-check.ts';
