/*
 * A write through a mapping is visible to every other mapping of the buffer and to devices, with
 * or without DMA_BUF_IOCTL_SYNC (which brackets cache maintenance; it is not when bytes exist), and
 * a device's write is visible to every mapping. Zero-copy only: the mapping is the memory.
 * A device is reached as a kernel driver would reach it (driver.h: smafd's protocol, with the fd).
 * Usage: coherence HEAP
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../smaf-wire.h"
#include "check.h"
#include "heap.h"
#include "driver.h"

#define SIZE (256 * 1024)

static int sync_buf(int fd, uint64_t flags) { return ioctl(fd, SMAF_DMA_BUF_IOCTL_SYNC, &flags); }

int main(int argc, char **argv)
{
	const char *heap = argc > 1 ? argv[1] : "system";
	int fd = heap_alloc(heap, SIZE, O_RDWR | O_CLOEXEC), src = heap_alloc(heap, SIZE, O_RDWR | O_CLOEXEC);
	unsigned char *p = fd < 0 ? MAP_FAILED : mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	unsigned char *q = src < 0 ? MAP_FAILED : mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, src, 0);
	CHECK(p != MAP_FAILED && q != MAP_FAILED, "two %s buffers, mapped", heap);
	if (p == MAP_FAILED || q == MAP_FAILED)
		return check_done();
	int s = drv_connect();
	int h = drv_handle(s, fd), hs = drv_handle(s, src);
	int att = drv_attach_map(s, h, "gpu", 0), satt = drv_attach_map(s, hs, "gpu", 0);
	CHECK(s >= 0 && h >= 0 && att >= 0 && hs >= 0 && satt >= 0, "a driver maps both for the GPU");

	/* the CPU writes without any SYNC: the device reads it */
	for (size_t i = 0; i < SIZE; i++)
		p[i] = (unsigned char)(i * 11 + 3);
	uint32_t crc = 0;
	CHECK(drv_crc(s, h, att, 0, SIZE, &crc) == 0 && crc == crc32_of(p, SIZE), "a CPU write with no SYNC at all is what the device reads");

	/* a SYNC START with unsynced writes before it loses nothing */
	memcpy(p, "unsynced", 8);
	CHECK(sync_buf(fd, SMAF_DMA_BUF_SYNC_READ) == 0 && !memcmp(p, "unsynced", 8), "a SYNC START keeps the CPU's unsynced bytes");
	CHECK(sync_buf(fd, SMAF_DMA_BUF_SYNC_READ | SMAF_DMA_BUF_SYNC_END) == 0, "SYNC END");
	CHECK(sync_buf(fd, SMAF_DMA_BUF_SYNC_WRITE | SMAF_DMA_BUF_SYNC_END) == 0, "a SYNC END without START: 0, as the kernel (it does not pair them)");

	/* the device writes: every mapping sees it at once */
	memcpy(q, "from the device", 15);
	CHECK(drv_copy(s, h, att, hs, satt, 0, 4096, 15) == 15, "the GPU copies 15 bytes into the buffer at 4096");
	CHECK(!memcmp(p + 4096, "from the device", 15), "the CPU's mapping has them, no SYNC needed");
	unsigned char *p2 = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p2 != MAP_FAILED && !memcmp(p2 + 4096, "from the device", 15) && p2[0] == 'u', "so does a second mapping");

	/* a child writes through its inherited mapping and leaves with _exit(): nothing is lost */
	pid_t child = fork();
	if (child == 0) {
		memset(p + 8192, 0x5a, 4096);
		_exit(0);
	}
	int st = 0;
	waitpid(child, &st, 0);
	CHECK(WIFEXITED(st) && p[8192] == 0x5a && p2[12287] == 0x5a, "a child's write through an inherited mapping, then _exit(): the parent sees it");
	CHECK(drv_crc(s, h, att, 8192, 4096, &crc) == 0 && crc == crc32_of(p + 8192, 4096), "and so does the device");

	/* two processes map the buffer: each sees the other's writes at once */
	int pipefd[2];
	CHECK(pipe(pipefd) == 0, "a pipe");
	child = fork();
	if (child == 0) {
		unsigned char *c = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		char b;
		if (c == MAP_FAILED || read(pipefd[0], &b, 1) != 1)
			_exit(2);
		_exit(c[100000] == 0x77 ? 0 : 1);
	}
	p[100000] = 0x77;
	CHECK(write(pipefd[1], "g", 1) == 1, "the parent writes one byte");
	waitpid(child, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child's own mapping sees it");
	munmap(p2, SIZE);
	munmap(p, SIZE);
	munmap(q, SIZE);
	close(fd);
	close(src);
	close(s);
	return check_done();
}
