/*
 * smaf-wire.h: the C side of the smafd wire protocol and of the uapi structs the preload library
 * speaks (docs/protocol.md). GENERATED from src/uapi by `npm run docs` (src/uapi/c-header.ts):
 * do not edit; test/c-header.test.ts fails when this file is stale.
 */
#ifndef SMAF_WIRE_H
#define SMAF_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* ---- frames (all little-endian) ---------------------------------------------------------------- */
#define SMAF_WIRE_MAX_FRAME 16777216u
#define SMAF_WIRE_REQUEST_HEADER 12u  /* u32 request_id, u32 op, s32 fd (after the u32 length) */
#define SMAF_WIRE_RESPONSE_HEADER 8u  /* u32 request_id, s32 result */
#define SMAF_WIRE_DEVICE_FD (-1)

/* ---- ops --------------------------------------------------------------------------------------- */
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
#define SMAF_OP_TEE_OPEN 64
#define SMAF_OP_TEE_VERSION 65
#define SMAF_OP_TEE_CLOSE 66
#define SMAF_OP_TEE_SHM_ALLOC 67
#define SMAF_OP_TEE_SHM_REGISTER 68
#define SMAF_OP_TEE_SHM_REGISTER_FD 69
#define SMAF_OP_TEE_SHM_RELEASE 70
#define SMAF_OP_TEE_OPEN_SESSION 71
#define SMAF_OP_TEE_INVOKE 72
#define SMAF_OP_TEE_CLOSE_SESSION 73
#define SMAF_OP_TEE_CANCEL 74
#define SMAF_OP_ALLOCATE 19
#define SMAF_OP_FILE 20
#define SMAF_OP_IDENTIFY 21
#define SMAF_OP_EXPORT_FENCE 22
#define SMAF_OP_IMPORT_FENCE 23
#define SMAF_OP_FENCE_INFO 25
#define SMAF_OP_FENCE_MERGE 26
#define SMAF_OP_DMA_SCANOUT 24
#define SMAF_OP_X_STATE 0x80
#define SMAF_OP_X_EXPLAIN 0x81
#define SMAF_OP_X_CHECK 0x82
#define SMAF_OP_X_EVENTS 0x83
#define SMAF_OP_X_TRACE 0x84
#define SMAF_OP_X_NATIVE 0x85
#define SMAF_OP_X_PS 0x88
#define SMAF_OP_X_HEAPS 0x89
#define SMAF_OP_X_DEVICES 0x8a
#define SMAF_OP_X_RECORDING 0x8b

/* ---- op payloads (packed, little-endian) ------------------------------------------------------- */
#define SMAF_COMM_LEN 64u
#define SMAF_DEVICE_NAME_LEN 64u
#define SMAF_TOKEN_LEN 16u  /* EXPORT's answer, IMPORT's payload */
#define SMAF_DMA_BUF_NAME_LEN 32u
#define SMAF_PROT_READ 1u
#define SMAF_PROT_WRITE 2u

/* ATTACH: attach a platform device to the buffer */
struct smaf_attach_in {
	char device[64];  /* device name, NUL-terminated */
};
_Static_assert(sizeof(struct smaf_attach_in) == 64, "smaf_attach_in: size");
_Static_assert(offsetof(struct smaf_attach_in, device) == 0, "smaf_attach_in.device");
#define SMAF_ATTACH_SIZE 64u

/* DETACH: detach a device */
struct smaf_attachment_in {
	uint32_t attachment;  /* attachment id (from ATTACH) */
};
_Static_assert(sizeof(struct smaf_attachment_in) == 4, "smaf_attachment_in: size");
_Static_assert(offsetof(struct smaf_attachment_in, attachment) == 0, "smaf_attachment_in.attachment");
#define SMAF_DETACH_SIZE 4u

/* MAP: map the buffer for the device (allocates on first need) */
struct smaf_map_in {
	uint32_t attachment;  /* attachment id */
	uint32_t direction;  /* 0 bidirectional, 1 to device, 2 from device */
};
_Static_assert(sizeof(struct smaf_map_in) == 8, "smaf_map_in: size");
_Static_assert(offsetof(struct smaf_map_in, attachment) == 0, "smaf_map_in.attachment");
_Static_assert(offsetof(struct smaf_map_in, direction) == 4, "smaf_map_in.direction");
#define SMAF_MAP_SIZE 8u
struct smaf_map_segment {
	uint64_t dma_addr;  /* address the device uses */
	uint64_t length;  /* bytes */
};
_Static_assert(sizeof(struct smaf_map_segment) == 16, "smaf_map_segment: size");
_Static_assert(offsetof(struct smaf_map_segment, dma_addr) == 0, "smaf_map_segment.dma_addr");
_Static_assert(offsetof(struct smaf_map_segment, length) == 8, "smaf_map_segment.length");
#define SMAF_MAP_REPLY_SIZE 16u  /* each of `result` entries */

/* UNMAP: unmap (the secure module revokes the grants) */
#define SMAF_UNMAP_SIZE 4u

/* MMAP: a CPU mapping of [offset, offset+length) */
struct smaf_mmap_in {
	uint64_t offset;  /* bytes into the buffer */
	uint64_t length;  /* bytes, > 0 */
	uint32_t prot;  /* 1 read | 2 write */
} __attribute__((packed));
_Static_assert(sizeof(struct smaf_mmap_in) == 20, "smaf_mmap_in: size");
_Static_assert(offsetof(struct smaf_mmap_in, offset) == 0, "smaf_mmap_in.offset");
_Static_assert(offsetof(struct smaf_mmap_in, length) == 8, "smaf_mmap_in.length");
_Static_assert(offsetof(struct smaf_mmap_in, prot) == 16, "smaf_mmap_in.prot");
#define SMAF_MMAP_SIZE 20u

/* MUNMAP: drop a CPU mapping */
struct smaf_mapping_in {
	uint32_t mapping;  /* mapping id (from MMAP) */
};
_Static_assert(sizeof(struct smaf_mapping_in) == 4, "smaf_mapping_in: size");
_Static_assert(offsetof(struct smaf_mapping_in, mapping) == 0, "smaf_mapping_in.mapping");
#define SMAF_MUNMAP_SIZE 4u

/* READ: read through a mapping */
struct smaf_read_in {
	uint32_t mapping;  /* mapping id */
	uint64_t offset;  /* bytes into the mapping */
	uint32_t length;  /* bytes to read */
} __attribute__((packed));
_Static_assert(sizeof(struct smaf_read_in) == 16, "smaf_read_in: size");
_Static_assert(offsetof(struct smaf_read_in, mapping) == 0, "smaf_read_in.mapping");
_Static_assert(offsetof(struct smaf_read_in, offset) == 4, "smaf_read_in.offset");
_Static_assert(offsetof(struct smaf_read_in, length) == 12, "smaf_read_in.length");
#define SMAF_READ_SIZE 16u

