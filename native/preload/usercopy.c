/*
 * Copies from and to the program's pointers, as the kernel's copy_from_user: a pointer that cannot
 * be read or written as a whole is EFAULT for the call, never a crash of the program. The library
 * reads its own memory through process_vm_readv/writev, which check every page.
 */
#include "preload.h"

#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static int vm_copy(void *dst, const void *src, size_t n, bool reading)
{
	if (n == 0)
		return 0;
	struct iovec local = { reading ? dst : (void *)src, n };
	struct iovec remote = { reading ? (void *)src : dst, n };
	ssize_t r = reading ? process_vm_readv(getpid(), &local, 1, &remote, 1, 0) : process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	if (r == (ssize_t)n)
		return 0;
	if (r < 0 && errno == ENOSYS) {
		/* no process_vm_* (old kernels, seccomp): trust the pointer, as the library did before */
		memcpy(reading ? dst : (void *)dst, src, n);
		return 0;
	}
	return fail(EFAULT);
}

int copy_from_user(void *dst, const void *user, size_t n) { return vm_copy(dst, user, n, true); }

int copy_to_user(void *user, const void *src, size_t n) { return vm_copy(user, src, n, false); }

long strncpy_from_user(char *dst, const char *user, size_t cap)
{
	/* byte by byte up to the first NUL: the string may end just before an unmapped page */
	for (size_t i = 0; i < cap; i++) {
		if (copy_from_user(dst + i, user + i, 1) < 0)
			return -EFAULT;
		if (dst[i] == 0)
			return (long)i;
	}
	return -EINVAL;
}
