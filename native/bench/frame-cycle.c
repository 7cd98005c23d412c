/*
 * shim.frame_cycle: a video frame (NV12: width x height x 1.5 bytes) written into a dma-buf through
 * its mapping, bracketed by DMA_BUF_IOCTL_SYNC START/END, against the same memset on plain memory
 * in the same run; then a reader stage: a second process (forked: it inherits the fd) maps the same
 * buffer and sums it each frame between SYNC READ START/END, against the same sum of plain memory.
 * Rounds alternate the plain and the dma-buf loops so that load that comes and goes hits both.
 *
 * The last frame written must be what a device reads (a driver's DMA_CRC, driver.h) in zero-copy,
 * and what a SYNC READ brings back in copy mode (where no driver can reach the program's file).
 *
 * Usage: frame-cycle HEAP FRAMES WIDTH HEIGHT. Prints one JSON line (medians, ns per frame; sync_ns:
 * the two SYNCs of a dma-buf frame, the time a frame spends outside its memset).
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../smaf-wire.h"
#include "../tests/driver.h"

#define ROUNDS 5

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median of n times: the machine is shared, a mean would measure the neighbours. */
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

static int sync_buf(int fd, uint64_t flags) { return ioctl(fd, SMAF_DMA_BUF_IOCTL_SYNC, &flags); }

static uint64_t sum(const unsigned char *p, size_t n)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t s = 0;
	for (size_t i = 0; i < n / 8; i++)
		s += w[i];
	return s;
}

/* The two SYNCs of each dma-buf frame, the last loop's (where the rest of a frame's time goes). */
static double g_sync_t[4096];

/* One loop of `frames` writes: through the dma-buf (with SYNC) when fd >= 0, else plain memset. */
static double write_loop(unsigned char *p, int fd, size_t size, int frames, double *t)
{
	for (int i = 0; i < frames; i++) {
		double t0 = now_ns();
		if (fd >= 0 && sync_buf(fd, SMAF_DMA_BUF_SYNC_WRITE) != 0) {
			perror("frame-cycle: SYNC START");
			exit(1);
		}
		double t1 = now_ns();
		memset(p, (int)(i & 0xff), size);
		double t2 = now_ns();
		if (fd >= 0 && sync_buf(fd, SMAF_DMA_BUF_SYNC_WRITE | SMAF_DMA_BUF_SYNC_END) != 0) {
			perror("frame-cycle: SYNC END");
			exit(1);
		}
		t[i] = now_ns() - t0;
		if (fd >= 0 && i < 4096)
			g_sync_t[i] = t[i] - (t2 - t1);
	}
	return median(t, frames);
}

static double read_loop(const unsigned char *p, int fd, size_t size, int frames, double *t, volatile uint64_t *sink)
{
	for (int i = 0; i < frames; i++) {
		double t0 = now_ns();
		if (fd >= 0 && sync_buf(fd, SMAF_DMA_BUF_SYNC_READ) != 0) {
			perror("frame-cycle: SYNC START READ");
			exit(1);
		}
		*sink += sum(p, size);
		if (fd >= 0 && sync_buf(fd, SMAF_DMA_BUF_SYNC_READ | SMAF_DMA_BUF_SYNC_END) != 0) {
			perror("frame-cycle: SYNC END READ");
			exit(1);
		}
		t[i] = now_ns() - t0;
	}
	return median(t, frames);
}

/* Rounds of (plain, dma-buf) loops, alternating; the median of each side's round medians. */
static void rounds(bool reading, unsigned char *plain, unsigned char *buf, int fd, size_t size, int frames, double *plain_ns, double *dmabuf_ns)
{
	double *t = calloc((size_t)frames, sizeof *t), a[ROUNDS], b[ROUNDS];
	volatile uint64_t sink = 0;
	if (!t)
		exit(1);
	for (int r = 0; r < ROUNDS; r++) {
		a[r] = reading ? read_loop(plain, -1, size, frames, t, &sink) : write_loop(plain, -1, size, frames, t);
		b[r] = reading ? read_loop(buf, fd, size, frames, t, &sink) : write_loop(buf, fd, size, frames, t);
	}
	*plain_ns = median(a, ROUNDS);
	*dmabuf_ns = median(b, ROUNDS);
	free(t);
}

