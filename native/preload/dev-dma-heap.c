/*
 * /dev/dma_heap/<heap>: DMA_HEAP_IOCTL_ALLOC as drivers/dma-buf/dma-heap.c answers it. The heap
 * allocates when the ioctl returns (smafd's ALLOCATE op: ENOMEM when it cannot supply the memory),
 * as the kernel's heaps do; only /dev/smaf defers the choice of memory to first use.
 */
#include "preload.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#define MAX_IOCTL_SIZE (1 << 14)

int heap_ioctl_locked(struct object *heap, unsigned long cmd, void *arg)
{
	uint32_t c = (uint32_t)cmd;
	/* dma_heap_ioctl: an nr past its table is EINVAL whatever the type; nr 0 is ALLOC, at the
	 * size and direction the command encodes (its type is not looked at) */
	if (_IOC_NR(c) != 0)
		return fail(EINVAL);
	uint32_t k = SMAF_DMA_HEAP_IOCTL_ALLOC;
	size_t drv = _IOC_SIZE(k), out = _IOC_SIZE(c), in = out;
	if (!(c & k & (_IOC_WRITE << _IOC_DIRSHIFT)))
		in = 0;
	if (!(c & k & (_IOC_READ << _IOC_DIRSHIFT)))
		out = 0;
	size_t ksize = in > out ? in : out;
	if (drv > ksize)
		ksize = drv;
	uint8_t kdata[MAX_IOCTL_SIZE];
	if (ksize > sizeof kdata)
		return fail(ENOMEM);
	if (copy_from_user(kdata, arg, in) < 0)
		return -1;
	memset(kdata + in, 0, ksize - in);
	struct smaf_dma_heap_allocation_data a;
	memcpy(&a, kdata, sizeof a);
	if (a.fd || (a.fd_flags & ~(uint32_t)(O_CLOEXEC | O_ACCMODE)) || a.heap_flags)
		return fail(EINVAL);
	/* dma_heap_buffer_alloc: len = PAGE_ALIGN(len); 0 (or wrapped to 0) is EINVAL */
	if (((a.len + PAGE - 1) & ~(PAGE - 1)) == 0)
		return fail(EINVAL);
	int access = (int)(a.fd_flags & O_ACCMODE);
	struct smaf_create_data cd = { .length = a.len, .flags = (access == O_RDONLY ? 0 : SMAF_RDWR) };
	snprintf(cd.name, sizeof cd.name, "%s", heap->allocator);
	int r = rpc_simple_locked(SMAF_IOC_CREATE, SMAF_WIRE_DEVICE_FD, &cd, sizeof cd, &cd, sizeof cd);
	if (r < 0)
		return fail(-r);
	if (heap->secure_heap) {
		struct smaf_secure_flag sf = { .fd = cd.fd, .secure = 1 };
		r = rpc_simple_locked(SMAF_IOC_SET_SECURE_FLAG, SMAF_WIRE_DEVICE_FD, &sf, sizeof sf, NULL, 0);
	}
	if (r >= 0) {
		struct smaf_allocate_in al = { 0 };
		snprintf(al.heap, sizeof al.heap, "%s", heap->heap);
		r = rpc_simple_locked(SMAF_OP_ALLOCATE, cd.fd, &al, sizeof al, NULL, 0);
	}
	if (r < 0) {
		rpc_simple_locked(SMAF_OP_CLOSE, cd.fd, NULL, 0, NULL, 0);
		return fail(-r);
	}
	int fd = dmabuf_adopt_locked(cd.fd, access, a.fd_flags & O_CLOEXEC);
	if (fd < 0)
		return fail(-fd);
	a.fd = (uint32_t)fd;
	memcpy(kdata, &a, sizeof a);
	if (copy_to_user(arg, kdata, out) < 0) {
		real_close(fd);
		return -1;
	}
	debug("heap %s: allocated %llu bytes as fd %d", heap->heap, (unsigned long long)a.len, fd);
	return 0;
}
