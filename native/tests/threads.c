/*
 * Threads: GStreamer-style pipelines allocate, map and sync from many threads at once. Each thread
 * allocates its own buffers, writes its own pattern, and checks through smafd (scribble, then SYNC
 * START) that what it reads back is its own. Usage: threads HEAP.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../smaf-wire.h"
#include "check.h"

#define THREADS 6
#define ROUNDS 12
#define SIZE (64 * 1024)

static const char *heap_path;

static int sync_buf(int fd, uint64_t flags) { return ioctl(fd, SMAF_DMA_BUF_IOCTL_SYNC, &flags); }

static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uintptr_t errors = 0;
	int heap = open(heap_path, O_RDONLY | O_CLOEXEC);
	for (int r = 0; r < ROUNDS; r++) {
		struct smaf_dma_heap_allocation_data d = { .len = SIZE, .fd_flags = O_RDWR | O_CLOEXEC };
		if (heap < 0 || ioctl(heap, SMAF_DMA_HEAP_IOCTL_ALLOC, &d) != 0) {
			errors++;
			continue;
		}
		int fd = (int)d.fd;
		unsigned char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			errors++;
			close(fd);
			continue;
		}
		unsigned char v = (unsigned char)(id * 16 + (unsigned)r);
		sync_buf(fd, SMAF_DMA_BUF_SYNC_WRITE);
		memset(p, v, SIZE);
		sync_buf(fd, SMAF_DMA_BUF_SYNC_WRITE | SMAF_DMA_BUF_SYNC_END);
		if (!getenv("SMAF_NATIVE_SOCKET"))
			memset(p, 0, SIZE); /* copy mode: SYNC START must bring the bytes back from smafd */
		if (sync_buf(fd, SMAF_DMA_BUF_SYNC_READ) != 0 || p[0] != v || p[SIZE - 1] != v)
			errors++;
		sync_buf(fd, SMAF_DMA_BUF_SYNC_READ | SMAF_DMA_BUF_SYNC_END);
		munmap(p, SIZE);
		close(fd);
	}
	close(heap);
	return (void *)errors;
}

int main(int argc, char **argv)
{
	char path[128];
	snprintf(path, sizeof path, "/dev/dma_heap/%s", argc > 1 ? argv[1] : "system");
	heap_path = path;
	pthread_t t[THREADS];
	for (uintptr_t i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	uintptr_t errors = 0;
	for (int i = 0; i < THREADS; i++) {
		void *e;
		pthread_join(t[i], &e);
		errors += (uintptr_t)e;
	}
	CHECK(errors == 0, "%d threads x %d buffers: allocated, mapped, written, read back through smafd (%lu errors)", THREADS, ROUNDS, (unsigned long)errors);
	return check_done();
}
