/** What a buffer accepts at create: its flags and the length of an allocator name hint. */

/** O_RDWR and O_CLOEXEC: the only flags a buffer accepts. */
export const SMAF_RDWR = 0x2;
export const SMAF_CLOEXEC = 0x80000;
export const SMAF_VALID_FLAGS = SMAF_RDWR | SMAF_CLOEXEC;
export const MAX_NAME_BYTES = 63;