/* WRITE: write through a mapping */
struct smaf_write_in {
	uint32_t mapping;  /* mapping id */
	uint64_t offset;  /* bytes into the mapping */
} __attribute__((packed));
_Static_assert(sizeof(struct smaf_write_in) == 12, "smaf_write_in: size");
_Static_assert(offsetof(struct smaf_write_in, mapping) == 0, "smaf_write_in.mapping");
_Static_assert(offsetof(struct smaf_write_in, offset) == 4, "smaf_write_in.offset");
#define SMAF_WRITE_HEADER 12u  /* then the bytes */

/* IMPORT: an fd of the buffer a token names */
struct smaf_import_in {
	uint8_t token[16];  /* the token EXPORT gave */
};
_Static_assert(sizeof(struct smaf_import_in) == 16, "smaf_import_in: size");
_Static_assert(offsetof(struct smaf_import_in, token) == 0, "smaf_import_in.token");
#define SMAF_IMPORT_SIZE 16u

/* STAT: size, state and allocator of the buffer */
struct smaf_stat_out {
	uint64_t size;  /* bytes (page multiple) */
	uint32_t allocated;  /* 1 once it has memory */
	uint32_t secure;  /* 0 or 1 */
	char allocator[64];  /* allocator name, NUL-terminated; empty while deferred */
};
_Static_assert(sizeof(struct smaf_stat_out) == 80, "smaf_stat_out: size");
_Static_assert(offsetof(struct smaf_stat_out, size) == 0, "smaf_stat_out.size");
_Static_assert(offsetof(struct smaf_stat_out, allocated) == 8, "smaf_stat_out.allocated");
_Static_assert(offsetof(struct smaf_stat_out, secure) == 12, "smaf_stat_out.secure");
_Static_assert(offsetof(struct smaf_stat_out, allocator) == 16, "smaf_stat_out.allocator");
#define SMAF_STAT_REPLY_SIZE 80u

/* DMA_COPY: the device of the attachments copies (fd = the destination buffer) */
struct smaf_dma_copy_in {
	uint32_t dst_attachment;  /* attachment of the destination (this fd) */
	int32_t src_fd;  /* source buffer fd */
	uint32_t src_attachment;  /* attachment of the source, same device */
	uint32_t transform;  /* 0 copy, 1 decrypt with the secure world's content key (a decrypter, into secure memory) */
	uint64_t src_offset;  /* bytes */
	uint64_t dst_offset;  /* bytes */
	uint64_t length;  /* bytes */
};
_Static_assert(sizeof(struct smaf_dma_copy_in) == 40, "smaf_dma_copy_in: size");
_Static_assert(offsetof(struct smaf_dma_copy_in, dst_attachment) == 0, "smaf_dma_copy_in.dst_attachment");
_Static_assert(offsetof(struct smaf_dma_copy_in, src_fd) == 4, "smaf_dma_copy_in.src_fd");
_Static_assert(offsetof(struct smaf_dma_copy_in, src_attachment) == 8, "smaf_dma_copy_in.src_attachment");
_Static_assert(offsetof(struct smaf_dma_copy_in, transform) == 12, "smaf_dma_copy_in.transform");
_Static_assert(offsetof(struct smaf_dma_copy_in, src_offset) == 16, "smaf_dma_copy_in.src_offset");
_Static_assert(offsetof(struct smaf_dma_copy_in, dst_offset) == 24, "smaf_dma_copy_in.dst_offset");
_Static_assert(offsetof(struct smaf_dma_copy_in, length) == 32, "smaf_dma_copy_in.length");
#define SMAF_DMA_COPY_SIZE 40u

/* DMA_CRC: the device computes the CRC of a range (display CRC capture) */
struct smaf_dma_crc_in {
	uint32_t attachment;  /* attachment id */
	uint32_t reserved;  /* reserved, must be 0 */
	uint64_t offset;  /* bytes */
	uint64_t length;  /* bytes */
};
_Static_assert(sizeof(struct smaf_dma_crc_in) == 24, "smaf_dma_crc_in: size");
_Static_assert(offsetof(struct smaf_dma_crc_in, attachment) == 0, "smaf_dma_crc_in.attachment");
_Static_assert(offsetof(struct smaf_dma_crc_in, reserved) == 4, "smaf_dma_crc_in.reserved");
_Static_assert(offsetof(struct smaf_dma_crc_in, offset) == 8, "smaf_dma_crc_in.offset");
_Static_assert(offsetof(struct smaf_dma_crc_in, length) == 16, "smaf_dma_crc_in.length");
#define SMAF_DMA_CRC_SIZE 24u
struct smaf_dma_crc_out {
	uint32_t crc32;  /* CRC-32 (IEEE) of the bytes */
};
_Static_assert(sizeof(struct smaf_dma_crc_out) == 4, "smaf_dma_crc_out: size");
_Static_assert(offsetof(struct smaf_dma_crc_out, crc32) == 0, "smaf_dma_crc_out.crc32");
#define SMAF_DMA_CRC_REPLY_SIZE 4u

/* HELLO: who this client says it is (shown by smaf info, ps and the dashboard; not verified) */
struct smaf_hello_in {
	uint32_t pid;  /* process id (self-declared, not verified) */
	uint32_t reserved;  /* reserved, must be 0 */
	char comm[64];  /* command name, NUL-terminated */
};
_Static_assert(sizeof(struct smaf_hello_in) == 72, "smaf_hello_in: size");
_Static_assert(offsetof(struct smaf_hello_in, pid) == 0, "smaf_hello_in.pid");
_Static_assert(offsetof(struct smaf_hello_in, reserved) == 4, "smaf_hello_in.reserved");
_Static_assert(offsetof(struct smaf_hello_in, comm) == 8, "smaf_hello_in.comm");
#define SMAF_HELLO_SIZE 72u

/* SET_NAME: DMA_BUF_SET_NAME: the name shows in explain, state, ps, the dashboard and the event log */
struct smaf_set_name_in {
	char name[32];  /* NUL-terminated, at most 31 bytes */
};
_Static_assert(sizeof(struct smaf_set_name_in) == 32, "smaf_set_name_in: size");
_Static_assert(offsetof(struct smaf_set_name_in, name) == 0, "smaf_set_name_in.name");
#define SMAF_SET_NAME_SIZE 32u

/* TEE_VERSION: TEE_IOC_VERSION */
struct smaf_tee_ctx_in {
	uint32_t ctx;  /* TEE context (from TEE_OPEN) */
};
_Static_assert(sizeof(struct smaf_tee_ctx_in) == 4, "smaf_tee_ctx_in: size");
_Static_assert(offsetof(struct smaf_tee_ctx_in, ctx) == 0, "smaf_tee_ctx_in.ctx");
#define SMAF_TEE_VERSION_SIZE 4u
struct smaf_tee_version_out {
	uint32_t impl_id;  /* TEE_IMPL_ID_OPTEE (1) */
	uint32_t impl_caps;  /* TEE_OPTEE_CAP_TZ (1) */
	uint32_t gen_caps;  /* TEE_GEN_CAP_GP | REG_MEM | MEMREF_NULL (13) */
};
_Static_assert(sizeof(struct smaf_tee_version_out) == 12, "smaf_tee_version_out: size");
_Static_assert(offsetof(struct smaf_tee_version_out, impl_id) == 0, "smaf_tee_version_out.impl_id");
_Static_assert(offsetof(struct smaf_tee_version_out, impl_caps) == 4, "smaf_tee_version_out.impl_caps");
_Static_assert(offsetof(struct smaf_tee_version_out, gen_caps) == 8, "smaf_tee_version_out.gen_caps");
#define SMAF_TEE_VERSION_REPLY_SIZE 12u

