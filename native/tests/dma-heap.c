/*
 * /dev/dma_heap under smaf exec, as the kernel's dma-buf heap selftest exercises a heap, in our
 * own words. Usage: dma-heap HEAP... (every heap named must be listed; "protected,*" heaps are
 * checked to refuse mmap). A heap allocates at ALLOC: linux,cma (64 MiB) and the protected heap
 * (31 MiB) are filled until ALLOC says ENOMEM.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../smaf-wire.h"
#include "check.h"

struct older { uint64_t len; uint32_t fd; uint32_t fd_flags; };
struct newer { uint64_t len; uint32_t fd; uint32_t fd_flags; uint64_t heap_flags; uint64_t extra[2]; };

static int heap_alloc(int heap, uint64_t len, uint32_t fd_flags, uint64_t heap_flags)
{
	struct smaf_dma_heap_allocation_data d = { .len = len, .fd_flags = fd_flags, .heap_flags = heap_flags };
	return ioctl(heap, SMAF_DMA_HEAP_IOCTL_ALLOC, &d) == 0 ? (int)d.fd : -1;
}

static int sync_buf(int fd, uint64_t flags)
{
	return ioctl(fd, SMAF_DMA_BUF_IOCTL_SYNC, &flags);
}

static int listed(const char *name)
{
	DIR *d = opendir("/dev/dma_heap");
	struct dirent *e;
	int found = 0;
	while (d && (e = readdir(d)))
		found |= strcmp(e->d_name, name) == 0;
	if (d)
		closedir(d);
	return found;
}

/* 32 buffers of `size` filled with 0xff and freed; 32 more must read all zero. */
static void zeroed_reuse(int heap, const char *name, size_t size)
{
	int fds[32];
	int ok = 1;
	for (int i = 0; i < 32; i++) {
		fds[i] = heap_alloc(heap, size, O_RDWR | O_CLOEXEC, 0);
		char *p = fds[i] < 0 ? MAP_FAILED : mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		if (p == MAP_FAILED) {
			ok = 0;
			continue;
		}
		sync_buf(fds[i], SMAF_DMA_BUF_SYNC_WRITE);
		memset(p, 0xff, size);
		sync_buf(fds[i], SMAF_DMA_BUF_SYNC_WRITE | SMAF_DMA_BUF_SYNC_END);
		munmap(p, size);
	}
	for (int i = 0; i < 32; i++)
		close(fds[i]);
	CHECK(ok, "%s: 32 buffers of %zu bytes filled with 0xff, freed", name, size);
	size_t dirty = 0;
	for (int i = 0; i < 32; i++) {
		fds[i] = heap_alloc(heap, size, O_RDWR | O_CLOEXEC, 0);
		unsigned char *p = fds[i] < 0 ? MAP_FAILED : mmap(NULL, size, PROT_READ, MAP_SHARED, fds[i], 0);
		if (p == MAP_FAILED) {
			ok = 0;
			continue;
		}
		sync_buf(fds[i], SMAF_DMA_BUF_SYNC_READ);
		for (size_t j = 0; j < size; j++)
			dirty += p[j] != 0;
		sync_buf(fds[i], SMAF_DMA_BUF_SYNC_READ | SMAF_DMA_BUF_SYNC_END);
		munmap(p, size);
	}
	for (int i = 0; i < 32; i++)
		close(fds[i]);
	CHECK(ok && dirty == 0, "%s: 32 more buffers of %zu bytes read all zero (%zu dirty bytes)", name, size, dirty);
}

/* The heap allocates at ALLOC, as the kernel's: more than the pool holds fails there with ENOMEM. */
static void exhaustion(int heap, const char *name, uint64_t pool)
{
	CHECK_ERRNO(heap_alloc(heap, pool + (1 << 20), O_RDWR | O_CLOEXEC, 0), ENOMEM, "%s: one buffer larger than the %llu MiB pool: ENOMEM at ALLOC", name, (unsigned long long)(pool >> 20));
	int big = heap_alloc(heap, pool * 5 / 8, O_RDWR | O_CLOEXEC, 0);
	CHECK(big >= 0, "%s: %llu MiB fit", name, (unsigned long long)(pool * 5 / 8 >> 20));
	CHECK_ERRNO(heap_alloc(heap, pool * 5 / 8, O_RDWR | O_CLOEXEC, 0), ENOMEM, "%s: a second one does not: ENOMEM at ALLOC", name);
	close(big);
	int fds[64];
	int n = 0;
	while (n < 64 && (fds[n] = heap_alloc(heap, 4u << 20, O_RDWR | O_CLOEXEC, 0)) >= 0)
		n++;
	int e = errno;
	CHECK(n < 64 && (uint64_t)n * (4u << 20) <= pool && e == ENOMEM, "%s: 4 MiB buffers until the pool is full: %d, then ENOMEM", name, n);
	while (n > 0)
		close(fds[--n]);
	/* memory whose last reference goes (the fd, or the mapping after it) is free at once: the next ALLOC may take it */
	bool mappable = strncmp(name, "protected,", 10) != 0;
	int again = 0;
	for (int r = 0; r < 20; r++) {
		int b = heap_alloc(heap, pool * 5 / 8, O_RDWR | O_CLOEXEC, 0);
		if (b < 0)
			continue;
		again++;
		unsigned char *p = mappable ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, b, 0) : MAP_FAILED;
		close(b);
		if (p != MAP_FAILED) {
			p[0] = 1; /* the mapping is the last reference now */
			munmap(p, 4096);
		}
	}
	CHECK(again == 20, "%s: %llu MiB allocated and let go 20 times in a row: free again at once each time (%d of 20)", name, (unsigned long long)(pool * 5 / 8 >> 20), again);
}

