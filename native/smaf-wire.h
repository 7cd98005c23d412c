/*
 * smaf-wire.h: the C side of the smafd wire protocol and of the uapi structs the preload library
 * speaks (docs/protocol.md). Until the wire table is generated from src/uapi (a later issue), this
 * header is written by hand; test/native.test.ts compiles native/tests/wire-dump.c against it and
 * checks every number and size against src/uapi, so the two cannot drift.
 */
#ifndef SMAF_WIRE_H
#define SMAF_WIRE_H

#include <stdint.h>

/* ---- frames (all little-endian) ------------------------------------------------------------ */
#define SMAF_WIRE_MAX_FRAME (16u * 1024u * 1024u)
#define SMAF_WIRE_REQUEST_HEADER 12u  /* u32 request_id, u32 op, s32 fd (after the u32 length) */
#define SMAF_WIRE_RESPONSE_HEADER 8u  /* u32 request_id, s32 result */
#define SMAF_WIRE_DEVICE_FD (-1)

/* ---- ops ------------------------------------------------------------------------------------ */
#define SMAF_OP_CLOSE 1
#define SMAF_OP_DUP 2
#define SMAF_OP_ATTACH 3
#define SMAF_OP_DETACH 4
#define SMAF_OP_MAP 5
#define SMAF_OP_UNMAP 6
#define SMAF_OP_MMAP 7
#define SMAF_OP_MUNMAP 8
#define SMAF_OP_READ 9
#define SMAF_OP_WRITE 10
#define SMAF_OP_EXPORT 11
#define SMAF_OP_IMPORT 12
#define SMAF_OP_STAT 13
#define SMAF_OP_DMA_COPY 14
#define SMAF_OP_DMA_CRC 15
#define SMAF_OP_HELLO 16
#define SMAF_OP_SET_NAME 17
#define SMAF_OP_GENERATION 18
#define SMAF_OP_X_STATE 0x80
#define SMAF_OP_X_EXPLAIN 0x81
#define SMAF_OP_X_CHECK 0x82
#define SMAF_OP_X_EVENTS 0x83
#define SMAF_OP_X_TRACE 0x84
#define SMAF_OP_X_PS 0x88
#define SMAF_OP_X_HEAPS 0x89

/* payload sizes of the fixed-size ops the library sends */
#define SMAF_HELLO_SIZE 72u        /* u32 pid, u32 reserved, u8 comm[64] */
#define SMAF_COMM_LEN 64u
#define SMAF_MMAP_SIZE 20u         /* u64 offset, u64 length, u32 prot */
#define SMAF_MUNMAP_SIZE 4u        /* u32 mapping */
#define SMAF_READ_SIZE 16u         /* u32 mapping, u64 offset, u32 length */
#define SMAF_WRITE_HEADER 12u      /* u32 mapping, u64 offset, then the bytes */
#define SMAF_TOKEN_LEN 16u         /* EXPORT's answer, IMPORT's payload */
#define SMAF_STAT_SIZE 80u         /* u64 size, u32 allocated, u32 secure, u8 allocator[64] */
#define SMAF_SET_NAME_SIZE 32u     /* u8 name[DMA_BUF_NAME_LEN] */
#define SMAF_PROT_READ 1u
#define SMAF_PROT_WRITE 2u

/* ---- /dev/smaf ioctls (magic 'S'), v8 ABI --------------------------------------------------- */
#define SMAF_IOC_MAGIC 'S'
#define SMAF_IOC_CREATE 0xC0805300u
#define SMAF_IOC_GET_SECURE_FLAG 0xC0405301u
#define SMAF_IOC_SET_SECURE_FLAG 0xC0405302u
#define SMAF_IOC_GET_INFO 0xC0805303u
#define SMAF_RDWR 0x2u
#define SMAF_CLOEXEC 0x80000u
#define SMAF_NAME_LEN 64u

struct smaf_create_data {
	uint64_t version;
	uint64_t length;
	uint32_t flags;
	uint32_t reserved0;
	int32_t fd;
	uint32_t reserved1;
	char name[SMAF_NAME_LEN];
	uint8_t reserved2[32];
};

struct smaf_secure_flag {
	uint64_t version;
	int32_t fd;
	uint32_t reserved0;
	uint32_t secure;
	uint8_t reserved1[44];
};

struct smaf_info {
	uint64_t version;
	uint32_t index;
	uint32_t reserved0;
	uint32_t count;
	uint32_t reserved1;
	char name[SMAF_NAME_LEN];
	uint8_t reserved2[40];
};

/* offsets the library rewrites (fds travel as the daemon's numbers on the wire) */
#define SMAF_CREATE_FLAGS_OFFSET 16u
#define SMAF_CREATE_FD_OFFSET 24u
#define SMAF_SECURE_FD_OFFSET 8u

/* ---- dma-buf and dma-heap (the kernel's numbers, include/uapi/linux/dma-buf.h, dma-heap.h) --- */
#define SMAF_DMA_BUF_BASE 'b'
#define SMAF_DMA_BUF_IOCTL_SYNC 0x40086200u
#define SMAF_DMA_BUF_SET_NAME_A 0x40046201u
#define SMAF_DMA_BUF_SET_NAME_B 0x40086201u
#define SMAF_DMA_BUF_IOCTL_EXPORT_SYNC_FILE 0xC0086202u
#define SMAF_DMA_BUF_IOCTL_IMPORT_SYNC_FILE 0x40086203u
#define SMAF_DMA_BUF_NAME_LEN 32u
#define SMAF_DMA_BUF_SYNC_READ 1u
#define SMAF_DMA_BUF_SYNC_WRITE 2u
#define SMAF_DMA_BUF_SYNC_END 4u

#define SMAF_DMA_HEAP_IOC_MAGIC 'H'
#define SMAF_DMA_HEAP_IOCTL_ALLOC 0xC0184800u
struct smaf_dma_heap_allocation_data {
	uint64_t len;
	uint32_t fd;
	uint32_t fd_flags;
	uint64_t heap_flags;
};

/* ---- what a dma-buf memfd carries (docs/c-programs.md) -------------------------------------
 * A buffer of `length` bytes is a sealed memfd of length + SMAF_TOKEN_PAGE bytes named
 * SMAF_MEMFD_BUFFER; the page after the data holds this trailer. Whoever holds the fd can read
 * it and import the buffer (what holding a dma-buf fd already allows); nothing else carries it. */
#define SMAF_TOKEN_PAGE 4096u
#define SMAF_TOKEN_MAGIC "SMAFTOK1"
struct smaf_token_page {
	char magic[8];
	uint64_t length;            /* the buffer's length (page multiple) */
	uint8_t token[SMAF_TOKEN_LEN];
	uint32_t cpu_live;          /* 1 once the memfd holds the CPU view (set at the first mmap) */
	uint32_t reserved;
};
#define SMAF_MEMFD_DEVICE "smaf:/dev/smaf"
#define SMAF_MEMFD_HEAP_PREFIX "smaf-heap:"
#define SMAF_MEMFD_BUFFER "smaf-dmabuf"

#endif
