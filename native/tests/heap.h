/*
 * What the C tests do again and again: allocate from a dma-heap as a program does (open
 * /dev/dma_heap/NAME, DMA_HEAP_IOCTL_ALLOC, close the heap), and pass an fd over a Unix socket
 * (SCM_RIGHTS, one byte of data), as compositors and camera services hand buffers over.
 */
#ifndef SMAF_TEST_HEAP_H
#define SMAF_TEST_HEAP_H
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../smaf-wire.h"

/* A dma-buf of len bytes from the heap (fd_flags: its access mode and O_CLOEXEC); -1 and errno. */
static inline int heap_alloc(const char *heap_name, uint64_t len, uint32_t fd_flags)
{
	char path[128];
	snprintf(path, sizeof path, "/dev/dma_heap/%s", heap_name);
	int heap = open(path, O_RDONLY | O_CLOEXEC);
	struct smaf_dma_heap_allocation_data d = { .len = len, .fd_flags = fd_flags };
	int r = heap >= 0 ? ioctl(heap, SMAF_DMA_HEAP_IOCTL_ALLOC, &d) : -1;
	int e = errno;
	if (heap >= 0)
		close(heap);
	errno = e;
	return r == 0 ? (int)d.fd : -1;
}

static inline int send_fd(int sock, int fd)
{
	char byte = 'x';
	struct iovec iov = { &byte, 1 };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

/* The fd of the next message, or -1 (none, or the message carried none). */
static inline int recv_fd(int sock)
{
	char byte;
	struct iovec iov = { &byte, 1 };
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	if (recvmsg(sock, &m, 0) != 1)
		return -1;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	int fd = -1;
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	return fd;
}
#endif
