/*
 * The connection to smafd: one per process (a child of fork makes its own), announced with HELLO,
 * one request and one answer at a time (under the library's lock). Zero-copy mode talks to the
 * native socket, where files ride on the first byte of a message (SCM_RIGHTS); copy mode to the
 * main socket. Every exchange has a timeout (SMAF_TIMEOUT_MS, default 30 s): a daemon that stops
 * answering makes the call fail with EIO, it never freezes the program.
 */
#include "preload.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static int g_sock = -1;
static ino_t g_sock_ino; /* to recognise our socket before closing it */
static pid_t g_sock_pid; /* the process the connection belongs to */
static uint32_t g_next_id = 1;

static int timeout_ms(void)
{
	const char *t = getenv("SMAF_TIMEOUT_MS");
	long v = t ? strtol(t, NULL, 10) : 0;
	return v > 0 && v < 3600000 ? (int)v : 30000;
}

static const char *socket_path(void)
{
	return getenv(g_zero_copy ? "SMAF_NATIVE_SOCKET" : "SMAF_SOCKET");
}

bool rpc_foreign(void) { return g_sock >= 0 && getpid() != g_sock_pid; }

bool rpc_is_socket(int fd) { return fd >= 0 && fd == g_sock; }

/* Close our socket, if the fd is still our socket (a program may have closed or reused it). */
static void drop_connection(void)
{
	struct stat st;
	if (g_sock >= 0 && real_fstat(g_sock, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == g_sock_ino)
		real_close(g_sock);
	g_sock = -1;
	/* what this process held on that connection is gone with it */
	fdtable_forget_connection();
}

void rpc_protect_socket(int fd)
{
	if (fd < 0 || fd != g_sock || rpc_foreign())
		return;
	int moved = real_fcntl(g_sock, F_DUPFD_CLOEXEC, fd + 1);
	if (moved >= 0)
		g_sock = moved;
}

void rpc_after_fork_child(void)
{
	if (g_sock >= 0)
		real_close(g_sock);
	g_sock = -1;
	g_next_id = 1;
}

/* sendmsg with MSG_NOSIGNAL (a daemon that went away is EIO, never SIGPIPE); `file` on the first byte. */
static int write_all(int fd, struct iovec *iov, int n, int file)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	while (n > 0) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		if (file >= 0) {
			memset(cbuf, 0, sizeof cbuf);
			m.msg_control = cbuf;
			m.msg_controllen = sizeof cbuf;
			struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &file, sizeof file);
		}
		ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		file = -1;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Read n bytes; the first file that comes with them goes to *file (others are closed). */
static int read_all(int fd, void *buf, size_t n, int *file)
{
	char *p = buf;
	while (n > 0) {
		char cbuf[CMSG_SPACE(sizeof(int) * 4)];
		struct iovec iov = { p, n };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
		ssize_t r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < k; i++) {
				int got;
				memcpy(&got, CMSG_DATA(cm) + (size_t)i * sizeof(int), sizeof got);
				if (file && *file < 0)
					*file = got;
				else
					real_close(got);
			}
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Connect (once per process) and say HELLO. Returns 0 or -errno. */
static int connect_locked(void)
{
	const char *path = socket_path();
	if (!path || !*path) {
		debug("%s is not set: run the program under \"smaf exec\"", g_zero_copy ? "SMAF_NATIVE_SOCKET" : "SMAF_SOCKET");
		return -ENXIO;
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path) {
		real_close(s);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		real_close(s);
		debug("cannot reach smafd at %s: %s", path, strerror(e));
		return -ENXIO;
	}
	/* talk only to a daemon run by this user or root: anyone else may be impersonating smafd */
	struct ucred peer = { 0 };
	socklen_t plen = sizeof peer;
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0 || (peer.uid != getuid() && peer.uid != 0)) {
		real_close(s);
		debug("%s is served by uid %d, neither you nor root: not talking to it", path, (int)peer.uid);
		return -ENXIO;
	}
	int ms = timeout_ms();
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	/* out of the program's way: fds from 3 up stay what the program expects */
	int high = real_fcntl(s, F_DUPFD_CLOEXEC, 1000);
	if (high < 0)
		high = real_fcntl(s, F_DUPFD_CLOEXEC, 100);
	if (high >= 0) {
		real_close(s);
		s = high;
	}
	struct stat sst;
	if (real_fstat(s, &sst) != 0) {
		real_close(s);
		return -EIO;
	}
	g_sock = s;
	g_sock_ino = sst.st_ino;
	g_sock_pid = getpid();
	struct smaf_hello_in hello = { .pid = (uint32_t)getpid() };
	int cf = real_open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	if (cf >= 0) {
		ssize_t n = real_read(cf, hello.comm, sizeof hello.comm - 1);
		real_close(cf);
		for (ssize_t i = 0; i < n; i++)
			if (hello.comm[i] == '\n')
				hello.comm[i] = 0;
	}
	int r = rpc_simple_locked(SMAF_OP_HELLO, SMAF_WIRE_DEVICE_FD, &hello, sizeof hello, NULL, 0);
	if (r < 0)
		debug("HELLO refused: %d", r);
	return g_sock >= 0 ? 0 : -EIO;
}

static int broken(const char *what)
{
	debug("smafd %s (%s): dropping the connection", what, errno == EAGAIN || errno == EWOULDBLOCK ? "no answer in time" : strerror(errno));
	drop_connection();
	return -EIO;
}

int rpc_locked(struct rpc *r)
{
	r->recv_file = -1;
	r->out_len = 0;
	if (rpc_foreign())
		return -EIO;
	if (g_sock < 0) {
		int c = connect_locked();
		if (c < 0)
			return c;
	}
	uint32_t id = g_next_id++;
	uint32_t head[4] = { (uint32_t)(SMAF_WIRE_REQUEST_HEADER + r->in_len + r->in2_len), id, r->op, (uint32_t)r->fd };
	struct iovec iov[3] = { { head, sizeof head }, { (void *)r->in, r->in_len }, { (void *)r->in2, r->in2_len } };
	if (write_all(g_sock, iov, 3, r->send_file) < 0)
		return broken("cannot be written to");
	uint32_t rh[3];
	if (read_all(g_sock, rh, sizeof rh, &r->recv_file) < 0 || rh[1] != id || rh[0] < SMAF_WIRE_RESPONSE_HEADER)
		return broken("did not answer");
	int32_t result = (int32_t)rh[2];
	size_t len = rh[0] - SMAF_WIRE_RESPONSE_HEADER;
	size_t take = result >= 0 ? (len <= r->out_cap ? len : r->out_cap) : 0;
	if (take && read_all(g_sock, r->out, take, NULL) < 0)
		return broken("answered half");
	char msg[256];
	size_t rest = len - take, shown = 0;
	while (rest > 0) {
		size_t n = rest < sizeof msg - 1 ? rest : sizeof msg - 1;
		if (read_all(g_sock, msg, n, NULL) < 0)
			return broken("answered half");
		if (!shown)
			shown = n;
		rest -= n;
	}
	if (result < 0 && shown) {
		msg[shown] = 0;
		debug("op 0x%x fd %d: errno %d: %s", r->op, r->fd, -result, msg);
	}
	r->out_len = take;
	return result;
}

int rpc_simple_locked(uint32_t op, int32_t fd, const void *in, size_t in_len, void *out, size_t out_cap)
{
	struct rpc r = RPC(op, fd);
	r.in = in;
	r.in_len = in_len;
	r.out = out;
	r.out_cap = out_cap;
	int res = rpc_locked(&r);
	if (r.recv_file >= 0)
		real_close(r.recv_file);
	return res;
}
