/*
 * Implicit fences, as a kernel keeps them in a dma-buf's dma_resv: DMA_BUF_IOCTL_SYNC START waits
 * for the device work in its way (a reader for the writes in flight, a writer for everything), a
 * sync file exported for READ waits for the writes and one for WRITE for everything, and a sync
 * file imported as a write fence holds back readers and writers alike; a display's scan-out is a read
 * like any other. Zero-copy only.
 *
 * The work in flight is a device's 64 MiB DMA that a driver (driver.h) starts without waiting for
 * its answer; the program sees it in flight when the sync file it exports is not signalled yet,
 * and checks that a SYNC came back before or after the work ended by looking at that sync file
 * again. Usage: fences HEAP
 */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../smaf-wire.h"
#include "check.h"
#include "heap.h"
#include "driver.h"

#define BIG (64u << 20)

struct sync_file_arg {
	uint32_t flags;
	int32_t fd;
};

static int sync_buf(int fd, uint64_t flags) { return ioctl(fd, SMAF_DMA_BUF_IOCTL_SYNC, &flags); }

/* A sync file of the buffer's fences (READ: its writes; WRITE: everything), -1 on error. */
static int export_fence(int fd, uint32_t flags)
{
	struct sync_file_arg a = { .flags = flags, .fd = -1 };
	return ioctl(fd, SMAF_DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &a) == 0 ? a.fd : -1;
}