/* TEE_CLOSE: close /dev/tee0: its sessions close; its shared memory stays until released */
#define SMAF_TEE_CLOSE_SIZE 4u

/* TEE_SHM_ALLOC: TEE_IOC_SHM_ALLOC: shared memory the client process holds (its bytes travel with each call) */
struct smaf_tee_shm_alloc_in {
	uint32_t ctx;  /* TEE context */
	uint32_t flags;  /* must be 0 */
	uint64_t size;  /* bytes, > 0 */
};
_Static_assert(sizeof(struct smaf_tee_shm_alloc_in) == 16, "smaf_tee_shm_alloc_in: size");
_Static_assert(offsetof(struct smaf_tee_shm_alloc_in, ctx) == 0, "smaf_tee_shm_alloc_in.ctx");
_Static_assert(offsetof(struct smaf_tee_shm_alloc_in, flags) == 4, "smaf_tee_shm_alloc_in.flags");
_Static_assert(offsetof(struct smaf_tee_shm_alloc_in, size) == 8, "smaf_tee_shm_alloc_in.size");
#define SMAF_TEE_SHM_ALLOC_SIZE 16u
struct smaf_tee_shm_out {
	uint64_t size;  /* bytes of the shared memory */
	uint32_t flags;  /* the kernel's shm flags: 5 alloc (DYNAMIC|POOL), 3 registered (DYNAMIC|USER_MAPPED), 16 dma-buf (DMA_BUF) */
	int32_t id;  /* the shared memory id (the result too) */
};
_Static_assert(sizeof(struct smaf_tee_shm_out) == 16, "smaf_tee_shm_out: size");
_Static_assert(offsetof(struct smaf_tee_shm_out, size) == 0, "smaf_tee_shm_out.size");
_Static_assert(offsetof(struct smaf_tee_shm_out, flags) == 8, "smaf_tee_shm_out.flags");
_Static_assert(offsetof(struct smaf_tee_shm_out, id) == 12, "smaf_tee_shm_out.id");
#define SMAF_TEE_SHM_ALLOC_REPLY_SIZE 16u

/* TEE_SHM_REGISTER: TEE_IOC_SHM_REGISTER: user memory of the client process (its bytes travel with each call) */
struct smaf_tee_shm_register_in {
	uint32_t ctx;  /* TEE context */
	uint32_t flags;  /* must be 0 */
	uint64_t addr;  /* the client's address (shown, never used by smafd) */
	uint64_t length;  /* bytes, > 0 */
};
_Static_assert(sizeof(struct smaf_tee_shm_register_in) == 24, "smaf_tee_shm_register_in: size");
_Static_assert(offsetof(struct smaf_tee_shm_register_in, ctx) == 0, "smaf_tee_shm_register_in.ctx");
_Static_assert(offsetof(struct smaf_tee_shm_register_in, flags) == 4, "smaf_tee_shm_register_in.flags");
_Static_assert(offsetof(struct smaf_tee_shm_register_in, addr) == 8, "smaf_tee_shm_register_in.addr");
_Static_assert(offsetof(struct smaf_tee_shm_register_in, length) == 16, "smaf_tee_shm_register_in.length");
#define SMAF_TEE_SHM_REGISTER_SIZE 24u
#define SMAF_TEE_SHM_REGISTER_REPLY_SIZE 16u

/* TEE_SHM_REGISTER_FD: TEE_IOC_SHM_REGISTER_FD: the dma-buf of fd, with a reference of its own (the fd may be closed); not a buffer fd: EINVAL */
struct smaf_tee_shm_register_fd_in {
	uint32_t ctx;  /* TEE context */
	uint32_t flags;  /* must be 0 */
};
_Static_assert(sizeof(struct smaf_tee_shm_register_fd_in) == 8, "smaf_tee_shm_register_fd_in: size");
_Static_assert(offsetof(struct smaf_tee_shm_register_fd_in, ctx) == 0, "smaf_tee_shm_register_fd_in.ctx");
_Static_assert(offsetof(struct smaf_tee_shm_register_fd_in, flags) == 4, "smaf_tee_shm_register_fd_in.flags");
#define SMAF_TEE_SHM_REGISTER_FD_SIZE 8u
#define SMAF_TEE_SHM_REGISTER_FD_REPLY_SIZE 16u

/* TEE_SHM_RELEASE: close a shm fd: the shared memory (and its dma-buf reference) goes */
struct smaf_tee_shm_release_in {
	uint32_t shm;  /* shared memory id */
	uint32_t reserved;  /* reserved, must be 0 */
};
_Static_assert(sizeof(struct smaf_tee_shm_release_in) == 8, "smaf_tee_shm_release_in: size");
_Static_assert(offsetof(struct smaf_tee_shm_release_in, shm) == 0, "smaf_tee_shm_release_in.shm");
_Static_assert(offsetof(struct smaf_tee_shm_release_in, reserved) == 4, "smaf_tee_shm_release_in.reserved");
#define SMAF_TEE_SHM_RELEASE_SIZE 8u

/* TEE_OPEN_SESSION: TEE_IOC_OPEN_SESSION */
struct smaf_tee_open_session_in {
	uint8_t uuid[16];  /* the TA's UUID, as uuid_to_octets writes it */
	uint8_t clnt_uuid[16];  /* connection data (GROUP logins) */
	uint32_t ctx;  /* TEE context */
	uint32_t clnt_login;  /* TEE_IOCTL_LOGIN_* */
	uint32_t cancel_id;  /* cancellation id */
	uint32_t num_params;  /* parameters that follow */
};
_Static_assert(sizeof(struct smaf_tee_open_session_in) == 48, "smaf_tee_open_session_in: size");
_Static_assert(offsetof(struct smaf_tee_open_session_in, uuid) == 0, "smaf_tee_open_session_in.uuid");
_Static_assert(offsetof(struct smaf_tee_open_session_in, clnt_uuid) == 16, "smaf_tee_open_session_in.clnt_uuid");
_Static_assert(offsetof(struct smaf_tee_open_session_in, ctx) == 32, "smaf_tee_open_session_in.ctx");
_Static_assert(offsetof(struct smaf_tee_open_session_in, clnt_login) == 36, "smaf_tee_open_session_in.clnt_login");
_Static_assert(offsetof(struct smaf_tee_open_session_in, cancel_id) == 40, "smaf_tee_open_session_in.cancel_id");
_Static_assert(offsetof(struct smaf_tee_open_session_in, num_params) == 44, "smaf_tee_open_session_in.num_params");
#define SMAF_TEE_OPEN_SESSION_HEADER 48u  /* then num_params smaf_tee_param, then the bytes of the normal world's memrefs (docs/tee.md) */

