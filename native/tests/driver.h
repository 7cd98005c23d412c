/*
 * A device driver of the tests, in C: its own connection to smafd (the protocol of
 * docs/protocol.md, structs of smaf-wire.h) to do what a kernel driver does with a dma-buf fd a
 * program gives it: take the buffer (IDENTIFY with the file itself), attach a device, map it, and
 * make the device read (DMA_CRC) or write (DMA_COPY). The tests use it to see a program's bytes as
 * a device sees them, and to hand a token to the Node side.
 */
#ifndef SMAF_TEST_DRIVER_H
#define SMAF_TEST_DRIVER_H
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../smaf-wire.h"

static inline int drv_connect(void)
{
	const char *path = getenv("SMAF_NATIVE_SOCKET");
	if (!path || !*path)
		path = getenv("SMAF_SOCKET");
	if (!path)
		return -1;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) != 0)
		return -1;
	return s;
}

static inline int drv_io(int s, void *p, size_t n, int reading, int *fd_out)
{
	char *b = p;
	while (n > 0) {
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { b, n };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = reading ? cbuf : NULL, .msg_controllen = reading ? sizeof cbuf : 0 };
		ssize_t r = reading ? recvmsg(s, &m, MSG_CMSG_CLOEXEC) : sendmsg(s, &m, MSG_NOSIGNAL);
		if (r <= 0)
			return -1;
		if (reading && fd_out) {
			struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
			if (cm && cm->cmsg_type == SCM_RIGHTS)
				memcpy(fd_out, CMSG_DATA(cm), sizeof(int));
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Send one request (with a file when send_fd >= 0), without waiting for its answer: 0 or -errno. */
static inline int drv_send(int s, uint32_t op, int32_t fd, const void *in, size_t n, int send_fd)
{
	static uint32_t next = 1;
	uint32_t head[4] = { (uint32_t)(SMAF_WIRE_REQUEST_HEADER + n), next++, op, (uint32_t)fd };
	char frame[4096];
	if (sizeof head + n > sizeof frame)
		return -EINVAL;
	memcpy(frame, head, sizeof head);
	memcpy(frame + sizeof head, in, n);
	struct iovec iov = { frame, sizeof head + n };
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (send_fd >= 0) {
		memset(cbuf, 0, sizeof cbuf);
		m.msg_control = cbuf;
		m.msg_controllen = sizeof cbuf;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &send_fd, sizeof(int));
	}
	return sendmsg(s, &m, MSG_NOSIGNAL) == (ssize_t)(sizeof head + n) ? 0 : -EIO;
}

/* The next answer: its result, the payload in out (up to cap bytes), a file in *recv_fd. */
static inline int drv_recv(int s, void *out, size_t cap, int *recv_fd)
{
	uint32_t rh[3];
	int got = -1;
	if (drv_io(s, rh, sizeof rh, 1, &got) < 0)
		return -EIO;
	if (recv_fd)
		*recv_fd = got;
	else if (got >= 0)
		close(got);
	size_t len = rh[0] - SMAF_WIRE_RESPONSE_HEADER;
	char sink[4096];
	for (size_t done = 0; done < len;) {
		size_t k = len - done;
		char *dst = (int32_t)rh[2] >= 0 && done < cap ? (char *)out + done : sink;
		if ((int32_t)rh[2] >= 0 && done < cap && k > cap - done)
			k = cap - done;
		if (k > sizeof sink && dst == sink)
			k = sizeof sink;
		if (drv_io(s, dst, k, 1, NULL) < 0)
			return -EIO;
		done += k;
	}
	return (int32_t)rh[2];
}

/* One request and its answer: the result, the payload in out, a file in *recv_fd. */
static inline int drv_call(int s, uint32_t op, int32_t fd, const void *in, size_t n, void *out, size_t cap, int send_fd, int *recv_fd)
{
	int r = drv_send(s, op, fd, in, n, send_fd);
	return r < 0 ? r : drv_recv(s, out, cap, recv_fd);
}

/* The driver's handle of the buffer behind a program's dma-buf fd (zero-copy: the file itself). */
static inline int drv_handle(int s, int dmabuf_fd)
{
	struct smaf_identify_in in = { .handle = 1 };
	struct smaf_identify_out out;
	return drv_call(s, SMAF_OP_IDENTIFY, SMAF_WIRE_DEVICE_FD, &in, sizeof in, &out, sizeof out, dmabuf_fd, NULL);
}

/* Attach and map a device (direction 0 bidirectional, 1 to device, 2 from device): the attachment. */
static inline int drv_attach_map(int s, int handle, const char *device, uint32_t dir)
{
	struct smaf_attach_in a = { 0 };
	strncpy(a.device, device, sizeof a.device - 1);
	int att = drv_call(s, SMAF_OP_ATTACH, handle, &a, sizeof a, NULL, 0, -1, NULL);
	if (att < 0)
		return att;
	struct smaf_map_in mi = { .attachment = (uint32_t)att, .direction = dir };
	char segs[4096];
	int r = drv_call(s, SMAF_OP_MAP, handle, &mi, sizeof mi, segs, sizeof segs, -1, NULL);
	return r < 0 ? r : att;
}

/* The device's CRC-32 of [off, off+len): 0 and *crc, or -errno. */
static inline int drv_crc(int s, int handle, int att, uint64_t off, uint64_t len, uint32_t *crc)
{
	struct smaf_dma_crc_in in = { .attachment = (uint32_t)att, .offset = off, .length = len };
	struct smaf_dma_crc_out out;
	int r = drv_call(s, SMAF_OP_DMA_CRC, handle, &in, sizeof in, &out, sizeof out, -1, NULL);
	if (r >= 0)
		*crc = out.crc32;
	return r;
}

/* The device copies len bytes from the src buffer into dst (both mapped for it). */
static inline int drv_copy(int s, int dst, int dst_att, int src, int src_att, uint64_t src_off, uint64_t dst_off, uint64_t len)
{
	struct smaf_dma_copy_in in = { .dst_attachment = (uint32_t)dst_att, .src_fd = src, .src_attachment = (uint32_t)src_att, .src_offset = src_off, .dst_offset = dst_off, .length = len };
	return drv_call(s, SMAF_OP_DMA_COPY, dst, &in, sizeof in, NULL, 0, -1, NULL);
}

/* CRC-32 (IEEE), as the display controller's CRC capture computes it. */
static inline uint32_t crc32_of(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= b[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return ~c;
}
#endif
