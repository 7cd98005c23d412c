/**
 * What only the C preload library speaks besides the wire: the kernel's dma-buf and dma-heap numbers
 * it intercepts and the trailer page of a dma-buf memfd (docs/c-programs.md). Data, like the rest of
 * the uapi, so that native/smaf-wire.h is generated whole (c-header.ts).
 */
import { ioc, IOC_READ, IOC_WRITE, struct } from './abi.ts';
import { TOKEN_LEN } from './ops.ts';

/** include/uapi/linux/dma-buf.h: DMA_BUF_SET_NAME_A/_B (a pointer of 32 or 64 bits), the sync_file ioctls. */
export const DMA_BUF_SET_NAME_A = ioc(IOC_WRITE, 'b'.charCodeAt(0), 1, 4);
export const DMA_BUF_SET_NAME_B = ioc(IOC_WRITE, 'b'.charCodeAt(0), 1, 8);
export const DMA_BUF_IOCTL_EXPORT_SYNC_FILE = ioc(IOC_READ | IOC_WRITE, 'b'.charCodeAt(0), 2, 8);
export const DMA_BUF_IOCTL_IMPORT_SYNC_FILE = ioc(IOC_WRITE, 'b'.charCodeAt(0), 3, 8);

/** include/uapi/linux/sync_file.h: what a sync file answers (SYNC_IOC_MERGE, SYNC_IOC_FILE_INFO, SYNC_IOC_SET_DEADLINE). */
export const syncMergeData = struct('smaf_sync_merge_data', 48, [
  { name: 'name', type: 'char', size: 32, role: 'in', doc: 'the new sync file\'s name' },
  { name: 'fd2', type: 's32', role: 'in', doc: 'the sync file to merge with' },
  { name: 'fence', type: 's32', role: 'out', doc: 'the merged sync file' },
  { name: 'flags', type: 'u32', role: 'in', doc: 'must be 0' },
  { name: 'pad', type: 'u32', role: 'reserved', doc: 'must be 0' },
]);
export const syncFenceInfo = struct('smaf_sync_fence_info', 80, [
  { name: 'obj_name', type: 'char', size: 32, role: 'out', doc: 'the fence\'s timeline' },
  { name: 'driver_name', type: 'char', size: 32, role: 'out', doc: 'the fence\'s driver' },
  { name: 'status', type: 's32', role: 'out', doc: '1 signalled, 0 active, < 0 error' },
  { name: 'flags', type: 'u32', role: 'out', doc: '0' },
  { name: 'timestamp_ns', type: 'u64', role: 'out', doc: 'when it signalled (CLOCK_MONOTONIC), 0 while active' },
]);
export const syncFileInfo = struct('smaf_sync_file_info', 56, [
  { name: 'name', type: 'char', size: 32, role: 'out', doc: 'the sync file\'s name' },
  { name: 'status', type: 's32', role: 'out', doc: '1 signalled, 0 active, < 0 error' },
  { name: 'flags', type: 'u32', role: 'in', doc: 'must be 0' },
  { name: 'num_fences', type: 'u32', role: 'inout', doc: 'in: room in sync_fence_info (0: only count); out: its fences' },
  { name: 'pad', type: 'u32', role: 'reserved', doc: 'must be 0' },
  { name: 'sync_fence_info', type: 'u64', role: 'in', doc: 'user pointer to num_fences struct sync_fence_info' },
]);
export const syncSetDeadline = struct('smaf_sync_set_deadline', 16, [
  { name: 'deadline_ns', type: 'u64', role: 'in', doc: 'when the fence should be signalled by (CLOCK_MONOTONIC): a hint' },
  { name: 'pad', type: 'u64', role: 'reserved', doc: 'must be 0' },
]);
export const SYNC_IOC_MERGE = ioc(IOC_READ | IOC_WRITE, '>'.charCodeAt(0), 3, syncMergeData.size);
export const SYNC_IOC_FILE_INFO = ioc(IOC_READ | IOC_WRITE, '>'.charCodeAt(0), 4, syncFileInfo.size);
export const SYNC_IOC_SET_DEADLINE = ioc(IOC_WRITE, '>'.charCodeAt(0), 5, syncSetDeadline.size);

/** include/uapi/linux/dma-heap.h. */
export const dmaHeapAllocationData = struct('smaf_dma_heap_allocation_data', 24, [
  { name: 'len', type: 'u64', role: 'in', doc: 'bytes to allocate' },
  { name: 'fd', type: 'u32', role: 'out', doc: 'the dma-buf fd' },
  { name: 'fd_flags', type: 'u32', role: 'in', doc: 'O_RDWR | O_CLOEXEC' },
  { name: 'heap_flags', type: 'u64', role: 'in', doc: 'must be 0' },
]);
export const DMA_HEAP_IOCTL_ALLOC = ioc(IOC_READ | IOC_WRITE, 'H'.charCodeAt(0), 0, dmaHeapAllocationData.size);

/**
 * A buffer of `length` bytes is a sealed memfd of length + TOKEN_PAGE bytes named MEMFD_BUFFER; the
 * page after the data holds this trailer. Whoever holds the fd can read it and import the buffer
 * (what holding a dma-buf fd already allows); nothing else carries it.
 */
export const TOKEN_PAGE = 4096;
export const TOKEN_MAGIC = 'SMAFTOK1';
export const smafTokenPage = struct('smaf_token_page', 40, [
  { name: 'magic', type: 'char', size: 8, role: 'inout', doc: 'TOKEN_MAGIC, not NUL-terminated' },
  { name: 'length', type: 'u64', role: 'inout', doc: "the buffer's length (page multiple)" },
  { name: 'token', type: 'bytes', size: TOKEN_LEN, role: 'inout', doc: 'the export token' },
  { name: 'cpu_live', type: 'u32', role: 'inout', doc: '1 once the memfd holds the CPU view (set at the first mmap)' },
  { name: 'reserved', type: 'u32', role: 'reserved', doc: '0' },
]);

/**
 * Zero-copy: while device work is in flight on a buffer (or waits for a sync file imported into it),
 * smafd holds an OFD lock of the byte at this offset of the buffer's memfd: a read lock while only
 * reads are in flight, a write lock once a write is (or a sync file waits). A program's
 * DMA_BUF_IOCTL_SYNC asks the kernel (F_OFD_GETLK) instead of smafd when nothing is in its way.
 */
export const BUSY_LOCK_OFFSET = 2 ** 62;

/** memfd names the library gives the fds it hands out. */
export const MEMFD_DEVICE = 'smaf:/dev/smaf';
export const MEMFD_HEAP_PREFIX = 'smaf-heap:';
export const MEMFD_BUFFER = 'smaf-dmabuf';
export const MEMFD_TEE = 'smaf:/dev/tee0';
/** A TEE shared memory's fd: TEE_IOC_SHM_ALLOC's (the program maps it) or a placeholder (REGISTER, REGISTER_FD). */
export const MEMFD_TEE_SHM = 'smaf-tee-shm';