/* TEE_INVOKE: TEE_IOC_INVOKE */
struct smaf_tee_invoke_in {
	uint32_t ctx;  /* TEE context */
	uint32_t session;  /* session id */
	uint32_t func;  /* the TA's command */
	uint32_t cancel_id;  /* cancellation id */
	uint32_t num_params;  /* parameters that follow */
	uint32_t reserved;  /* reserved, must be 0 */
};
_Static_assert(sizeof(struct smaf_tee_invoke_in) == 24, "smaf_tee_invoke_in: size");
_Static_assert(offsetof(struct smaf_tee_invoke_in, ctx) == 0, "smaf_tee_invoke_in.ctx");
_Static_assert(offsetof(struct smaf_tee_invoke_in, session) == 4, "smaf_tee_invoke_in.session");
_Static_assert(offsetof(struct smaf_tee_invoke_in, func) == 8, "smaf_tee_invoke_in.func");
_Static_assert(offsetof(struct smaf_tee_invoke_in, cancel_id) == 12, "smaf_tee_invoke_in.cancel_id");
_Static_assert(offsetof(struct smaf_tee_invoke_in, num_params) == 16, "smaf_tee_invoke_in.num_params");
_Static_assert(offsetof(struct smaf_tee_invoke_in, reserved) == 20, "smaf_tee_invoke_in.reserved");
#define SMAF_TEE_INVOKE_HEADER 24u  /* then num_params smaf_tee_param, then the bytes of the normal world's memrefs (docs/tee.md) */

/* TEE_CLOSE_SESSION: TEE_IOC_CLOSE_SESSION */
struct smaf_tee_close_session_in {
	uint32_t ctx;  /* TEE context */
	uint32_t session;  /* session id */
};
_Static_assert(sizeof(struct smaf_tee_close_session_in) == 8, "smaf_tee_close_session_in: size");
_Static_assert(offsetof(struct smaf_tee_close_session_in, ctx) == 0, "smaf_tee_close_session_in.ctx");
_Static_assert(offsetof(struct smaf_tee_close_session_in, session) == 4, "smaf_tee_close_session_in.session");
#define SMAF_TEE_CLOSE_SESSION_SIZE 8u

/* TEE_CANCEL: TEE_IOC_CANCEL */
struct smaf_tee_cancel_in {
	uint32_t ctx;  /* TEE context */
	uint32_t session;  /* session id */
	uint32_t cancel_id;  /* cancellation id */
	uint32_t reserved;  /* reserved, must be 0 */
};
_Static_assert(sizeof(struct smaf_tee_cancel_in) == 16, "smaf_tee_cancel_in: size");
_Static_assert(offsetof(struct smaf_tee_cancel_in, ctx) == 0, "smaf_tee_cancel_in.ctx");
_Static_assert(offsetof(struct smaf_tee_cancel_in, session) == 4, "smaf_tee_cancel_in.session");
_Static_assert(offsetof(struct smaf_tee_cancel_in, cancel_id) == 8, "smaf_tee_cancel_in.cancel_id");
_Static_assert(offsetof(struct smaf_tee_cancel_in, reserved) == 12, "smaf_tee_cancel_in.reserved");
#define SMAF_TEE_CANCEL_SIZE 16u

/* ALLOCATE: allocate the memory now, as a dma-heap does at DMA_HEAP_IOCTL_ALLOC (ENOMEM when it cannot); the heap becomes its exporter */
struct smaf_allocate_in {
	char heap[64];  /* the dma-heap it comes from (its exp_name), NUL-terminated; empty: none */
};
_Static_assert(sizeof(struct smaf_allocate_in) == 64, "smaf_allocate_in: size");
_Static_assert(offsetof(struct smaf_allocate_in, heap) == 0, "smaf_allocate_in.heap");
#define SMAF_ALLOCATE_SIZE 64u

/* FILE: the buffer as a file a C program maps; this fd becomes a handle that holds no reference (the open files do) and cannot be closed */
struct smaf_file_in {
	uint32_t access;  /* O_RDONLY 0, O_WRONLY 1 or O_RDWR 2: the access mode of the file */
};
_Static_assert(sizeof(struct smaf_file_in) == 4, "smaf_file_in: size");
_Static_assert(offsetof(struct smaf_file_in, access) == 0, "smaf_file_in.access");
#define SMAF_FILE_SIZE 4u

/* IDENTIFY: which buffer a file is (EINVAL if it is none of smafd's); with handle 1, a handle of it in this client */
struct smaf_identify_in {
	uint32_t handle;  /* 1: install (or reuse) a handle of the buffer in this client */
};
_Static_assert(sizeof(struct smaf_identify_in) == 4, "smaf_identify_in: size");
_Static_assert(offsetof(struct smaf_identify_in, handle) == 0, "smaf_identify_in.handle");
#define SMAF_IDENTIFY_SIZE 4u
struct smaf_identify_out {
	uint64_t size;  /* bytes */
	uint32_t buffer;  /* buffer id */
	uint32_t secure;  /* 0 or 1 */
	uint32_t count;  /* open files of the buffer (fdinfo count:) */
	uint32_t mmap_errno;  /* 0 when the CPU may map it, else how mmap fails (EPERM, EINVAL) */
	char exp_name[32];  /* the exporter: smaf, or the heap */
	char name[32];  /* DMA_BUF_SET_NAME, empty until set */
};
_Static_assert(sizeof(struct smaf_identify_out) == 88, "smaf_identify_out: size");
_Static_assert(offsetof(struct smaf_identify_out, size) == 0, "smaf_identify_out.size");
_Static_assert(offsetof(struct smaf_identify_out, buffer) == 8, "smaf_identify_out.buffer");
_Static_assert(offsetof(struct smaf_identify_out, secure) == 12, "smaf_identify_out.secure");
_Static_assert(offsetof(struct smaf_identify_out, count) == 16, "smaf_identify_out.count");
_Static_assert(offsetof(struct smaf_identify_out, mmap_errno) == 20, "smaf_identify_out.mmap_errno");
_Static_assert(offsetof(struct smaf_identify_out, exp_name) == 24, "smaf_identify_out.exp_name");
_Static_assert(offsetof(struct smaf_identify_out, name) == 56, "smaf_identify_out.name");
#define SMAF_IDENTIFY_REPLY_SIZE 88u

/* EXPORT_FENCE: DMA_BUF_IOCTL_EXPORT_SYNC_FILE */
struct smaf_fence_in {
	uint32_t flags;  /* DMA_BUF_SYNC_READ 1 and/or DMA_BUF_SYNC_WRITE 2 */
};
_Static_assert(sizeof(struct smaf_fence_in) == 4, "smaf_fence_in: size");
_Static_assert(offsetof(struct smaf_fence_in, flags) == 0, "smaf_fence_in.flags");
#define SMAF_EXPORT_FENCE_SIZE 4u

