/** Allocator plugins. Each file exports a factory for one allocator; a preset registers them. */
export * from './carveout.ts';
export * from './cma.ts';
export * from './contiguous.ts';
export * from './secure-carveout.ts';
export * from './smaf-optee.ts';
export * from './system.ts';
