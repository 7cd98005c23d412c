/** The /dev/smaf uapi: ioctl table and structs as data, the op table, codecs, wire frames. */
export * from './abi.ts';
export * from './codec.ts';
export * from './wire.ts';
export * from './ops.ts';
export * from './op-codec.ts';
export * from './replies.ts';
export * from './docs.ts';
export * from './events.ts';
export * from './c-header.ts';
export * from './native-abi.ts';
export * from './recording.ts';
export * from './trace-file.ts';
export * from './tee-abi.ts';