/* IMPORT_FENCE: DMA_BUF_IOCTL_IMPORT_SYNC_FILE: device work on the buffer waits for it */
#define SMAF_IMPORT_FENCE_SIZE 4u

/* FENCE_INFO: SYNC_IOC_FILE_INFO: a sync file's state and name, and its fences'; an id for FENCE_MERGE */
struct smaf_fence_part {
	int32_t status;  /* 1 signalled, 0 active (dma_fence_get_status) */
	uint32_t id;  /* entry 0: the sync file's id for FENCE_MERGE on this connection; 0 for its fences */
	uint64_t timestamp_ns;  /* when it signalled (CLOCK_MONOTONIC), 0 while active */
	char name[32];  /* entry 0: the sync file's name (sync_file_get_name); then each fence's timeline */
};
_Static_assert(sizeof(struct smaf_fence_part) == 48, "smaf_fence_part: size");
_Static_assert(offsetof(struct smaf_fence_part, status) == 0, "smaf_fence_part.status");
_Static_assert(offsetof(struct smaf_fence_part, id) == 4, "smaf_fence_part.id");
_Static_assert(offsetof(struct smaf_fence_part, timestamp_ns) == 8, "smaf_fence_part.timestamp_ns");
_Static_assert(offsetof(struct smaf_fence_part, name) == 16, "smaf_fence_part.name");
#define SMAF_FENCE_INFO_REPLY_SIZE 48u  /* each of `result` entries */

/* FENCE_MERGE: SYNC_IOC_MERGE */
struct smaf_fence_merge_in {
	uint32_t fence;  /* the first sync file: its id from FENCE_INFO on this connection */
	uint32_t reserved;  /* reserved, must be 0 */
	char name[32];  /* the new sync file's name (struct sync_merge_data.name) */
};
_Static_assert(sizeof(struct smaf_fence_merge_in) == 40, "smaf_fence_merge_in: size");
_Static_assert(offsetof(struct smaf_fence_merge_in, fence) == 0, "smaf_fence_merge_in.fence");
_Static_assert(offsetof(struct smaf_fence_merge_in, reserved) == 4, "smaf_fence_merge_in.reserved");
_Static_assert(offsetof(struct smaf_fence_merge_in, name) == 8, "smaf_fence_merge_in.name");
#define SMAF_FENCE_MERGE_SIZE 40u

/* DMA_SCANOUT: the device reads a range of its mapping (a display scanning a frame out): the firewall decides; nothing but the count comes back */
struct smaf_dma_scanout_in {
	uint32_t attachment;  /* attachment id */
	uint32_t reserved;  /* reserved, must be 0 */
	uint64_t offset;  /* bytes */
	uint64_t length;  /* bytes */
};
_Static_assert(sizeof(struct smaf_dma_scanout_in) == 24, "smaf_dma_scanout_in: size");
_Static_assert(offsetof(struct smaf_dma_scanout_in, attachment) == 0, "smaf_dma_scanout_in.attachment");
_Static_assert(offsetof(struct smaf_dma_scanout_in, reserved) == 4, "smaf_dma_scanout_in.reserved");
_Static_assert(offsetof(struct smaf_dma_scanout_in, offset) == 8, "smaf_dma_scanout_in.offset");
_Static_assert(offsetof(struct smaf_dma_scanout_in, length) == 16, "smaf_dma_scanout_in.length");
#define SMAF_DMA_SCANOUT_SIZE 24u

/* X_STATE: a client sees only the buffers it holds; the admin socket sees all (extension) */
struct smaf_state_in {
	uint32_t offset;  /* first buffer of the page */
	uint32_t limit;  /* buffers in the page, at most 500 */
};
_Static_assert(sizeof(struct smaf_state_in) == 8, "smaf_state_in: size");
_Static_assert(offsetof(struct smaf_state_in, offset) == 0, "smaf_state_in.offset");
_Static_assert(offsetof(struct smaf_state_in, limit) == 4, "smaf_state_in.limit");
#define SMAF_X_STATE_SIZE 8u  /* or no payload */

/* X_EXPLAIN: one buffer this client holds (else ENOENT), any on the admin socket (extension) */
struct smaf_explain_in {
	uint32_t buffer;  /* buffer id with fd -1; 0 with a buffer fd */
};
_Static_assert(sizeof(struct smaf_explain_in) == 4, "smaf_explain_in: size");
_Static_assert(offsetof(struct smaf_explain_in, buffer) == 0, "smaf_explain_in.buffer");
#define SMAF_X_EXPLAIN_SIZE 4u

/* X_EVENTS: filtered and paged over the whole journal; on the client socket, only the events of buffers this connection holds (extension) */
struct smaf_events_in {
	uint64_t after;  /* sequence number; 0 = oldest kept */
	uint64_t since;  /* ms since the epoch; 0 = any */
	uint32_t kinds;  /* bit mask in the order of EVENT_KINDS; 0 = all */
	uint32_t limit;  /* 1..1000 */
	uint32_t client;  /* client id; 0 = any */
	uint32_t buffer;  /* buffer id; 0 = any */
	uint32_t flags;  /* 1 = the newest `limit` */
	uint32_t reserved;  /* reserved, must be 0 */
};
_Static_assert(sizeof(struct smaf_events_in) == 40, "smaf_events_in: size");
_Static_assert(offsetof(struct smaf_events_in, after) == 0, "smaf_events_in.after");
_Static_assert(offsetof(struct smaf_events_in, since) == 8, "smaf_events_in.since");
_Static_assert(offsetof(struct smaf_events_in, kinds) == 16, "smaf_events_in.kinds");
_Static_assert(offsetof(struct smaf_events_in, limit) == 20, "smaf_events_in.limit");
_Static_assert(offsetof(struct smaf_events_in, client) == 24, "smaf_events_in.client");
_Static_assert(offsetof(struct smaf_events_in, buffer) == 28, "smaf_events_in.buffer");
_Static_assert(offsetof(struct smaf_events_in, flags) == 32, "smaf_events_in.flags");
_Static_assert(offsetof(struct smaf_events_in, reserved) == 36, "smaf_events_in.reserved");
#define SMAF_X_EVENTS_SIZE 40u

/* X_TRACE: the journal as a trace for ui.perfetto.dev (extension) */
struct smaf_trace_in {
	uint64_t since;  /* ms since the epoch; 0 = the whole journal */
};
_Static_assert(sizeof(struct smaf_trace_in) == 8, "smaf_trace_in: size");
_Static_assert(offsetof(struct smaf_trace_in, since) == 0, "smaf_trace_in.since");
#define SMAF_X_TRACE_SIZE 8u

/* X_RECORDING: the recording of every client's operations, a page at a time, for replay (docs/trace.md) (extension) */
struct smaf_recording_in {
	uint32_t from;  /* index of the first record */
	uint32_t limit;  /* records in the page, 1..10000 */
};
_Static_assert(sizeof(struct smaf_recording_in) == 8, "smaf_recording_in: size");
_Static_assert(offsetof(struct smaf_recording_in, from) == 0, "smaf_recording_in.from");
_Static_assert(offsetof(struct smaf_recording_in, limit) == 4, "smaf_recording_in.limit");
#define SMAF_X_RECORDING_SIZE 8u


