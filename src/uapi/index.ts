/** The /dev/smaf uapi: ioctl table and structs as data, codecs, wire frames. */
export * from './abi.ts';
export * from './codec.ts';
export * from './wire.ts';
export * from './docs.ts';
export * from './events.ts';