static bool signalled(int sync_file)
{
	struct pollfd p = { .fd = sync_file, .events = POLLIN };
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Wait until work is in flight on fd, seen through a sync file for `flags` that is not signalled
 * (returned, or -1 when the work ended before it could be seen). */
static int in_flight(int fd, uint32_t flags)
{
	for (int i = 0; i < 100000; i++) {
		int sf = export_fence(fd, flags);
		if (sf < 0)
			return -1;
		if (!signalled(sf))
			return sf;
		close(sf);
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *heap = argc > 1 ? argv[1] : "system";
	int x = heap_alloc(heap, BIG, O_RDWR | O_CLOEXEC), src = heap_alloc(heap, BIG, O_RDWR | O_CLOEXEC), y = heap_alloc(heap, BIG, O_RDWR | O_CLOEXEC);
	unsigned char *p = x < 0 ? MAP_FAILED : mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_SHARED, x, 0);
	CHECK(p != MAP_FAILED && src >= 0 && y >= 0, "three 64 MiB %s buffers, one mapped", heap);
	if (p == MAP_FAILED || src < 0 || y < 0)
		return check_done();
	int s = drv_connect();
	int hx = drv_handle(s, x), hs = drv_handle(s, src), hy = drv_handle(s, y);
	int ax = drv_attach_map(s, hx, "gpu", 0), as = drv_attach_map(s, hs, "gpu", 0), ay = drv_attach_map(s, hy, "gpu", 0);
	CHECK(s >= 0 && ax >= 0 && as >= 0 && ay >= 0, "a driver maps all three for the GPU");

	/* nothing in flight: a SYNC comes back at once, a sync file is signalled at once */
	CHECK(sync_buf(x, SMAF_DMA_BUF_SYNC_WRITE) == 0 && sync_buf(x, SMAF_DMA_BUF_SYNC_WRITE | SMAF_DMA_BUF_SYNC_END) == 0, "idle: SYNC START/END");
	int sf = export_fence(x, SMAF_DMA_BUF_SYNC_WRITE);
	CHECK(sf >= 0 && signalled(sf), "idle: an exported sync file is signalled at once");
	close(sf);
	CHECK_ERRNO(sync_buf(x, 8), EINVAL, "a mapped buffer's SYNC with an unknown flag: EINVAL");
	CHECK_ERRNO(sync_buf(x, SMAF_DMA_BUF_SYNC_END), EINVAL, "a mapped buffer's SYNC with neither READ nor WRITE: EINVAL");

	/* a device writes x: a reader's SYNC START waits for the write */
	struct smaf_dma_copy_in copy = { .dst_attachment = (uint32_t)ax, .src_fd = hs, .src_attachment = (uint32_t)as, .length = BIG };
	CHECK(drv_send(s, SMAF_OP_DMA_COPY, hx, &copy, sizeof copy, -1) == 0, "the device starts writing x (64 MiB)");
	sf = in_flight(x, SMAF_DMA_BUF_SYNC_READ);
	CHECK(sf >= 0, "the write is in flight: a sync file for readers is not signalled");
	CHECK(sync_buf(x, SMAF_DMA_BUF_SYNC_READ) == 0, "SYNC START READ while the device writes");
	CHECK(sf >= 0 && signalled(sf), "SYNC START READ came back after the write (its sync file is signalled)");
	CHECK(sync_buf(x, SMAF_DMA_BUF_SYNC_READ | SMAF_DMA_BUF_SYNC_END) == 0, "SYNC END READ");
	CHECK(drv_recv(s, NULL, 0, NULL) == (int)BIG, "the copy answers its length");
	close(sf);

	/* a device reads x: a reader goes on at once, a writer waits */
	struct smaf_dma_crc_in crc = { .attachment = (uint32_t)ax, .length = BIG };
	CHECK(drv_send(s, SMAF_OP_DMA_CRC, hx, &crc, sizeof crc, -1) == 0, "the device starts reading x (CRC of 64 MiB)");
	sf = in_flight(x, SMAF_DMA_BUF_SYNC_WRITE);
	CHECK(sf >= 0, "the read is in flight: a sync file for writers is not signalled");
	int rf = export_fence(x, SMAF_DMA_BUF_SYNC_READ);
	CHECK(rf >= 0 && signalled(rf), "a sync file for readers does not wait for a read");
	close(rf);
	CHECK(sync_buf(x, SMAF_DMA_BUF_SYNC_READ) == 0, "SYNC START READ while the device reads");
	CHECK(sf >= 0 && !signalled(sf), "SYNC START READ did not wait for the read");
	CHECK(sync_buf(x, SMAF_DMA_BUF_SYNC_WRITE) == 0, "SYNC START WRITE while the device reads");
	CHECK(sf >= 0 && signalled(sf), "SYNC START WRITE came back after the read");
	CHECK(sync_buf(x, SMAF_DMA_BUF_SYNC_WRITE | SMAF_DMA_BUF_SYNC_END) == 0 && sync_buf(x, SMAF_DMA_BUF_SYNC_READ | SMAF_DMA_BUF_SYNC_END) == 0, "SYNC END twice");
	struct smaf_dma_crc_out crc_out;
	CHECK(drv_recv(s, &crc_out, sizeof crc_out, NULL) == 0, "the CRC answers 0");
	close(sf);

	/* a display scans x out (a read): a writer waits for it too */
	struct smaf_dma_scanout_in scan = { .attachment = (uint32_t)ax, .length = BIG };
	CHECK(drv_send(s, SMAF_OP_DMA_SCANOUT, hx, &scan, sizeof scan, -1) == 0, "the device starts scanning x out");
	sf = in_flight(x, SMAF_DMA_BUF_SYNC_WRITE);
	CHECK(sf >= 0, "the scan-out is in flight");
	CHECK(sync_buf(x, SMAF_DMA_BUF_SYNC_WRITE) == 0 && sf >= 0 && signalled(sf), "SYNC START WRITE came back after the scan-out");
	CHECK(sync_buf(x, SMAF_DMA_BUF_SYNC_WRITE | SMAF_DMA_BUF_SYNC_END) == 0, "SYNC END");
	CHECK(drv_recv(s, NULL, 0, NULL) == (int)BIG, "the scan-out answers its length");
	close(sf);

	/* a sync file imported into x as a write fence: readers of x wait for it */
	copy.dst_attachment = (uint32_t)ay;
	CHECK(drv_send(s, SMAF_OP_DMA_COPY, hy, &copy, sizeof copy, -1) == 0, "the device starts writing y");
	sf = in_flight(y, SMAF_DMA_BUF_SYNC_READ);
	CHECK(sf >= 0, "y's write is in flight");
	struct sync_file_arg imp = { .flags = SMAF_DMA_BUF_SYNC_WRITE, .fd = sf };
	CHECK(ioctl(x, SMAF_DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &imp) == 0, "y's sync file imported into x as a write fence");
	rf = export_fence(x, SMAF_DMA_BUF_SYNC_READ);
	CHECK(rf >= 0 && !signalled(rf), "x's own sync file for readers now waits for it");
	CHECK(sync_buf(x, SMAF_DMA_BUF_SYNC_READ) == 0 && signalled(sf), "SYNC START READ of x came back after y's write");
	CHECK(rf >= 0 && signalled(rf), "and x's sync file is signalled with it");
	CHECK(sync_buf(x, SMAF_DMA_BUF_SYNC_READ | SMAF_DMA_BUF_SYNC_END) == 0, "SYNC END");
	CHECK(drv_recv(s, NULL, 0, NULL) == (int)BIG, "y's copy answers its length");
	close(sf);
	close(rf);
	close(s);
	munmap(p, BIG);
	close(x);
	close(src);
	close(y);
	return check_done();
}