/* Zero-copy: a device reads what the program wrote. Copy mode: SYNC READ brings it back. */
static bool coherent(int fd, unsigned char *buf, size_t size, const char **how)
{
	int s = drv_connect();
	int h = s >= 0 ? drv_handle(s, fd) : -1;
	int att = h >= 0 ? drv_attach_map(s, h, "gpu", 0) : -1;
	uint32_t crc = 0;
	if (att >= 0 && drv_crc(s, h, att, 0, size, &crc) == 0) {
		*how = "a device's CRC";
		close(s);
		return crc == crc32_of(buf, size);
	}
	if (s >= 0)
		close(s);
	*how = "SYNC READ";
	unsigned char first = buf[0], last = buf[size - 1];
	buf[0] = (unsigned char)~first; /* copy mode: a scribble the next SYNC START READ replaces */
	buf[size - 1] = (unsigned char)~last;
	sync_buf(fd, SMAF_DMA_BUF_SYNC_READ);
	bool ok = buf[0] == first && buf[size - 1] == last;
	sync_buf(fd, SMAF_DMA_BUF_SYNC_READ | SMAF_DMA_BUF_SYNC_END);
	return ok;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: frame-cycle HEAP FRAMES WIDTH HEIGHT\n");
		return 2;
	}
	int frames = atoi(argv[2]);
	size_t size = (size_t)atoi(argv[3]) * (size_t)atoi(argv[4]) * 3 / 2;
	if (frames < 1 || size == 0)
		return 2;
	char path[128];
	snprintf(path, sizeof path, "/dev/dma_heap/%s", argv[1]);
	int heap = open(path, O_RDONLY | O_CLOEXEC);
	struct smaf_dma_heap_allocation_data d = { .len = size, .fd_flags = O_RDWR | O_CLOEXEC };
	if (heap < 0 || ioctl(heap, SMAF_DMA_HEAP_IOCTL_ALLOC, &d) != 0) {
		perror("frame-cycle: allocate");
		return 1;
	}
	int fd = (int)d.fd;
	unsigned char *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	unsigned char *plain = malloc(size);
	if (buf == MAP_FAILED || !plain) {
		perror("frame-cycle: mmap");
		return 1;
	}
	memset(plain, 0, size); /* fault the pages in, as the mapping's are after its first frame */
	memset(buf, 0, size);

	double plain_ns, dmabuf_ns;
	rounds(false, plain, buf, fd, size, frames, &plain_ns, &dmabuf_ns);
	double sync_ns = median(g_sync_t, frames < 4096 ? frames : 4096);
	const char *how;
	bool ok = coherent(fd, buf, size, &how);

	/* the reader stage: another process maps the same buffer and sums each frame */
	int pipefd[2];
	if (pipe(pipefd) != 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		unsigned char *view = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		unsigned char *mine = malloc(size);
		if (view == MAP_FAILED || !mine)
			_exit(1);
		memset(mine, 1, size);
		double r[2];
		rounds(true, mine, view, fd, size, frames, &r[0], &r[1]);
		_exit(write(pipefd[1], r, sizeof r) == sizeof r ? 0 : 1);
	}
	close(pipefd[1]);
	double r[2] = { 0, 0 };
	int status = 0;
	bool got = read(pipefd[0], r, sizeof r) == sizeof r;
	waitpid(pid, &status, 0);
	if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "frame-cycle: the reader process failed\n");
		return 1;
	}
	printf("{\"frames\":%d,\"rounds\":%d,\"frame_bytes\":%zu,\"plain_ns\":%.0f,\"dmabuf_ns\":%.0f,\"sync_ns\":%.0f,\"plain_read_ns\":%.0f,\"dmabuf_read_ns\":%.0f,\"coherent\":%s,\"checked_by\":\"%s\"}\n",
	       frames, ROUNDS, size, plain_ns, dmabuf_ns, sync_ns, r[0], r[1], ok ? "true" : "false", how);
	munmap(buf, size);
	close(fd);
	return ok ? 0 : 2;
}
