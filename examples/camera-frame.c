/* Allocate a 1080p NV12 frame from the CMA heap, fill it through its mapping, name it, hold it. */
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int heap = open("/dev/dma_heap/linux,cma", O_RDONLY | O_CLOEXEC);
	struct dma_heap_allocation_data alloc = { .len = 1920 * 1080 * 3 / 2, .fd_flags = O_RDWR | O_CLOEXEC };
	if (heap < 0 || ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &alloc) != 0)
		return perror("dma-heap"), 1;
	unsigned char *frame = mmap(NULL, alloc.len, PROT_READ | PROT_WRITE, MAP_SHARED, alloc.fd, 0);
	struct dma_buf_sync sync = { DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE };
	ioctl(alloc.fd, DMA_BUF_IOCTL_SYNC, &sync);
	memset(frame, 0x80, alloc.len); /* a grey NV12 frame */
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE;
	ioctl(alloc.fd, DMA_BUF_IOCTL_SYNC, &sync);
	ioctl(alloc.fd, DMA_BUF_SET_NAME_B, "camera-frame");
	printf("dma-buf fd %d: %llu bytes from linux,cma; see it with \"smaf ps\" or on the dashboard\n", alloc.fd, (unsigned long long)alloc.len);
	fflush(stdout);
	sleep(argc > 1 ? (unsigned)atoi(argv[1]) : 60); /* hold it: smaf ps, the dashboard */
	return 0;
}