static void test_heap(const char *name)
{
	char path[128];
	snprintf(path, sizeof path, "/dev/dma_heap/%s", name);
	struct stat st;
	CHECK(listed(name), "readdir(/dev/dma_heap) lists %s", name);
	CHECK(stat(path, &st) == 0 && S_ISCHR(st.st_mode), "%s is a character device", path);
	int heap = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(heap >= 0, "open %s", path);
	if (heap < 0)
		return;
	int secure = strncmp(name, "protected,", 10) == 0;

	int fd = heap_alloc(heap, 1 << 20, O_RDWR, 0);
	CHECK(fd >= 0, "%s: allocate 1 MiB", name);
	CHECK(fcntl(fd, F_GETFD) == 0, "%s: without O_CLOEXEC the fd is inherited across exec", name);
	if (secure) {
		errno = 0;
		void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		CHECK(p == MAP_FAILED && errno == EINVAL, "%s: mmap of protected memory: EINVAL (the heap has no mmap)", name);
		close(fd);
		exhaustion(heap, name, 31u << 20);
		close(heap);
		return;
	}
	char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "%s: mmap", name);
	CHECK(sync_buf(fd, SMAF_DMA_BUF_SYNC_WRITE) == 0, "%s: SYNC START", name);
	if (p != MAP_FAILED)
		memset(p, 1, 1 << 20);
	CHECK(sync_buf(fd, SMAF_DMA_BUF_SYNC_WRITE | SMAF_DMA_BUF_SYNC_END) == 0, "%s: memset, SYNC END", name);
	if (p != MAP_FAILED)
		munmap(p, 1 << 20);
	close(fd);

	fd = heap_alloc(heap, 4096, O_RDWR | O_CLOEXEC, 0);
	CHECK(fd >= 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC, "%s: O_CLOEXEC in fd_flags is honoured", name);
	close(fd);

	zeroed_reuse(heap, name, 4096);
	zeroed_reuse(heap, name, 1 << 20);

	/* struct sizes, as dma_heap_ioctl copies them: smaller zero-filled, larger's extra untouched */
	struct older o = { .len = 8192, .fd_flags = O_RDWR | O_CLOEXEC };
	CHECK(ioctl(heap, _IOWR('H', 0, struct older), &o) == 0 && o.fd > 0 && lseek((int)o.fd, 0, SEEK_END) == 8192, "%s: an older, 16-byte struct allocates", name);
	close((int)o.fd);
	struct newer n = { .len = 8192, .fd_flags = O_RDWR | O_CLOEXEC, .extra = { 0xdeadbeef, 0xfeedface } };
	CHECK(ioctl(heap, _IOWR('H', 0, struct newer), &n) == 0 && n.fd > 0 && n.extra[0] == 0xdeadbeef && n.extra[1] == 0xfeedface, "%s: a newer, 40-byte struct allocates; its extra fields are ignored", name);
	close((int)n.fd);

	/* what must fail */
	CHECK_ERRNO(heap_alloc(heap, 4096, ~0u, 0), EINVAL, "%s: invalid fd_flags: EINVAL", name);
	CHECK_ERRNO(heap_alloc(heap, 4096, O_RDWR, ~0ull), EINVAL, "%s: invalid heap_flags: EINVAL", name);
	CHECK_ERRNO(heap_alloc(heap, 0, O_RDWR, 0), EINVAL, "%s: length 0: EINVAL", name);
	struct smaf_dma_heap_allocation_data d = { .len = 4096, .fd = 7, .fd_flags = O_RDWR };
	CHECK_ERRNO(ioctl(heap, SMAF_DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, "%s: fd not 0 on input: EINVAL", name);
	CHECK_ERRNO(ioctl(heap, _IOWR('H', 1, struct smaf_dma_heap_allocation_data), &d), EINVAL, "%s: an nr past the kernel's table: EINVAL", name);
	CHECK_ERRNO(ioctl(heap, _IOWR('x', 5, struct smaf_dma_heap_allocation_data), &d), EINVAL, "%s: an ioctl of another type, nr 5: EINVAL (dma_heap_ioctl looks only at the nr)", name);
	if (!strcmp(name, "linux,cma"))
		exhaustion(heap, name, 64u << 20);
	CHECK_ERRNO(mmap(NULL, 4096, PROT_READ, MAP_SHARED, heap, 0) == MAP_FAILED ? -1 : 0, ENODEV, "%s: mmap of the heap fd: ENODEV", name);
	close(heap);
}

int main(int argc, char **argv)
{
	struct stat st;
	CHECK(stat("/dev/dma_heap", &st) == 0 && S_ISDIR(st.st_mode), "/dev/dma_heap is a directory");
	CHECK_ERRNO(open("/dev/dma_heap/no-such-heap", O_RDONLY), ENOENT, "an unknown heap: ENOENT");
	CHECK_ERRNO(heap_alloc(0, 4096, O_RDWR, 0), ENOTTY, "allocation through an invalid fd (stdin) fails");
	CHECK_ERRNO(heap_alloc(-1, 4096, O_RDWR, 0), EBADF, "allocation through fd -1: EBADF");
	for (int i = 1; i < argc; i++)
		test_heap(argv[i]);
	return check_done();
}