/* ---- /dev/smaf ioctls (magic 'S'), v8 ABI, and DMA_BUF_IOCTL_SYNC ------------------------------ */
#define SMAF_IOC_MAGIC 'S'
#define SMAF_IOC_CREATE 0xC0805300u  /* create a buffer (no memory yet); returns its fd */
#define SMAF_IOC_GET_SECURE_FLAG 0xC0405301u  /* read the secure flag of a buffer fd */
#define SMAF_IOC_SET_SECURE_FLAG 0xC0405302u  /* set the secure flag (only before the buffer has memory) */
#define SMAF_IOC_GET_INFO 0xC0805303u  /* allocator count and the name of allocator `index` */
#define SMAF_DMA_BUF_IOCTL_SYNC 0x40086200u  /* bracket CPU access (begin/end_cpu_access) */
#define SMAF_RDWR 0x2u
#define SMAF_CLOEXEC 0x80000u
#define SMAF_NAME_LEN 64u
#define SMAF_DMA_BUF_SYNC_READ 1u
#define SMAF_DMA_BUF_SYNC_WRITE 2u
#define SMAF_DMA_BUF_SYNC_END 4u
#define SMAF_DMA_BUF_SYNC_RW 3u
#define SMAF_DMA_BUF_SYNC_VALID_FLAGS_MASK 7u

struct smaf_create_data {
	uint64_t version;  /* structure version, must be 0 */
	uint64_t length;  /* buffer length in bytes (rounded up to the page size) */
	uint32_t flags;  /* SMAF_RDWR (0x2) | SMAF_CLOEXEC (0x80000) */
	uint32_t reserved0;  /* reserved, must be 0 */
	int32_t fd;  /* the new buffer fd (must be 0 on input) */
	uint32_t reserved1;  /* reserved, must be 0 */
	char name[64];  /* allocator name hint, NUL-terminated; empty = any */
	uint8_t reserved2[32];  /* reserved, must be 0 */
};
_Static_assert(sizeof(struct smaf_create_data) == 128, "smaf_create_data: size");
_Static_assert(offsetof(struct smaf_create_data, version) == 0, "smaf_create_data.version");
_Static_assert(offsetof(struct smaf_create_data, length) == 8, "smaf_create_data.length");
_Static_assert(offsetof(struct smaf_create_data, flags) == 16, "smaf_create_data.flags");
_Static_assert(offsetof(struct smaf_create_data, reserved0) == 20, "smaf_create_data.reserved0");
_Static_assert(offsetof(struct smaf_create_data, fd) == 24, "smaf_create_data.fd");
_Static_assert(offsetof(struct smaf_create_data, reserved1) == 28, "smaf_create_data.reserved1");
_Static_assert(offsetof(struct smaf_create_data, name) == 32, "smaf_create_data.name");
_Static_assert(offsetof(struct smaf_create_data, reserved2) == 96, "smaf_create_data.reserved2");

struct smaf_secure_flag {
	uint64_t version;  /* structure version, must be 0 */
	int32_t fd;  /* buffer fd */
	uint32_t reserved0;  /* reserved, must be 0 */
	uint32_t secure;  /* 0 or 1 (out for GET, in for SET) */
	uint8_t reserved1[44];  /* reserved, must be 0 */
};
_Static_assert(sizeof(struct smaf_secure_flag) == 64, "smaf_secure_flag: size");
_Static_assert(offsetof(struct smaf_secure_flag, version) == 0, "smaf_secure_flag.version");
_Static_assert(offsetof(struct smaf_secure_flag, fd) == 8, "smaf_secure_flag.fd");
_Static_assert(offsetof(struct smaf_secure_flag, reserved0) == 12, "smaf_secure_flag.reserved0");
_Static_assert(offsetof(struct smaf_secure_flag, secure) == 16, "smaf_secure_flag.secure");
_Static_assert(offsetof(struct smaf_secure_flag, reserved1) == 20, "smaf_secure_flag.reserved1");

struct smaf_info {
	uint64_t version;  /* structure version, must be 0 */
	uint32_t index;  /* allocator index, 0..count-1 */
	uint32_t reserved0;  /* reserved, must be 0 */
	uint32_t count;  /* number of allocators */
	uint32_t reserved1;  /* reserved, must be 0 */
	char name[64];  /* allocator name, NUL-terminated */
	uint8_t reserved2[40];  /* reserved, must be 0 */
};
_Static_assert(sizeof(struct smaf_info) == 128, "smaf_info: size");
_Static_assert(offsetof(struct smaf_info, version) == 0, "smaf_info.version");
_Static_assert(offsetof(struct smaf_info, index) == 8, "smaf_info.index");
_Static_assert(offsetof(struct smaf_info, reserved0) == 12, "smaf_info.reserved0");
_Static_assert(offsetof(struct smaf_info, count) == 16, "smaf_info.count");
_Static_assert(offsetof(struct smaf_info, reserved1) == 20, "smaf_info.reserved1");
_Static_assert(offsetof(struct smaf_info, name) == 24, "smaf_info.name");
_Static_assert(offsetof(struct smaf_info, reserved2) == 88, "smaf_info.reserved2");

struct smaf_dma_buf_sync {
	uint64_t flags;  /* DMA_BUF_SYNC_READ 1 | WRITE 2, START 0 | END 4 */
};
_Static_assert(sizeof(struct smaf_dma_buf_sync) == 8, "smaf_dma_buf_sync: size");
_Static_assert(offsetof(struct smaf_dma_buf_sync, flags) == 0, "smaf_dma_buf_sync.flags");

/* offsets the library rewrites (fds travel as the daemon's numbers on the wire) */
#define SMAF_CREATE_DATA_VERSION_OFFSET 0u
#define SMAF_CREATE_DATA_LENGTH_OFFSET 8u
#define SMAF_CREATE_DATA_FLAGS_OFFSET 16u
#define SMAF_CREATE_DATA_FD_OFFSET 24u
#define SMAF_CREATE_DATA_NAME_OFFSET 32u
#define SMAF_SECURE_FLAG_VERSION_OFFSET 0u
#define SMAF_SECURE_FLAG_FD_OFFSET 8u
#define SMAF_SECURE_FLAG_SECURE_OFFSET 16u
#define SMAF_SECURE_FLAG_VERSION_OFFSET 0u
#define SMAF_SECURE_FLAG_FD_OFFSET 8u
#define SMAF_SECURE_FLAG_SECURE_OFFSET 16u
#define SMAF_INFO_VERSION_OFFSET 0u
#define SMAF_INFO_INDEX_OFFSET 8u
#define SMAF_INFO_COUNT_OFFSET 16u
#define SMAF_INFO_NAME_OFFSET 24u
#define SMAF_DMA_BUF_SYNC_FLAGS_OFFSET 0u

