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
 * again. The sync files answer their own ioctls as the kernel's: SYNC_IOC_FILE_INFO and
 * SYNC_IOC_MERGE (a merge is signalled once every fence of both is). Usage: fences HEAP
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

static int file_info(int sf, struct smaf_sync_file_info *info, struct smaf_sync_fence_info *fences, uint32_t room)
{
	memset(info, 0, sizeof *info);
	info->num_fences = room;
	info->sync_fence_info = (uint64_t)(uintptr_t)fences;
	return ioctl(sf, SMAF_SYNC_IOC_FILE_INFO, info);
}

static int merge(int a, int b, const char *name)
{
	struct smaf_sync_merge_data m = { .fd2 = b, .fence = -1 };
	snprintf(m.name, sizeof m.name, "%s", name);
	return ioctl(a, SMAF_SYNC_IOC_MERGE, &m) == 0 ? m.fence : -1;
}

/* SYNC_IOC_FILE_INFO and SYNC_IOC_MERGE while y is written by a device (s, hy: the driver). */
static void sync_file_ioctls(int x, int y, int s, int hy, struct smaf_dma_copy_in *copy)
{
	struct smaf_sync_file_info info;
	struct smaf_sync_fence_info fi[4];
	int idle = export_fence(x, SMAF_DMA_BUF_SYNC_WRITE);
	CHECK(idle >= 0 && file_info(idle, &info, NULL, 0) == 0 && info.status == 1 && info.num_fences == 1 && strncmp(info.name, "smafd-buffer", 12) == 0,
	      "FILE_INFO of an idle sync file: signalled, one fence, named for its buffer (%s)", info.name);
	info.flags = 1;
	CHECK_ERRNO(ioctl(idle, SMAF_SYNC_IOC_FILE_INFO, &info), EINVAL, "FILE_INFO with flags: EINVAL");
	int pp[2];
	CHECK(pipe2(pp, O_CLOEXEC) == 0, "a pipe of the program's own");
	int plain = pp[0], efd = eventfd(0, EFD_CLOEXEC);
	CHECK_ERRNO(file_info(plain, &info, NULL, 0), ENOTTY, "FILE_INFO of a pipe that is no sync file: ENOTTY");
	CHECK_ERRNO(file_info(efd, &info, NULL, 0), ENOTTY, "FILE_INFO of an eventfd: ENOTTY");
	CHECK_ERRNO(file_info(x, &info, NULL, 0), ENOTTY, "FILE_INFO of a dma-buf: ENOTTY");

	CHECK(drv_send(s, SMAF_OP_DMA_COPY, hy, copy, sizeof *copy, -1) == 0, "the device starts writing y again");
	int busy = in_flight(y, SMAF_DMA_BUF_SYNC_READ);
	CHECK(busy >= 0, "y's write is in flight");
	int m = merge(busy, idle, "both");
	CHECK(m >= 0 && !signalled(m), "a merge of y's pending sync file and an idle one waits");
	CHECK(m >= 0 && (fcntl(m, F_GETFD) & FD_CLOEXEC), "the merged sync file is close-on-exec");
	CHECK(file_info(m, &info, NULL, 0) == 0 && info.status == 0 && info.num_fences == 2 && strcmp(info.name, "both") == 0,
	      "FILE_INFO of the merge: active, two fences, its name (%s)", info.name);
	CHECK_ERRNO(file_info(m, &info, fi, 1), EINVAL, "FILE_INFO with room for fewer fences than it holds: EINVAL");
	CHECK(file_info(m, &info, fi, 4) == 0 && info.status == 0 && info.num_fences == 2, "FILE_INFO with its fences: active");
	bool one_each = (fi[0].status == 0) != (fi[1].status == 0);
	const struct smaf_sync_fence_info *done = fi[0].status == 1 ? &fi[0] : &fi[1];
	CHECK(one_each && done->timestamp_ns != 0 && strcmp(done->driver_name, "smafd") == 0 && strncmp(done->obj_name, "buffer", 6) == 0,
	      "one fence signalled (with its time), one active; driver smafd, timeline %s", done->obj_name);
	int again = merge(m, idle, "");
	CHECK(again >= 0 && file_info(again, &info, NULL, 0) == 0 && info.num_fences == 2 && strncmp(info.name, "smafd-merge", 11) == 0,
	      "a merge of a merge holds each fence once; unnamed, it is named by smafd (%s)", info.name);
	CHECK_ERRNO(merge(m, plain, "x"), ENOENT, "MERGE with a pipe that is no sync file: ENOENT");
	CHECK_ERRNO(merge(m, -1, "x"), ENOENT, "MERGE with fd2 -1: ENOENT");
	CHECK_ERRNO(merge(plain, m, "x"), ENOTTY, "MERGE on a pipe that is no sync file: ENOTTY");
	struct smaf_sync_set_deadline dl = { .deadline_ns = 1 };
	CHECK(ioctl(m, SMAF_SYNC_IOC_SET_DEADLINE, &dl) == 0, "SET_DEADLINE on a sync file: 0 (a hint)");
	dl.pad = 1;
	CHECK_ERRNO(ioctl(m, SMAF_SYNC_IOC_SET_DEADLINE, &dl), EINVAL, "SET_DEADLINE with pad set: EINVAL");
	dl.pad = 0;
	CHECK_ERRNO(ioctl(plain, SMAF_SYNC_IOC_SET_DEADLINE, &dl), ENOTTY, "SET_DEADLINE on a pipe that is no sync file: ENOTTY");
	CHECK_ERRNO(write(busy, "x", 1), EBADF, "a sync file cannot be signalled by its holder: the write end is smafd's");
	struct stat st;
	CHECK(fstat(busy, &st) == 0 && (st.st_mode & 0777) == 0400, "a sync file is read-only for everyone (mode %o)", st.st_mode & 0777);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", busy);
	int w = geteuid() == 0 ? -1 : open(path, O_WRONLY | O_NONBLOCK);
	if (geteuid() != 0)
		CHECK(w < 0 && errno == EACCES, "and cannot be reopened for writing through /proc (EACCES)");
	else
		CHECK(true, "(root can reopen it for writing: not checked as root)");
	if (w >= 0)
		close(w);
	int fl = fcntl(busy, F_GETFL);
	CHECK(fcntl(busy, F_SETFL, fl & ~O_NONBLOCK) == 0, "the holder clears O_NONBLOCK on its sync file (smafd's end keeps its own flags)");
	struct smaf_sync_merge_data bad = { .fd2 = idle, .flags = 1 };
	CHECK_ERRNO(ioctl(m, SMAF_SYNC_IOC_MERGE, &bad), EINVAL, "MERGE with flags: EINVAL");
	CHECK(drv_recv(s, NULL, 0, NULL) == (int)BIG, "y's copy answers its length");
	CHECK(m >= 0 && signalled(m) && again >= 0 && signalled(again), "the merges are signalled once the write is done");
	CHECK(file_info(m, &info, fi, 4) == 0 && info.status == 1 && fi[0].status == 1 && fi[1].status == 1, "and FILE_INFO says so, for each fence");
	close(again);
	close(m);
	close(busy);
	close(pp[0]);
	close(pp[1]);
	close(efd);
	close(idle);
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
	int decoy = export_fence(x, SMAF_DMA_BUF_SYNC_WRITE); /* a newer sync file: the import must take the one passed */
	CHECK(decoy >= 0 && signalled(decoy), "a newer sync file of an idle buffer is signalled");
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
	close(decoy);
	sync_file_ioctls(x, y, s, hy, &copy);

	/* a driver that leaves mid-DMA: its work ends there, its fences signal, the buffer is idle */
	int s2 = drv_connect();
	int hy2 = drv_handle(s2, y), hs2 = drv_handle(s2, src);
	int ay2 = drv_attach_map(s2, hy2, "gpu", 0), as2 = drv_attach_map(s2, hs2, "gpu", 0);
	struct smaf_dma_copy_in copy2 = { .dst_attachment = (uint32_t)ay2, .src_fd = hs2, .src_attachment = (uint32_t)as2, .length = BIG };
	CHECK(s2 >= 0 && ay2 >= 0 && drv_send(s2, SMAF_OP_DMA_COPY, hy2, &copy2, sizeof copy2, -1) == 0, "a second driver starts writing y");
	sf = in_flight(y, SMAF_DMA_BUF_SYNC_WRITE);
	CHECK(sf >= 0, "its write is in flight");
	close(s2); /* gone before the answer */
	struct pollfd pf = { .fd = sf, .events = POLLIN };
	CHECK(sf >= 0 && poll(&pf, 1, 10000) == 1 && (pf.revents & POLLIN), "the sync file signals when its driver is gone");
	CHECK(sync_buf(y, SMAF_DMA_BUF_SYNC_WRITE) == 0 && sync_buf(y, SMAF_DMA_BUF_SYNC_WRITE | SMAF_DMA_BUF_SYNC_END) == 0, "and y's SYNC START WRITE comes back");
	close(sf);
	close(s);
	munmap(p, BIG);
	close(x);
	close(src);
	close(y);
	return check_done();
}
