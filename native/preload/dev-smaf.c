/*
 * /dev/smaf: its ioctls go to smafd byte for byte (the caller's struct at the size its command
 * encodes), so every rule of the protocol applies exactly. The only rewriting is of fds: CREATE's
 * answer becomes the program's new dma-buf fd, and the fd a SECURE_FLAG ioctl carries becomes
 * smafd's number (-1, hence EBADF, when it is not a dma-buf).
 */
#include "preload.h"

#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>

#define MAX_IOCTL_SIZE (1 << 14)

int smaf_device_ioctl_locked(unsigned long cmd, void *arg)
{
	uint32_t c = (uint32_t)cmd;
	size_t size = _IOC_SIZE(c);
	if (_IOC_TYPE(c) != SMAF_IOC_MAGIC)
		return fail(ENOTTY);
	uint8_t data[MAX_IOCTL_SIZE];
	if (size > sizeof data)
		return fail(EINVAL);
	if (copy_from_user(data, arg, size) < 0)
		return -1;
	int32_t user_fd = 0;
	bool secure_ioctl = _IOC_NR(c) == 1 || _IOC_NR(c) == 2;
	bool has_fd = secure_ioctl && size >= SMAF_SECURE_FLAG_FD_OFFSET + 4;
	if (has_fd) {
		memcpy(&user_fd, data + SMAF_SECURE_FLAG_FD_OFFSET, 4);
		int32_t dfd = dmabuf_daemon_fd_locked(user_fd);
		memcpy(data + SMAF_SECURE_FLAG_FD_OFFSET, &dfd, 4);
	}
	struct rpc r = RPC(c, SMAF_WIRE_DEVICE_FD);
	r.in = data;
	r.in_len = size;
	r.out = data;
	r.out_cap = size;
	int res = rpc_locked(&r);
	if (r.recv_file >= 0)
		real_close(r.recv_file);
	if (res < 0)
		return fail(-res);
	if (has_fd)
		memcpy(data + SMAF_SECURE_FLAG_FD_OFFSET, &user_fd, 4);
	if (_IOC_NR(c) == 0 && size >= SMAF_CREATE_DATA_FD_OFFSET + 4) {
		int32_t dfd;
		uint32_t flags = 0;
		memcpy(&dfd, data + SMAF_CREATE_DATA_FD_OFFSET, 4);
		memcpy(&flags, data + SMAF_CREATE_DATA_FLAGS_OFFSET, 4);
		int fd = dmabuf_adopt_locked(dfd, (flags & SMAF_RDWR) ? O_RDWR : O_RDONLY, flags & SMAF_CLOEXEC);
		if (fd < 0)
			return fail(-fd);
		memcpy(data + SMAF_CREATE_DATA_FD_OFFSET, &fd, 4);
	}
	if (copy_to_user(arg, data, r.out_len < size ? r.out_len : size) < 0)
		return -1;
	return 0;
}