/* ---- dma-buf, sync_file and dma-heap (the kernel's numbers, include/uapi/linux/dma-buf.h, sync_file.h, dma-heap.h) ---- */
#define SMAF_DMA_BUF_BASE 'b'
#define SMAF_DMA_BUF_SET_NAME_A 0x40046201u
#define SMAF_DMA_BUF_SET_NAME_B 0x40086201u
#define SMAF_DMA_BUF_IOCTL_EXPORT_SYNC_FILE 0xC0086202u
#define SMAF_DMA_BUF_IOCTL_IMPORT_SYNC_FILE 0x40086203u
#define SMAF_SYNC_IOC_MAGIC '>'
#define SMAF_SYNC_IOC_MERGE 0xC0303E03u
#define SMAF_SYNC_IOC_FILE_INFO 0xC0383E04u
#define SMAF_SYNC_IOC_SET_DEADLINE 0x40103E05u
struct smaf_sync_merge_data {
	char name[32];  /* the new sync file's name */
	int32_t fd2;  /* the sync file to merge with */
	int32_t fence;  /* the merged sync file */
	uint32_t flags;  /* must be 0 */
	uint32_t pad;  /* reserved, must be 0 */
};
_Static_assert(sizeof(struct smaf_sync_merge_data) == 48, "smaf_sync_merge_data: size");
_Static_assert(offsetof(struct smaf_sync_merge_data, name) == 0, "smaf_sync_merge_data.name");
_Static_assert(offsetof(struct smaf_sync_merge_data, fd2) == 32, "smaf_sync_merge_data.fd2");
_Static_assert(offsetof(struct smaf_sync_merge_data, fence) == 36, "smaf_sync_merge_data.fence");
_Static_assert(offsetof(struct smaf_sync_merge_data, flags) == 40, "smaf_sync_merge_data.flags");
_Static_assert(offsetof(struct smaf_sync_merge_data, pad) == 44, "smaf_sync_merge_data.pad");
struct smaf_sync_fence_info {
	char obj_name[32];  /* the fence's timeline */
	char driver_name[32];  /* the fence's driver */
	int32_t status;  /* 1 signalled, 0 active, < 0 error */
	uint32_t flags;  /* 0 */
	uint64_t timestamp_ns;  /* when it signalled (CLOCK_MONOTONIC), 0 while active */
};
_Static_assert(sizeof(struct smaf_sync_fence_info) == 80, "smaf_sync_fence_info: size");
_Static_assert(offsetof(struct smaf_sync_fence_info, obj_name) == 0, "smaf_sync_fence_info.obj_name");
_Static_assert(offsetof(struct smaf_sync_fence_info, driver_name) == 32, "smaf_sync_fence_info.driver_name");
_Static_assert(offsetof(struct smaf_sync_fence_info, status) == 64, "smaf_sync_fence_info.status");
_Static_assert(offsetof(struct smaf_sync_fence_info, flags) == 68, "smaf_sync_fence_info.flags");
_Static_assert(offsetof(struct smaf_sync_fence_info, timestamp_ns) == 72, "smaf_sync_fence_info.timestamp_ns");
struct smaf_sync_file_info {
	char name[32];  /* the sync file's name */
	int32_t status;  /* 1 signalled, 0 active, < 0 error */
	uint32_t flags;  /* must be 0 */
	uint32_t num_fences;  /* in: room in sync_fence_info (0: only count); out: its fences */
	uint32_t pad;  /* reserved, must be 0 */
	uint64_t sync_fence_info;  /* user pointer to num_fences struct sync_fence_info */
};
_Static_assert(sizeof(struct smaf_sync_file_info) == 56, "smaf_sync_file_info: size");
_Static_assert(offsetof(struct smaf_sync_file_info, name) == 0, "smaf_sync_file_info.name");
_Static_assert(offsetof(struct smaf_sync_file_info, status) == 32, "smaf_sync_file_info.status");
_Static_assert(offsetof(struct smaf_sync_file_info, flags) == 36, "smaf_sync_file_info.flags");
_Static_assert(offsetof(struct smaf_sync_file_info, num_fences) == 40, "smaf_sync_file_info.num_fences");
_Static_assert(offsetof(struct smaf_sync_file_info, pad) == 44, "smaf_sync_file_info.pad");
_Static_assert(offsetof(struct smaf_sync_file_info, sync_fence_info) == 48, "smaf_sync_file_info.sync_fence_info");
struct smaf_sync_set_deadline {
	uint64_t deadline_ns;  /* when the fence should be signalled by (CLOCK_MONOTONIC): a hint */
	uint64_t pad;  /* reserved, must be 0 */
};
_Static_assert(sizeof(struct smaf_sync_set_deadline) == 16, "smaf_sync_set_deadline: size");
_Static_assert(offsetof(struct smaf_sync_set_deadline, deadline_ns) == 0, "smaf_sync_set_deadline.deadline_ns");
_Static_assert(offsetof(struct smaf_sync_set_deadline, pad) == 8, "smaf_sync_set_deadline.pad");
#define SMAF_DMA_HEAP_IOC_MAGIC 'H'
#define SMAF_DMA_HEAP_IOCTL_ALLOC 0xC0184800u
struct smaf_dma_heap_allocation_data {
	uint64_t len;  /* bytes to allocate */
	uint32_t fd;  /* the dma-buf fd */
	uint32_t fd_flags;  /* O_RDWR | O_CLOEXEC */
	uint64_t heap_flags;  /* must be 0 */
};
_Static_assert(sizeof(struct smaf_dma_heap_allocation_data) == 24, "smaf_dma_heap_allocation_data: size");
_Static_assert(offsetof(struct smaf_dma_heap_allocation_data, len) == 0, "smaf_dma_heap_allocation_data.len");
_Static_assert(offsetof(struct smaf_dma_heap_allocation_data, fd) == 8, "smaf_dma_heap_allocation_data.fd");
_Static_assert(offsetof(struct smaf_dma_heap_allocation_data, fd_flags) == 12, "smaf_dma_heap_allocation_data.fd_flags");
_Static_assert(offsetof(struct smaf_dma_heap_allocation_data, heap_flags) == 16, "smaf_dma_heap_allocation_data.heap_flags");

/* ---- what a dma-buf memfd carries (docs/c-programs.md) ----------------------------------------- */
/* A buffer of `length` bytes is a sealed memfd of length + SMAF_TOKEN_PAGE bytes named
 * SMAF_MEMFD_BUFFER; the page after the data holds struct smaf_token_page. */
