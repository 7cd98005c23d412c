/*
 * shim.frame_cycle_ratio: a 1080p NV12 frame (3,110,400 bytes) written into a dma-buf through its
 * mapping, bracketed by DMA_BUF_IOCTL_SYNC START/END, against the same memset on plain memory in
 * the same run. Usage: frame-cycle HEAP FRAMES. Prints one JSON line (median ns per frame).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../smaf-wire.h"

#define FRAME 3110400u /* 1920 x 1080 x 1.5 */

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median of n per-frame times: the machine is shared, a mean would measure the neighbours. */
static double median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof *t, cmp);
	return t[n / 2];
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *heap_name = argc > 1 ? argv[1] : "smaf";
	int frames = argc > 2 ? atoi(argv[2]) : 100;
	char path[128];
	snprintf(path, sizeof path, "/dev/dma_heap/%s", heap_name);
	int heap = open(path, O_RDONLY | O_CLOEXEC);
	struct smaf_dma_heap_allocation_data d = { .len = FRAME, .fd_flags = O_RDWR | O_CLOEXEC };
	if (heap < 0 || ioctl(heap, SMAF_DMA_HEAP_IOCTL_ALLOC, &d) != 0) {
		perror("frame-cycle: allocate");
		return 1;
	}
	int fd = (int)d.fd;
	unsigned char *buf = mmap(NULL, FRAME, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	unsigned char *plain = malloc(FRAME);
	if (buf == MAP_FAILED || !plain) {
		perror("frame-cycle: mmap");
		return 1;
	}
	memset(plain, 0, FRAME); /* fault the pages in, as the mapping's are after its first frame */

	double *times = calloc((size_t)frames, sizeof *times);
	if (!times || frames < 1)
		return 1;
	volatile unsigned sink = 0;
	for (int i = 0; i < frames; i++) {
		double t0 = now_ns();
		memset(plain, (int)(i & 0xff), FRAME);
		sink += plain[i % FRAME];
		times[i] = now_ns() - t0;
	}
	double plain_ns = median(times, frames);

	struct { uint64_t flags; } s;
	for (int i = 0; i < frames; i++) {
		double t0 = now_ns();
		s.flags = SMAF_DMA_BUF_SYNC_WRITE;
		if (ioctl(fd, SMAF_DMA_BUF_IOCTL_SYNC, &s) != 0) {
			perror("frame-cycle: SYNC START");
			return 1;
		}
		memset(buf, (int)(i & 0xff), FRAME);
		s.flags = SMAF_DMA_BUF_SYNC_WRITE | SMAF_DMA_BUF_SYNC_END;
		if (ioctl(fd, SMAF_DMA_BUF_IOCTL_SYNC, &s) != 0) {
			perror("frame-cycle: SYNC END");
			return 1;
		}
		times[i] = now_ns() - t0;
	}
	double dmabuf_ns = median(times, frames);
	/* a frame written must be what the emulated memory holds: scribble, SYNC START, compare */
	buf[0] = (unsigned char)(frames + 1);
	s.flags = SMAF_DMA_BUF_SYNC_READ;
	ioctl(fd, SMAF_DMA_BUF_IOCTL_SYNC, &s);
	int coherent = buf[0] == (unsigned char)((frames - 1) & 0xff) && buf[FRAME - 1] == (unsigned char)((frames - 1) & 0xff);
	printf("{\"frames\":%d,\"frame_bytes\":%u,\"plain_ns\":%.0f,\"dmabuf_ns\":%.0f,\"coherent\":%s,\"sink\":%u}\n", frames, FRAME, plain_ns, dmabuf_ns, coherent ? "true" : "false", sink);
	munmap(buf, FRAME);
	close(fd);
	return coherent ? 0 : 2;
}
