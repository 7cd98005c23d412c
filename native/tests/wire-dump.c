/* Prints every constant and size of smaf-wire.h as "NAME VALUE", for test/native.test.ts. */
#include <stddef.h>
#include <stdio.h>

#include "../smaf-wire.h"

#define N(x) printf("%s %lld\n", #x, (long long)(x));
#define OFF(s, f) printf("%s.%s %zu\n", #s, #f, offsetof(struct s, f));

int main(void)
{
	N(SMAF_WIRE_MAX_FRAME) N(SMAF_WIRE_REQUEST_HEADER) N(SMAF_WIRE_RESPONSE_HEADER) N(SMAF_WIRE_DEVICE_FD)
	N(SMAF_OP_CLOSE) N(SMAF_OP_DUP) N(SMAF_OP_ATTACH) N(SMAF_OP_DETACH) N(SMAF_OP_MAP) N(SMAF_OP_UNMAP)
	N(SMAF_OP_MMAP) N(SMAF_OP_MUNMAP) N(SMAF_OP_READ) N(SMAF_OP_WRITE) N(SMAF_OP_EXPORT) N(SMAF_OP_IMPORT)
	N(SMAF_OP_STAT) N(SMAF_OP_DMA_COPY) N(SMAF_OP_DMA_CRC) N(SMAF_OP_HELLO) N(SMAF_OP_SET_NAME) N(SMAF_OP_GENERATION) N(SMAF_OP_DMA_SCANOUT)
	N(SMAF_OP_TEE_OPEN) N(SMAF_OP_TEE_VERSION) N(SMAF_OP_TEE_CLOSE) N(SMAF_OP_TEE_SHM_ALLOC) N(SMAF_OP_TEE_SHM_REGISTER)
	N(SMAF_OP_TEE_SHM_REGISTER_FD) N(SMAF_OP_TEE_SHM_RELEASE) N(SMAF_OP_TEE_OPEN_SESSION) N(SMAF_OP_TEE_INVOKE)
	N(SMAF_OP_TEE_CLOSE_SESSION) N(SMAF_OP_TEE_CANCEL)
	N(SMAF_OP_ALLOCATE) N(SMAF_OP_FILE) N(SMAF_OP_IDENTIFY) N(SMAF_OP_EXPORT_FENCE) N(SMAF_OP_IMPORT_FENCE) N(SMAF_OP_FENCE_INFO) N(SMAF_OP_FENCE_MERGE)
	N(SMAF_OP_X_NATIVE) N(SMAF_OP_X_STATE) N(SMAF_OP_X_EXPLAIN) N(SMAF_OP_X_CHECK) N(SMAF_OP_X_EVENTS) N(SMAF_OP_X_TRACE) N(SMAF_OP_X_PS) N(SMAF_OP_X_HEAPS) N(SMAF_OP_X_DEVICES) N(SMAF_OP_X_RECORDING)
	N(SMAF_HELLO_SIZE) N(SMAF_COMM_LEN) N(SMAF_MMAP_SIZE) N(SMAF_MUNMAP_SIZE) N(SMAF_READ_SIZE) N(SMAF_WRITE_HEADER)
	N(SMAF_TOKEN_LEN) N(SMAF_STAT_REPLY_SIZE) N(SMAF_SET_NAME_SIZE) N(SMAF_PROT_READ) N(SMAF_PROT_WRITE)
	N(SMAF_IOC_CREATE) N(SMAF_IOC_GET_SECURE_FLAG) N(SMAF_IOC_SET_SECURE_FLAG) N(SMAF_IOC_GET_INFO)
	N(SMAF_RDWR) N(SMAF_CLOEXEC) N(SMAF_NAME_LEN)
	N(SMAF_SYNC_IOC_MERGE) N(SMAF_SYNC_IOC_FILE_INFO) N(SMAF_SYNC_IOC_SET_DEADLINE) N(sizeof(struct smaf_sync_merge_data)) N(sizeof(struct smaf_sync_file_info)) N(sizeof(struct smaf_sync_fence_info))
	N(SMAF_DMA_BUF_IOCTL_SYNC) N(SMAF_DMA_BUF_NAME_LEN) N(SMAF_DMA_BUF_SYNC_READ) N(SMAF_DMA_BUF_SYNC_WRITE) N(SMAF_DMA_BUF_SYNC_END)
	N(sizeof(struct smaf_create_data)) N(sizeof(struct smaf_secure_flag)) N(sizeof(struct smaf_info))
	OFF(smaf_create_data, version) OFF(smaf_create_data, length) OFF(smaf_create_data, flags) OFF(smaf_create_data, reserved0)
	OFF(smaf_create_data, fd) OFF(smaf_create_data, reserved1) OFF(smaf_create_data, name) OFF(smaf_create_data, reserved2)
	OFF(smaf_secure_flag, version) OFF(smaf_secure_flag, fd) OFF(smaf_secure_flag, reserved0) OFF(smaf_secure_flag, secure) OFF(smaf_secure_flag, reserved1)
	OFF(smaf_info, version) OFF(smaf_info, index) OFF(smaf_info, reserved0) OFF(smaf_info, count) OFF(smaf_info, reserved1) OFF(smaf_info, name) OFF(smaf_info, reserved2)
	N(SMAF_CREATE_DATA_FLAGS_OFFSET) N(SMAF_CREATE_DATA_FD_OFFSET) N(SMAF_SECURE_FLAG_FD_OFFSET)
	N(SMAF_TEE_IOC_VERSION) N(SMAF_TEE_IOC_SHM_ALLOC) N(SMAF_TEE_IOC_OPEN_SESSION) N(SMAF_TEE_IOC_INVOKE) N(SMAF_TEE_IOC_CANCEL)
	N(SMAF_TEE_IOC_CLOSE_SESSION) N(SMAF_TEE_IOC_SHM_REGISTER_FD) N(SMAF_TEE_IOC_SHM_REGISTER)
	N(SMAF_TEE_OPEN_SESSION_HEADER) N(SMAF_TEE_INVOKE_HEADER) N(sizeof(struct smaf_tee_param)) N(sizeof(struct smaf_tee_call_out))
	return 0;
}