#define SMAF_TOKEN_PAGE 4096u
#define SMAF_TOKEN_MAGIC "SMAFTOK1"
struct smaf_token_page {
	char magic[8];  /* TOKEN_MAGIC, not NUL-terminated */
	uint64_t length;  /* the buffer's length (page multiple) */
	uint8_t token[16];  /* the export token */
	uint32_t cpu_live;  /* 1 once the memfd holds the CPU view (set at the first mmap) */
	uint32_t reserved;  /* reserved, 0 */
};
_Static_assert(sizeof(struct smaf_token_page) == 40, "smaf_token_page: size");
_Static_assert(offsetof(struct smaf_token_page, magic) == 0, "smaf_token_page.magic");
_Static_assert(offsetof(struct smaf_token_page, length) == 8, "smaf_token_page.length");
_Static_assert(offsetof(struct smaf_token_page, token) == 16, "smaf_token_page.token");
_Static_assert(offsetof(struct smaf_token_page, cpu_live) == 32, "smaf_token_page.cpu_live");
_Static_assert(offsetof(struct smaf_token_page, reserved) == 36, "smaf_token_page.reserved");
/* Zero-copy: smafd's OFD lock of this byte of a buffer's memfd: device work in flight (read
 * lock: reads only; write lock: a write, or a sync file waited for). */
#define SMAF_BUSY_LOCK_OFFSET 0x4000000000000000u
#define SMAF_MEMFD_DEVICE "smaf:/dev/smaf"
#define SMAF_MEMFD_HEAP_PREFIX "smaf-heap:"
#define SMAF_MEMFD_BUFFER "smaf-dmabuf"
#define SMAF_MEMFD_TEE "smaf:/dev/tee0"
#define SMAF_MEMFD_TEE_SHM "smaf-tee-shm"

/* ---- /dev/tee0: the TEE subsystem (linux/tee.h, OP-TEE's SHM_REGISTER_FD) and its ops (docs/tee.md) ---- */
#define SMAF_TEE_IOC_VERSION 0x800CA400u
#define SMAF_TEE_IOC_SHM_ALLOC 0xC010A401u
#define SMAF_TEE_IOC_OPEN_SESSION 0x8010A402u
#define SMAF_TEE_IOC_INVOKE 0x8010A403u
#define SMAF_TEE_IOC_CANCEL 0x8008A404u
#define SMAF_TEE_IOC_CLOSE_SESSION 0x8004A405u
#define SMAF_TEE_IOC_SHM_REGISTER_FD 0xC018A408u
#define SMAF_TEE_IOC_SHM_REGISTER 0xC018A409u
#define SMAF_TEE_IMPL_ID_OPTEE 1u
#define SMAF_TEE_OPTEE_CAP_TZ 1u
#define SMAF_TEE_GEN_CAPS 0xDu  /* GP | REG_MEM | MEMREF_NULL */
#define SMAF_TEE_MEMREF_NULL 0xFFFFFFFFFFFFFFFFull
#define SMAF_TEE_MAX_ARG_SIZE 1024u
#define SMAF_TEE_OPEN_SESSION_ARG 56u  /* sizeof(struct tee_ioctl_open_session_arg) */
#define SMAF_TEE_INVOKE_ARG 24u  /* sizeof(struct tee_ioctl_invoke_arg) */
#define SMAF_TEE_PARAM_ATTR_NONE 0x0u
#define SMAF_TEE_PARAM_ATTR_VALUE_INPUT 0x1u
#define SMAF_TEE_PARAM_ATTR_VALUE_OUTPUT 0x2u
#define SMAF_TEE_PARAM_ATTR_VALUE_INOUT 0x3u
#define SMAF_TEE_PARAM_ATTR_MEMREF_INPUT 0x5u
#define SMAF_TEE_PARAM_ATTR_MEMREF_OUTPUT 0x6u
#define SMAF_TEE_PARAM_ATTR_MEMREF_INOUT 0x7u
#define SMAF_TEE_PARAM_ATTR_TYPE_MASK 0xFFu
#define SMAF_TEE_PARAM_ATTR_META 0x100u
#define SMAF_TEE_SHM_DYNAMIC 0x1u
#define SMAF_TEE_SHM_USER_MAPPED 0x2u
#define SMAF_TEE_SHM_POOL 0x4u
#define SMAF_TEE_SHM_DMA_BUF 0x10u

/* the parameter block of TEE_OPEN_SESSION and TEE_INVOKE, and of their replies after struct smaf_tee_call_out */
struct smaf_tee_param {
	uint64_t attr;  /* TEE_IOCTL_PARAM_ATTR_TYPE_*: 0 none, 1-3 value in/out/inout, 5-7 memref in/out/inout */
	uint64_t a;  /* value a, or a memref's offset in its shared memory */
	uint64_t b;  /* value b, or a memref's size (updated by an output) */
	uint64_t c;  /* value c, or a memref's shared memory id (TEE_MEMREF_NULL: a NULL memref) */
};
_Static_assert(sizeof(struct smaf_tee_param) == 32, "smaf_tee_param: size");
_Static_assert(offsetof(struct smaf_tee_param, attr) == 0, "smaf_tee_param.attr");
_Static_assert(offsetof(struct smaf_tee_param, a) == 8, "smaf_tee_param.a");
_Static_assert(offsetof(struct smaf_tee_param, b) == 16, "smaf_tee_param.b");
_Static_assert(offsetof(struct smaf_tee_param, c) == 24, "smaf_tee_param.c");
struct smaf_tee_call_out {
	uint32_t ret;  /* TEEC_* return code */
	uint32_t ret_origin;  /* TEEC_ORIGIN_* */
	uint32_t session;  /* OPEN_SESSION: the new session (0 on failure) */
	uint32_t num_params;  /* parameters that follow, as sent, outputs updated */
};
_Static_assert(sizeof(struct smaf_tee_call_out) == 16, "smaf_tee_call_out: size");
_Static_assert(offsetof(struct smaf_tee_call_out, ret) == 0, "smaf_tee_call_out.ret");
_Static_assert(offsetof(struct smaf_tee_call_out, ret_origin) == 4, "smaf_tee_call_out.ret_origin");
_Static_assert(offsetof(struct smaf_tee_call_out, session) == 8, "smaf_tee_call_out.session");
_Static_assert(offsetof(struct smaf_tee_call_out, num_params) == 12, "smaf_tee_call_out.num_params");

struct smaf_tee_ioctl_shm_register_fd_data {
	uint64_t fd;  /* __s64: the dma-buf fd */
	uint64_t size;  /* bytes of the dma-buf */
	uint32_t flags;  /* 0 in; the shm flags out */
	int32_t id;  /* the shared memory id */
};
_Static_assert(sizeof(struct smaf_tee_ioctl_shm_register_fd_data) == 24, "smaf_tee_ioctl_shm_register_fd_data: size");
_Static_assert(offsetof(struct smaf_tee_ioctl_shm_register_fd_data, fd) == 0, "smaf_tee_ioctl_shm_register_fd_data.fd");
_Static_assert(offsetof(struct smaf_tee_ioctl_shm_register_fd_data, size) == 8, "smaf_tee_ioctl_shm_register_fd_data.size");
_Static_assert(offsetof(struct smaf_tee_ioctl_shm_register_fd_data, flags) == 16, "smaf_tee_ioctl_shm_register_fd_data.flags");
_Static_assert(offsetof(struct smaf_tee_ioctl_shm_register_fd_data, id) == 20, "smaf_tee_ioctl_shm_register_fd_data.id");

#endif
