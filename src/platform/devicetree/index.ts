/** Device trees as platforms: a strict .dtb reader and the kernel's rules mapping a tree to a PlatformSpec. No Node imports. */
export * from './dma-ranges.ts';
export * from './fdt.ts';
export * from './memblock.ts';
export * from './overlay.ts';
export * from './to-platform.ts';
