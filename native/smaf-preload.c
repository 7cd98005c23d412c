/*
 * libsmaf-preload: /dev/smaf and /dev/dma_heap for unmodified, dynamically linked programs.
 * `smaf exec -- PROGRAM` runs PROGRAM with this library in LD_PRELOAD; docs/c-programs.md says
 * what it does and why. In short:
 *
 * - /dev/smaf, /dev/dma_heap/<heap> and every dma-buf are real kernel fds: memfds. The library
 *   knows them by (st_dev, st_ino), so dup, dup2, dup3, fcntl(F_DUPFD*), fork, exec and SCM_RIGHTS
 *   need no bookkeeping: a memfd this process has not seen yet is recognised by its name, and a
 *   buffer is then imported with the export token its memfd carries in a trailing page.
 * - ioctls on them become requests to smafd on one Unix socket per process (HELLO first).
 * - The memfd is the CPU's view of the buffer. Bytes move between it and the emulated memory at
 *   the first mmap (daemon -> memfd), DMA_BUF_IOCTL_SYNC START (daemon -> memfd; a write-only
 *   START skips it while smafd's write generation shows nothing new), SYNC END with WRITE, msync
 *   and munmap of a writable shared mapping, and normal exit (memfd -> daemon).
 * - Everything else passes through untouched, errno included.
 *
 * Rules of the house (style.md): one table of intercepted calls, each resolved once with
 * dlsym(RTLD_NEXT); one lock around the object table and the socket; the child of a fork starts
 * afresh (its own connection, buffers re-imported on first use); SMAF_PRELOAD_DEBUG=1 logs every
 * intercepted call on our fds to stderr, without allocating.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "smaf-wire.h"

#define EXPORT __attribute__((visibility("default")))
#define PAGE 4096ull
#define MAX_OBJECTS 4096
#define MAX_MAPPINGS 8192
#define IO_CHUNK (8u * 1024u * 1024u)

_Static_assert(sizeof(struct smaf_create_data) == 128, "smaf_create_data");
_Static_assert(sizeof(struct smaf_secure_flag) == 64, "smaf_secure_flag");
_Static_assert(sizeof(struct smaf_info) == 128, "smaf_info");
_Static_assert(sizeof(struct smaf_dma_heap_allocation_data) == 24, "dma_heap_allocation_data");
_Static_assert(sizeof(struct smaf_token_page) <= SMAF_TOKEN_PAGE, "token page");
_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "stat and stat64 share a layout here");

/* ---- the table of intercepted calls ------------------------------------------------------- */

#define INTERCEPTED(X)                                                                       \
	X(open, int, (const char *, int, ...))                                                 \
	X(open64, int, (const char *, int, ...))                                               \
	X(openat, int, (int, const char *, int, ...))                                          \
	X(openat64, int, (int, const char *, int, ...))                                        \
	X(__open_2, int, (const char *, int))                                                  \
	X(__open64_2, int, (const char *, int))                                                \
	X(__openat_2, int, (int, const char *, int))                                           \
	X(__openat64_2, int, (int, const char *, int))                                         \
	X(fopen, FILE *, (const char *, const char *))                                         \
	X(fopen64, FILE *, (const char *, const char *))                                       \
	X(opendir, DIR *, (const char *))                                                      \
	X(close, int, (int))                                                                   \
	X(dup2, int, (int, int))                                                               \
	X(dup3, int, (int, int, int))                                                          \
	X(ioctl, int, (int, unsigned long, ...))                                               \
	X(mmap, void *, (void *, size_t, int, int, int, off_t))                                \
	X(mmap64, void *, (void *, size_t, int, int, int, off64_t))                            \
	X(munmap, int, (void *, size_t))                                                       \
	X(msync, int, (void *, size_t, int))                                                   \
	X(lseek, off_t, (int, off_t, int))                                                     \
	X(lseek64, off64_t, (int, off64_t, int))                                               \
	X(fstat, int, (int, struct stat *))                                                    \
	X(fstat64, int, (int, struct stat64 *))                                                \
	X(stat, int, (const char *, struct stat *))                                            \
	X(stat64, int, (const char *, struct stat64 *))                                        \
	X(lstat, int, (const char *, struct stat *))                                           \
	X(lstat64, int, (const char *, struct stat64 *))                                       \
	X(fstatat, int, (int, const char *, struct stat *, int))                               \
	X(fstatat64, int, (int, const char *, struct stat64 *, int))                           \
	X(__xstat, int, (int, const char *, struct stat *))                                    \
	X(__xstat64, int, (int, const char *, struct stat64 *))                                \
	X(__lxstat, int, (int, const char *, struct stat *))                                   \
	X(__lxstat64, int, (int, const char *, struct stat64 *))                               \
	X(statx, int, (int, const char *, int, unsigned int, struct statx *))                 \
	X(access, int, (const char *, int))                                                    \
	X(faccessat, int, (int, const char *, int, int))

#define DECLARE_REAL(name, ret, args) static ret(*real_##name) args;
INTERCEPTED(DECLARE_REAL)

static void resolve_all(void)
{
#define RESOLVE(name, ret, args) real_##name = (ret(*) args)dlsym(RTLD_NEXT, #name);
	INTERCEPTED(RESOLVE)
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- state -------------------------------------------------------------------------------- */

enum kind { K_FREE = 0, K_DEVICE, K_HEAP, K_BUFFER };

struct object {
	enum kind kind;
	dev_t dev;
	ino_t ino;
	/* heaps */
	char heap[64];
	char allocator[64];
	bool secure_heap;
	/* buffers */
	int32_t dfd;          /* the daemon's fd on this process's connection, -1 until imported */
	uint64_t length;
	uint8_t token[SMAF_TOKEN_LEN];
	int32_t map_id;       /* the daemon's CPU mapping, -1 while this process maps nothing */
	void *shadow;         /* the library's own shared view of the memfd (data pages) */
	int nmaps;            /* program mappings alive */
	int32_t gen_seen;     /* smafd's write generation when the memfd last matched it, -1 unknown */
};

struct mapping {
	uintptr_t addr;
	size_t len;
	uint64_t off;
	int prot;
	int flags;
	struct object *obj;
};

static struct object g_obj[MAX_OBJECTS];
static int g_nobj;
static struct mapping g_map[MAX_MAPPINGS];
static int g_nmap;
static int g_sock = -1;
static ino_t g_sock_ino;    /* to recognise our socket before closing it */
static pid_t g_sock_pid;    /* the process the connection belongs to */
static uint32_t g_next_id = 1;
static dev_t g_memfd_dev;
static bool g_debug;
static const char *g_heap_dir;
static const char *g_socket_path;

static void debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void debug(const char *fmt, ...)
{
	if (!g_debug)
		return;
	char line[512];
	int n = snprintf(line, sizeof line, "smaf-preload[%d]: ", (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m < sizeof line - (size_t)n - 1 ? (size_t)m : sizeof line - (size_t)n - 2);
	line[len++] = '\n';
	ssize_t w = write(2, line, len);
	(void)w;
}

static void child_after_fork(void);
static void lock(void) { pthread_mutex_lock(&g_lock); }
static void unlock(void) { pthread_mutex_unlock(&g_lock); }

static void init(void)
{
	resolve_all();
	g_debug = getenv("SMAF_PRELOAD_DEBUG") && strcmp(getenv("SMAF_PRELOAD_DEBUG"), "0") != 0;
	g_heap_dir = getenv("SMAF_HEAP_DIR");
	g_socket_path = getenv("SMAF_SOCKET");
	int fd = memfd_create("smaf-probe", MFD_CLOEXEC);
	if (fd >= 0) {
		struct stat st;
		if (real_fstat(fd, &st) == 0)
			g_memfd_dev = st.st_dev;
		real_close(fd);
	}
	pthread_atfork(lock, unlock, child_after_fork);
}

static void ensure_init(void) { pthread_once(&g_once, init); }

/* ---- the socket ----------------------------------------------------------------------------- */

/* sendmsg with MSG_NOSIGNAL: a daemon that went away is EIO for the caller, never a SIGPIPE. */
static int write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
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

static int read_all(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Close our socket, if the fd is still our socket (a program may have closed or reused it). */
static void drop_connection(void)
{
	struct stat st;
	if (g_sock >= 0 && real_fstat(g_sock, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == g_sock_ino)
		real_close(g_sock);
	g_sock = -1;
}

/*
 * A connection made by another process: a vfork child (shared memory, its own pid) must neither
 * talk on its parent's connection nor drop the parent's references.
 */
static bool foreign(void) { return g_sock >= 0 && getpid() != g_sock_pid; }

/* The program closes or dup2s over our socket's fd: move the socket out of its way first. */
static void protect_socket(int fd)
{
	if (fd < 0 || fd != g_sock || foreign())
		return;
	int moved = fcntl(g_sock, F_DUPFD_CLOEXEC, fd + 1);
	if (moved >= 0)
		g_sock = moved;
}

static int rpc_locked(uint32_t op, int32_t fd, const void *a, size_t na, const void *b, size_t nb, void *out, size_t cap, size_t *got);

/* Connect (once per process) and say HELLO. Returns 0 or -errno. */
static int connect_locked(void)
{
	if (g_sock >= 0)
		return 0;
	if (!g_socket_path || !*g_socket_path) {
		debug("SMAF_SOCKET is not set: run the program under \"smaf exec\"");
		return -ENXIO;
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(g_socket_path) >= sizeof sa.sun_path) {
		real_close(s);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, g_socket_path);
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		real_close(s);
		debug("cannot reach smafd at %s: %s", g_socket_path, strerror(e));
		return -ENXIO;
	}
	/* talk only to a daemon run by this user or root: anyone else may be impersonating smafd */
	struct ucred peer = { 0 };
	socklen_t plen = sizeof peer;
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0 || (peer.uid != getuid() && peer.uid != 0)) {
		real_close(s);
		debug("%s is served by uid %d, neither you nor root: not talking to it", g_socket_path, (int)peer.uid);
		return -ENXIO;
	}
	/* out of the program's way: fds from 3 up stay what the program expects */
	int high = fcntl(s, F_DUPFD_CLOEXEC, 1000);
	if (high < 0)
		high = fcntl(s, F_DUPFD_CLOEXEC, 100);
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
	uint8_t hello[SMAF_HELLO_SIZE] = { 0 };
	uint32_t pid = (uint32_t)getpid();
	memcpy(hello, &pid, 4);
	int cf = real_open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	if (cf >= 0) {
		ssize_t n = read(cf, hello + 8, SMAF_COMM_LEN - 1);
		real_close(cf);
		for (ssize_t i = 0; i < n; i++)
			if (hello[8 + i] == '\n')
				hello[8 + i] = 0;
	}
	int r = rpc_locked(SMAF_OP_HELLO, SMAF_WIRE_DEVICE_FD, hello, sizeof hello, NULL, 0, NULL, 0, NULL);
	if (r < 0)
		debug("HELLO refused: %d", r);
	return 0;
}

/*
 * One request, one response (the library never pipelines). Returns the daemon's result (>= 0, or
 * -errno), or -EIO when the connection fails. Up to `cap` payload bytes land in `out`.
 */
static int rpc_locked(uint32_t op, int32_t fd, const void *a, size_t na, const void *b, size_t nb, void *out, size_t cap, size_t *got)
{
	if (foreign())
		return -EIO;
	if (g_sock < 0) {
		int c = connect_locked();
		if (c < 0)
			return c;
	}
	uint32_t id = g_next_id++;
	uint32_t head[4] = { (uint32_t)(SMAF_WIRE_REQUEST_HEADER + na + nb), id, op, (uint32_t)fd };
	struct iovec iov[3] = { { head, sizeof head }, { (void *)a, na }, { (void *)b, nb } };
	if (write_all(g_sock, iov, 3) < 0) {
		drop_connection();
		return -EIO;
	}
	uint32_t rh[3];
	if (read_all(g_sock, rh, sizeof rh) < 0 || rh[1] != id || rh[0] < SMAF_WIRE_RESPONSE_HEADER) {
		drop_connection();
		return -EIO;
	}
	int32_t result = (int32_t)rh[2];
	size_t len = rh[0] - SMAF_WIRE_RESPONSE_HEADER;
	size_t take = result >= 0 && len <= cap ? len : result >= 0 ? cap : 0;
	if (take && read_all(g_sock, out, take) < 0) {
		drop_connection();
		return -EIO;
	}
	char msg[256];
	size_t rest = len - take;
	size_t shown = 0;
	while (rest > 0) {
		size_t n = rest < sizeof msg - 1 ? rest : sizeof msg - 1;
		if (read_all(g_sock, msg, n) < 0) {
			drop_connection();
			return -EIO;
		}
		if (!shown)
			shown = n;
		rest -= n;
	}
	if (result < 0 && shown) {
		msg[shown] = 0;
		debug("op 0x%x fd %d: errno %d: %s", op, fd, -result, msg);
	}
	if (got)
		*got = take;
	return result;
}

/* ---- objects -------------------------------------------------------------------------------- */

static struct object *find_obj(dev_t dev, ino_t ino)
{
	for (int i = 0; i < g_nobj; i++)
		if (g_obj[i].kind != K_FREE && g_obj[i].dev == dev && g_obj[i].ino == ino)
			return &g_obj[i];
	return NULL;
}

static struct object *new_obj(enum kind k, dev_t dev, ino_t ino)
{
	for (int i = 0; i < MAX_OBJECTS; i++) {
		if (g_obj[i].kind == K_FREE) {
			memset(&g_obj[i], 0, sizeof g_obj[i]);
			g_obj[i].kind = k;
			g_obj[i].dev = dev;
			g_obj[i].ino = ino;
			g_obj[i].dfd = -1;
			g_obj[i].map_id = -1;
			g_obj[i].gen_seen = -1;
			if (i >= g_nobj)
				g_nobj = i + 1;
			return &g_obj[i];
		}
	}
	return NULL;
}

static bool read_heap_file(const char *heap, struct object *o)
{
	if (!g_heap_dir || strchr(heap, '/') || !strcmp(heap, ".") || !strcmp(heap, ".."))
		return false;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", g_heap_dir, heap);
	int f = real_open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return false;
	char text[160] = { 0 };
	ssize_t n = read(f, text, sizeof text - 1);
	real_close(f);
	if (n < 0)
		return false;
	/* "allocator=<name or empty>\nsecure=<0|1>\n", written by smaf exec */
	char *al = strstr(text, "allocator=");
	char *se = strstr(text, "secure=");
	if (!al || !se)
		return false;
	al += strlen("allocator=");
	size_t l = strcspn(al, "\n");
	if (l >= sizeof o->allocator)
		return false;
	memcpy(o->allocator, al, l);
	o->allocator[l] = 0;
	o->secure_heap = se[strlen("secure=")] == '1';
	snprintf(o->heap, sizeof o->heap, "%s", heap);
	return true;
}

/* Import a buffer with the token its memfd carries. Lock held. Returns 0 or -errno. */
static int import_locked(struct object *o)
{
	if (o->dfd >= 0)
		return 0;
	int r = rpc_locked(SMAF_OP_IMPORT, SMAF_WIRE_DEVICE_FD, o->token, SMAF_TOKEN_LEN, NULL, 0, NULL, 0, NULL);
	if (r < 0)
		return r;
	o->dfd = r;
	debug("imported buffer (%llu bytes) as daemon fd %d", (unsigned long long)o->length, r);
	return 0;
}

/*
 * The object behind fd, or NULL when fd is not ours (then errno is untouched). A memfd this
 * process has not met (inherited across exec, received with SCM_RIGHTS) is recognised by its name
 * and, for a buffer, its token page. Lock held.
 */
static struct object *lookup_locked(int fd)
{
	int saved = errno;
	struct stat st;
	if (fd < 0 || real_fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != g_memfd_dev) {
		errno = saved;
		return NULL;
	}
	struct object *o = find_obj(st.st_dev, st.st_ino);
	if (o) {
		errno = saved;
		return o;
	}
	char link[64], target[256];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof target - 1);
	errno = saved;
	if (n <= 0)
		return NULL;
	target[n] = 0;
	const char *name = strncmp(target, "/memfd:", 7) == 0 ? target + 7 : NULL;
	if (!name)
		return NULL;
	char *deleted = strstr(target, " (deleted)");
	if (deleted)
		*deleted = 0;
	if (!strcmp(name, SMAF_MEMFD_DEVICE))
		return new_obj(K_DEVICE, st.st_dev, st.st_ino);
	if (!strncmp(name, SMAF_MEMFD_HEAP_PREFIX, strlen(SMAF_MEMFD_HEAP_PREFIX))) {
		struct object tmp = { 0 };
		if (!read_heap_file(name + strlen(SMAF_MEMFD_HEAP_PREFIX), &tmp))
			return NULL;
		o = new_obj(K_HEAP, st.st_dev, st.st_ino);
		if (o) {
			memcpy(o->heap, tmp.heap, sizeof o->heap);
			memcpy(o->allocator, tmp.allocator, sizeof o->allocator);
			o->secure_heap = tmp.secure_heap;
		}
		return o;
	}
	if (strcmp(name, SMAF_MEMFD_BUFFER) != 0 || st.st_size < (off_t)SMAF_TOKEN_PAGE)
		return NULL;
	struct smaf_token_page tp;
	if (pread(fd, &tp, sizeof tp, st.st_size - (off_t)SMAF_TOKEN_PAGE) != (ssize_t)sizeof tp ||
	    memcmp(tp.magic, SMAF_TOKEN_MAGIC, 8) != 0 || tp.length + SMAF_TOKEN_PAGE != (uint64_t)st.st_size) {
		errno = saved;
		return NULL;
	}
	o = new_obj(K_BUFFER, st.st_dev, st.st_ino);
	if (!o)
		return NULL;
	o->length = tp.length;
	memcpy(o->token, tp.token, SMAF_TOKEN_LEN);
	debug("fd %d: a dma-buf this process had not seen (%llu bytes)", fd, (unsigned long long)o->length);
	errno = saved;
	return o;
}

/* Whether any fd of this process still refers to the object's memfd (raw getdents: no malloc). */
static bool still_open(const struct object *o)
{
	int d = real_open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return true; /* cannot tell: keep the reference */
	char buf[4096];
	bool found = false;
	for (;;) {
		long n = syscall(SYS_getdents64, d, buf, sizeof buf);
		if (n <= 0)
			break;
		for (long off = 0; off < n && !found;) {
			struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *e = (void *)(buf + off);
			off += e->reclen;
			if (e->name[0] < '0' || e->name[0] > '9')
				continue;
			int fd = atoi(e->name);
			struct stat st;
			if (fd != d && real_fstat(fd, &st) == 0 && st.st_dev == o->dev && st.st_ino == o->ino)
				found = true;
		}
		if (found)
			break;
	}
	real_close(d);
	return found;
}

/*
 * Move [off, off+len) between the memfd and the emulated memory in IO_CHUNK pieces: READ brings
 * the daemon's bytes into the memfd (daemon -> CPU), WRITE sends the memfd's bytes (CPU -> daemon).
 * The request structs are the generated ones of smaf-wire.h (packed, as on the wire).
 */
static int transfer_locked(struct object *o, uint32_t op, uint64_t off, uint64_t len)
{
	for (uint64_t done = 0; done < len;) {
		uint32_t n = (uint32_t)(len - done < IO_CHUNK ? len - done : IO_CHUNK);
		uint64_t at = off + done;
		char *bytes = (char *)o->shadow + at;
		int r;
		if (op == SMAF_OP_READ) {
			struct smaf_read_in req = { .mapping = (uint32_t)o->map_id, .offset = at, .length = n };
			size_t got = 0;
			r = rpc_locked(op, o->dfd, &req, sizeof req, NULL, 0, bytes, n, &got);
			if (r >= 0 && got != n)
				r = -EIO;
		} else {
			struct smaf_write_in req = { .mapping = (uint32_t)o->map_id, .offset = at };
			r = rpc_locked(op, o->dfd, &req, sizeof req, bytes, n, NULL, 0, NULL);
		}
		if (r < 0)
			return r;
		done += n;
	}
	return 0;
}

/* smafd's write generation of the buffer (GENERATION op), or -1. */
static int32_t generation_locked(struct object *o)
{
	int r = rpc_locked(SMAF_OP_GENERATION, o->dfd, NULL, 0, NULL, 0, NULL, 0, NULL);
	return r < 0 ? -1 : r;
}

/*
 * SYNC START: the memfd gets smafd's bytes. A write-only access (no DMA_BUF_SYNC_READ) skips the
 * copy when nothing wrote the buffer through smafd since the memfd last matched it: like the
 * kernel's begin_cpu_access for DMA_TO_DEVICE, it has nothing to invalidate. Lock held.
 */
static int sync_in_locked(struct object *o, bool write_only)
{
	int32_t g = generation_locked(o);
	if (write_only && g >= 0 && g == o->gen_seen)
		return 0;
	int r = transfer_locked(o, SMAF_OP_READ, 0, o->length);
	o->gen_seen = r == 0 ? g : -1;
	return r;
}

/* SYNC END with WRITE, msync, munmap: smafd gets the memfd's bytes of [off, off+len). Lock held. */
static int sync_out_locked(struct object *o, uint64_t off, uint64_t len, bool whole)
{
	int32_t g0 = whole ? generation_locked(o) : -1;
	int r = transfer_locked(o, SMAF_OP_WRITE, off, len);
	uint32_t chunks = (uint32_t)((len + IO_CHUNK - 1) / IO_CHUNK);
	int32_t g1 = whole && r == 0 ? generation_locked(o) : -1;
	/* only our own writes in between: the memfd and smafd match at g1 */
	o->gen_seen = g0 >= 0 && g1 >= 0 && g1 == (int32_t)(((uint32_t)g0 + chunks) & 0x7fffffff) ? g1 : -1;
	return r;
}

static struct smaf_token_page *token_page(struct object *o, int fd, void **base)
{
	void *p = real_mmap(NULL, SMAF_TOKEN_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)o->length);
	*base = p;
	return p == MAP_FAILED ? NULL : p;
}

/* The daemon's CPU mapping of the buffer for this process (allocates; EPERM if secure). Lock held. */
static int daemon_map_locked(struct object *o)
{
	if (o->map_id >= 0)
		return 0;
	int r = import_locked(o);
	if (r < 0)
		return r;
	struct smaf_mmap_in req = { .offset = 0, .length = o->length, .prot = SMAF_PROT_READ | SMAF_PROT_WRITE };
	r = rpc_locked(SMAF_OP_MMAP, o->dfd, &req, sizeof req, NULL, 0, NULL, 0, NULL);
	if (r < 0)
		return r;
	o->map_id = r;
	return 0;
}

/*
 * The first CPU mapping of a buffer in this process: the daemon maps it and, the first time any
 * process maps this memfd, the bytes of the emulated memory are copied in. Lock held; 0 or -errno.
 */
static int cpu_map_locked(struct object *o, int fd)
{
	int r = daemon_map_locked(o);
	if (r < 0)
		return r;
	if (!o->shadow) {
		void *s = real_mmap(NULL, o->length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (s == MAP_FAILED)
			return -errno;
		o->shadow = s;
	}
	void *tb;
	struct smaf_token_page *tp = token_page(o, fd, &tb);
	if (!tp)
		return -errno;
	if (!tp->cpu_live) {
		r = sync_in_locked(o, false);
		if (r == 0)
			tp->cpu_live = 1;
	}
	real_munmap(tb, SMAF_TOKEN_PAGE);
	return r;
}

/* The process maps nothing of the buffer any more: the daemon's mapping goes. Lock held. */
static void cpu_unmap_locked(struct object *o)
{
	if (o->map_id < 0 || o->dfd < 0)
		return;
	uint32_t id = (uint32_t)o->map_id;
	rpc_locked(SMAF_OP_MUNMAP, o->dfd, &id, 4, NULL, 0, NULL, 0, NULL);
	o->map_id = -1;
}

/* No fd and no mapping of the buffer left in this process: drop its reference. Lock held. */
static void release_locked(struct object *o)
{
	cpu_unmap_locked(o);
	if (o->shadow)
		real_munmap(o->shadow, o->length);
	if (o->dfd >= 0) {
		rpc_locked(SMAF_OP_CLOSE, o->dfd, NULL, 0, NULL, 0, NULL, 0, NULL);
		debug("last fd and mapping gone: daemon fd %d closed", o->dfd);
	}
	o->kind = K_FREE;
}

/* After fork, in the child: its own connection, its own daemon fds (re-imported on first use). */
static void child_after_fork(void)
{
	pthread_mutex_init(&g_lock, NULL);
	drop_connection();
	g_next_id = 1;
	for (int i = 0; i < g_nobj; i++) {
		g_obj[i].dfd = -1;
		g_obj[i].map_id = -1;
	}
}

/* ---- creating buffers ------------------------------------------------------------------------ */

/*
 * Give a buffer the daemon just created (daemon fd dfd) a memfd in this process. On failure the
 * daemon fd is closed. Lock held. Returns the new fd or -errno.
 */
static int adopt_buffer_locked(int32_t dfd, bool cloexec)
{
	uint8_t st[SMAF_STAT_REPLY_SIZE];
	uint8_t token[SMAF_TOKEN_LEN];
	size_t got = 0;
	int r = rpc_locked(SMAF_OP_STAT, dfd, NULL, 0, NULL, 0, st, sizeof st, &got);
	if (r >= 0 && got == sizeof st)
		r = rpc_locked(SMAF_OP_EXPORT, dfd, NULL, 0, NULL, 0, token, sizeof token, &got);
	if (r >= 0 && got != sizeof token)
		r = -EIO;
	int fd = -1;
	if (r >= 0) {
		fd = memfd_create(SMAF_MEMFD_BUFFER, MFD_ALLOW_SEALING | (cloexec ? MFD_CLOEXEC : 0));
		if (fd < 0)
			r = -errno;
	}
	uint64_t length = 0;
	memcpy(&length, st, 8);
	struct stat fs;
	if (r >= 0 && (ftruncate(fd, (off_t)(length + SMAF_TOKEN_PAGE)) != 0 || real_fstat(fd, &fs) != 0))
		r = -errno;
	if (r >= 0) {
		struct smaf_token_page tp = { .length = length };
		memcpy(tp.magic, SMAF_TOKEN_MAGIC, 8);
		memcpy(tp.token, token, SMAF_TOKEN_LEN);
		if (pwrite(fd, &tp, sizeof tp, (off_t)length) != (ssize_t)sizeof tp)
			r = -EIO;
		else if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
			r = -errno;
	}
	struct object *o = NULL;
	if (r >= 0 && !(o = new_obj(K_BUFFER, fs.st_dev, fs.st_ino)))
		r = -EMFILE;
	if (r < 0) {
		if (fd >= 0)
			real_close(fd);
		rpc_locked(SMAF_OP_CLOSE, dfd, NULL, 0, NULL, 0, NULL, 0, NULL);
		return r;
	}
	o->dfd = dfd;
	o->length = length;
	memcpy(o->token, token, SMAF_TOKEN_LEN);
	debug("new dma-buf fd %d: %llu bytes, daemon fd %d", fd, (unsigned long long)length, dfd);
	return fd;
}

/* ---- ioctls ------------------------------------------------------------------------------------ */

static int fail(int e)
{
	errno = e;
	return -1;
}

/* A program fd in a SMAF struct becomes the daemon's number (-1, so EBADF, when it is not a buffer). */
static int32_t daemon_fd_of(int32_t fd)
{
	struct object *o = lookup_locked(fd);
	if (!o || o->kind != K_BUFFER)
		return -1;
	return import_locked(o) == 0 ? o->dfd : -1;
}

static int device_ioctl_locked(unsigned long cmd, void *arg)
{
	uint32_t c = (uint32_t)cmd;
	size_t size = _IOC_SIZE(c);
	if (_IOC_TYPE(c) != SMAF_IOC_MAGIC)
		return fail(ENOTTY);
	uint8_t data[1 << 14];
	if (size > sizeof data)
		return fail(EINVAL);
	memcpy(data, arg, size);
	int32_t user_fd = 0;
	bool secure_ioctl = _IOC_NR(c) == 1 || _IOC_NR(c) == 2;
	if (secure_ioctl && size >= SMAF_SECURE_FLAG_FD_OFFSET + 4) {
		memcpy(&user_fd, data + SMAF_SECURE_FLAG_FD_OFFSET, 4);
		int32_t dfd = daemon_fd_of(user_fd);
		memcpy(data + SMAF_SECURE_FLAG_FD_OFFSET, &dfd, 4);
	}
	size_t got = 0;
	int r = rpc_locked(c, SMAF_WIRE_DEVICE_FD, data, size, NULL, 0, data, size, &got);
	if (r < 0)
		return fail(-r);
	if (secure_ioctl && size >= SMAF_SECURE_FLAG_FD_OFFSET + 4)
		memcpy(data + SMAF_SECURE_FLAG_FD_OFFSET, &user_fd, 4);
	if (_IOC_NR(c) == 0 && size >= SMAF_CREATE_DATA_FD_OFFSET + 4) {
		int32_t dfd;
		uint32_t flags = 0;
		memcpy(&dfd, data + SMAF_CREATE_DATA_FD_OFFSET, 4);
		memcpy(&flags, data + SMAF_CREATE_DATA_FLAGS_OFFSET, 4);
		int fd = adopt_buffer_locked(dfd, flags & SMAF_CLOEXEC);
		if (fd < 0)
			return fail(-fd);
		memcpy(data + SMAF_CREATE_DATA_FD_OFFSET, &fd, 4);
	}
	memcpy(arg, data, got < size ? got : size);
	return 0;
}

/* DMA_HEAP_IOCTL_ALLOC as drivers/dma-buf/dma-heap.c does it, struct size tolerance included. */
static int heap_ioctl_locked(struct object *heap, unsigned long cmd, void *arg)
{
	uint32_t c = (uint32_t)cmd;
	if (_IOC_TYPE(c) != SMAF_DMA_HEAP_IOC_MAGIC)
		return fail(ENOTTY);
	if (_IOC_NR(c) != 0) /* dma_heap_ioctl: nr past its table */
		return fail(EINVAL);
	uint32_t k = SMAF_DMA_HEAP_IOCTL_ALLOC;
	size_t drv = _IOC_SIZE(k), out = _IOC_SIZE(c), in = out;
	if (!(_IOC_DIR(c) & _IOC_DIR(k) & _IOC_WRITE))
		in = 0;
	if (!(_IOC_DIR(c) & _IOC_DIR(k) & _IOC_READ))
		out = 0;
	size_t ksize = in > out ? in : out;
	if (drv > ksize)
		ksize = drv;
	uint8_t kdata[1 << 14];
	if (ksize > sizeof kdata)
		return fail(ENOMEM);
	memcpy(kdata, arg, in);
	memset(kdata + in, 0, ksize - in);
	struct smaf_dma_heap_allocation_data a;
	memcpy(&a, kdata, sizeof a);
	if (a.fd)
		return fail(EINVAL);
	if (a.fd_flags & ~(uint32_t)(O_CLOEXEC | O_ACCMODE))
		return fail(EINVAL);
	if (a.heap_flags)
		return fail(EINVAL);
	struct smaf_create_data cd = { .length = a.len, .flags = SMAF_RDWR | (a.fd_flags & O_CLOEXEC ? SMAF_CLOEXEC : 0) };
	snprintf(cd.name, sizeof cd.name, "%s", heap->allocator);
	if (a.len == 0)
		return fail(EINVAL);
	int r = rpc_locked(SMAF_IOC_CREATE, SMAF_WIRE_DEVICE_FD, &cd, sizeof cd, NULL, 0, &cd, sizeof cd, NULL);
	if (r < 0)
		return fail(-r);
	if (heap->secure_heap) {
		struct smaf_secure_flag sf = { .fd = cd.fd, .secure = 1 };
		r = rpc_locked(SMAF_IOC_SET_SECURE_FLAG, SMAF_WIRE_DEVICE_FD, &sf, sizeof sf, NULL, 0, NULL, 0, NULL);
		if (r < 0) {
			rpc_locked(SMAF_OP_CLOSE, cd.fd, NULL, 0, NULL, 0, NULL, 0, NULL);
			return fail(-r);
		}
	}
	int fd = adopt_buffer_locked(cd.fd, a.fd_flags & O_CLOEXEC);
	if (fd < 0)
		return fail(-fd);
	a.fd = (uint32_t)fd;
	memcpy(kdata, &a, sizeof a);
	memcpy(arg, kdata, out);
	debug("heap %s: allocated %llu bytes as fd %d", heap->heap, (unsigned long long)a.len, fd);
	return 0;
}

static int buffer_ioctl_locked(struct object *o, unsigned long cmd, void *arg)
{
	uint32_t c = (uint32_t)cmd;
	int r;
	switch (c) {
	case SMAF_DMA_BUF_IOCTL_SYNC: {
		uint64_t flags;
		memcpy(&flags, arg, 8);
		if ((r = import_locked(o)) < 0)
			return fail(-r);
		bool end = flags & SMAF_DMA_BUF_SYNC_END;
		bool cpu_view = o->nmaps > 0 && o->shadow;
		if (cpu_view && (r = daemon_map_locked(o)) < 0)
			return fail(-r);
		if (end && (flags & SMAF_DMA_BUF_SYNC_WRITE) && cpu_view && !(flags & ~7ull)) {
			if ((r = sync_out_locked(o, 0, o->length, true)) < 0)
				return fail(-r);
		}
		r = rpc_locked(c, o->dfd, &flags, 8, NULL, 0, NULL, 0, NULL);
		if (r < 0)
			return fail(-r);
		if (!end && cpu_view && (r = sync_in_locked(o, !(flags & SMAF_DMA_BUF_SYNC_READ))) < 0)
			return fail(-r);
		return 0;
	}
	case SMAF_DMA_BUF_SET_NAME_A:
	case SMAF_DMA_BUF_SET_NAME_B: {
		const char *name = arg;
		uint8_t buf[SMAF_SET_NAME_SIZE] = { 0 };
		size_t n = strnlen(name, SMAF_DMA_BUF_NAME_LEN);
		if (n >= SMAF_DMA_BUF_NAME_LEN) /* strndup_user(buf, DMA_BUF_NAME_LEN) */
			return fail(EINVAL);
		memcpy(buf, name, n);
		if ((r = import_locked(o)) < 0)
			return fail(-r);
		r = rpc_locked(SMAF_OP_SET_NAME, o->dfd, buf, sizeof buf, NULL, 0, NULL, 0, NULL);
		return r < 0 ? fail(-r) : 0;
	}
	default: /* sync-file export/import (no fences yet) and anything else */
		return fail(ENOTTY);
	}
}

EXPORT int ioctl(int fd, unsigned long cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	ensure_init();
	lock();
	struct object *o = lookup_locked(fd);
	if (!o) {
		unlock();
		return real_ioctl(fd, cmd, arg);
	}
	if (!arg) {
		unlock();
		return fail(EFAULT);
	}
	int r = o->kind == K_DEVICE ? device_ioctl_locked(cmd, arg) : o->kind == K_HEAP ? heap_ioctl_locked(o, cmd, arg) : buffer_ioctl_locked(o, cmd, arg);
	int e = errno;
	debug("ioctl(%d, 0x%lx) = %d%s%s", fd, cmd, r, r < 0 ? " " : "", r < 0 ? strerror(e) : "");
	unlock();
	errno = e;
	return r;
}

/* ---- paths ---------------------------------------------------------------------------------- */

enum path_kind { P_OTHER, P_SMAF, P_HEAP_DIR, P_HEAP };

/* openat(dirfd, "relative") is never ours: only absolute paths name our devices. */
static bool is_absolute(const char *path) { return path != NULL && path[0] == '/'; }

static enum path_kind classify(const char *path, const char **heap)
{
	if (!path)
		return P_OTHER;
	if (!strcmp(path, "/dev/smaf"))
		return P_SMAF;
	if (strncmp(path, "/dev/dma_heap", 13) != 0)
		return P_OTHER;
	const char *rest = path + 13;
	if (!strcmp(rest, "") || !strcmp(rest, "/"))
		return P_HEAP_DIR;
	if (rest[0] != '/')
		return P_OTHER;
	*heap = rest + 1;
	return P_HEAP;
}

static int open_ours(const char *path, int flags, bool *handled)
{
	const char *heap = NULL;
	enum path_kind k = classify(path, &heap);
	*handled = k != P_OTHER;
	if (!*handled)
		return -1;
	if (k == P_HEAP_DIR) {
		if (!g_heap_dir)
			return fail(ENOENT);
		return real_open(g_heap_dir, flags);
	}
	if (flags & O_DIRECTORY)
		return fail(ENOTDIR);
	if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		return fail(EEXIST);
	lock();
	struct object tmp = { 0 };
	int fd = -1;
	if (k == P_HEAP && !read_heap_file(heap, &tmp)) {
		unlock();
		return fail(ENOENT);
	}
	int c = connect_locked();
	if (c < 0) {
		unlock();
		return fail(-c);
	}
	char name[128];
	if (k == P_SMAF)
		snprintf(name, sizeof name, "%s", SMAF_MEMFD_DEVICE);
	else
		snprintf(name, sizeof name, "%s%s", SMAF_MEMFD_HEAP_PREFIX, tmp.heap);
	fd = memfd_create(name, (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
	if (fd >= 0) {
		struct stat st;
		struct object *o = real_fstat(fd, &st) == 0 ? new_obj(k == P_SMAF ? K_DEVICE : K_HEAP, st.st_dev, st.st_ino) : NULL;
		if (!o) {
			real_close(fd);
			unlock();
			return fail(EMFILE);
		}
		memcpy(o->heap, tmp.heap, sizeof o->heap);
		memcpy(o->allocator, tmp.allocator, sizeof o->allocator);
		o->secure_heap = tmp.secure_heap;
	}
	int e = errno;
	debug("open(%s) = %d", path, fd);
	unlock();
	errno = e;
	return fd;
}

static int mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, int) : 0;
}

#define OPEN_WRAPPER(name)                                          \
	EXPORT int name(const char *path, int flags, ...)           \
	{                                                           \
		va_list ap;                                         \
		va_start(ap, flags);                                \
		int mode = mode_arg(flags, ap);                     \
		va_end(ap);                                         \
		ensure_init();                                      \
		bool handled;                                       \
		int fd = open_ours(path, flags, &handled);          \
		return handled ? fd : real_##name(path, flags, mode); \
	}
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)

#define OPENAT_WRAPPER(name)                                              \
	EXPORT int name(int dirfd, const char *path, int flags, ...)      \
	{                                                                 \
		va_list ap;                                               \
		va_start(ap, flags);                                      \
		int mode = mode_arg(flags, ap);                           \
		va_end(ap);                                               \
		ensure_init();                                            \
		bool handled = false;                                     \
		int fd = is_absolute(path) ? open_ours(path, flags, &handled) : -1; \
		return handled ? fd : real_##name(dirfd, path, flags, mode); \
	}
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

EXPORT int __open_2(const char *path, int flags)
{
	ensure_init();
	bool handled;
	int fd = open_ours(path, flags, &handled);
	return handled ? fd : real___open_2(path, flags);
}

EXPORT int __open64_2(const char *path, int flags)
{
	ensure_init();
	bool handled;
	int fd = open_ours(path, flags, &handled);
	return handled ? fd : real___open64_2(path, flags);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	ensure_init();
	bool handled = false;
	int fd = is_absolute(path) ? open_ours(path, flags, &handled) : -1;
	return handled ? fd : real___openat_2(dirfd, path, flags);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	ensure_init();
	bool handled = false;
	int fd = is_absolute(path) ? open_ours(path, flags, &handled) : -1;
	return handled ? fd : real___openat64_2(dirfd, path, flags);
}

static FILE *fopen_ours(const char *path, const char *mode, FILE *(*real)(const char *, const char *))
{
	ensure_init();
	const char *heap;
	enum path_kind k = classify(path, &heap);
	if (k != P_SMAF && k != P_HEAP)
		return real(path, mode);
	int flags = strchr(mode, '+') ? O_RDWR : mode[0] == 'r' ? O_RDONLY : O_WRONLY;
	if (strchr(mode, 'e'))
		flags |= O_CLOEXEC;
	bool handled;
	int fd = open_ours(path, flags, &handled);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, mode);
	if (!f) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return f;
}

EXPORT FILE *fopen(const char *path, const char *mode)
{
	ensure_init();
	return fopen_ours(path, mode, real_fopen);
}

EXPORT FILE *fopen64(const char *path, const char *mode)
{
	ensure_init();
	return fopen_ours(path, mode, real_fopen64);
}

EXPORT DIR *opendir(const char *path)
{
	ensure_init();
	const char *heap;
	if (classify(path, &heap) == P_HEAP_DIR && g_heap_dir)
		return real_opendir(g_heap_dir);
	return real_opendir(path);
}

/* stat of our paths: character devices (a directory for /dev/dma_heap). 1 = handled. */
static int stat_ours(const char *path, struct stat *st, int *ret)
{
	const char *heap = NULL;
	enum path_kind k = classify(path, &heap);
	if (k == P_OTHER)
		return 0;
	struct object tmp;
	if ((k == P_HEAP_DIR && !g_heap_dir) || (k == P_HEAP && !read_heap_file(heap, &tmp)) || (k == P_SMAF && !g_socket_path)) {
		errno = ENOENT;
		*ret = -1;
		return 1;
	}
	if (k == P_HEAP_DIR) {
		*ret = real_stat(g_heap_dir, st);
		return 1;
	}
	memset(st, 0, sizeof *st);
	st->st_mode = S_IFCHR | 0666;
	st->st_nlink = 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_rdev = k == P_SMAF ? makedev(10, 125) : makedev(251, 0);
	st->st_ino = k == P_SMAF ? 1 : 2 + (ino_t)strlen(heap);
	st->st_blksize = 4096;
	*ret = 0;
	return 1;
}

#define STAT_WRAPPER(name, type)                                  \
	EXPORT int name(const char *path, struct type *st)        \
	{                                                         \
		ensure_init();                                    \
		int r;                                            \
		if (stat_ours(path, (struct stat *)st, &r))       \
			return r;                                 \
		return real_##name(path, st);                     \
	}
STAT_WRAPPER(stat, stat)
STAT_WRAPPER(stat64, stat64)
STAT_WRAPPER(lstat, stat)
STAT_WRAPPER(lstat64, stat64)

#define XSTAT_WRAPPER(name, type)                                         \
	EXPORT int name(int ver, const char *path, struct type *st)       \
	{                                                                 \
		ensure_init();                                            \
		int r;                                                    \
		if (stat_ours(path, (struct stat *)st, &r))               \
			return r;                                         \
		return real_##name(ver, path, st);                        \
	}
XSTAT_WRAPPER(__xstat, stat)
XSTAT_WRAPPER(__xstat64, stat64)
XSTAT_WRAPPER(__lxstat, stat)
XSTAT_WRAPPER(__lxstat64, stat64)

#define FSTATAT_WRAPPER(name, type)                                                 \
	EXPORT int name(int dirfd, const char *path, struct type *st, int flags)    \
	{                                                                           \
		ensure_init();                                                      \
		int r;                                                              \
		if (is_absolute(path) && stat_ours(path, (struct stat *)st, &r)) \
			return r;                                                   \
		return real_##name(dirfd, path, st, flags);                         \
	}
FSTATAT_WRAPPER(fstatat, stat)
FSTATAT_WRAPPER(fstatat64, stat64)

/* statx (coreutils' stat and ls use it): the same answers as stat, in statx's shape. */
EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *sx)
{
	ensure_init();
	struct stat st;
	int r;
	if (!is_absolute(path) || !stat_ours(path, &st, &r))
		return real_statx(dirfd, path, flags, mask, sx);
	if (r != 0)
		return r;
	memset(sx, 0, sizeof *sx);
	sx->stx_mask = STATX_BASIC_STATS;
	sx->stx_blksize = (uint32_t)st.st_blksize;
	sx->stx_nlink = (uint32_t)st.st_nlink;
	sx->stx_uid = st.st_uid;
	sx->stx_gid = st.st_gid;
	sx->stx_mode = (uint16_t)st.st_mode;
	sx->stx_ino = st.st_ino;
	sx->stx_size = (uint64_t)st.st_size;
	sx->stx_rdev_major = major(st.st_rdev);
	sx->stx_rdev_minor = minor(st.st_rdev);
	sx->stx_dev_major = major(st.st_dev);
	sx->stx_dev_minor = minor(st.st_dev);
	return 0;
}

EXPORT int access(const char *path, int mode)
{
	ensure_init();
	struct stat st;
	int r;
	if (stat_ours(path, &st, &r))
		return r;
	return real_access(path, mode);
}

EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
	ensure_init();
	struct stat st;
	int r;
	if (is_absolute(path) && stat_ours(path, &st, &r))
		return r;
	return real_faccessat(dirfd, path, mode, flags);
}

/* fstat of a dma-buf: its size is the buffer's (the token page is not part of it). */
static void fix_size(int fd, struct stat *st)
{
	lock();
	struct object *o = lookup_locked(fd);
	if (o && o->kind == K_BUFFER)
		st->st_size = (off_t)o->length;
	else if (o)
		st->st_mode = S_IFCHR | 0666;
	unlock();
}

EXPORT int fstat(int fd, struct stat *st)
{
	ensure_init();
	int r = real_fstat(fd, st);
	if (r == 0) {
		int e = errno;
		fix_size(fd, st);
		errno = e;
	}
	return r;
}

EXPORT int fstat64(int fd, struct stat64 *st)
{
	ensure_init();
	int r = real_fstat64(fd, st);
	if (r == 0) {
		int e = errno;
		fix_size(fd, (struct stat *)st);
		errno = e;
	}
	return r;
}

/* dma_buf_llseek: SEEK_END 0 gives the size, SEEK_SET 0 rewinds, anything else is EINVAL. */
static bool lseek_ours(int fd, off64_t off, int whence, off64_t *ret)
{
	lock();
	struct object *o = lookup_locked(fd);
	uint64_t len = o && o->kind == K_BUFFER ? o->length : 0;
	unlock();
	if (!o || o->kind != K_BUFFER)
		return false;
	if (off != 0 || (whence != SEEK_END && whence != SEEK_SET)) {
		errno = EINVAL;
		*ret = -1;
	} else
		*ret = whence == SEEK_END ? (off64_t)len : 0;
	return true;
}

EXPORT off_t lseek(int fd, off_t off, int whence)
{
	ensure_init();
	off64_t r;
	return lseek_ours(fd, off, whence, &r) ? (off_t)r : real_lseek(fd, off, whence);
}

EXPORT off64_t lseek64(int fd, off64_t off, int whence)
{
	ensure_init();
	off64_t r;
	return lseek_ours(fd, off, whence, &r) ? r : real_lseek64(fd, off, whence);
}

/* ---- close and dup -------------------------------------------------------------------------- */

/* After fd was closed (or replaced): drop the buffer if nothing of it is left here. Lock held. */
static void after_close_locked(struct object *o)
{
	if (foreign())
		return;
	if (o->kind != K_BUFFER) {
		if (!still_open(o))
			o->kind = K_FREE;
		return;
	}
	if (o->nmaps == 0 && !still_open(o))
		release_locked(o);
}

EXPORT int close(int fd)
{
	ensure_init();
	lock();
	protect_socket(fd);
	struct object *o = lookup_locked(fd);
	int r = real_close(fd);
	int e = errno;
	if (o && r == 0) {
		debug("close(%d)", fd);
		after_close_locked(o);
	}
	unlock();
	errno = e;
	return r;
}

static int dup_onto(int oldfd, int newfd, int flags, bool three)
{
	ensure_init();
	lock();
	if (oldfd != newfd)
		protect_socket(newfd);
	struct object *o = oldfd != newfd ? lookup_locked(newfd) : NULL;
	int r = three ? real_dup3(oldfd, newfd, flags) : real_dup2(oldfd, newfd);
	int e = errno;
	if (o && r >= 0)
		after_close_locked(o);
	unlock();
	errno = e;
	return r;
}

EXPORT int dup2(int oldfd, int newfd) { return dup_onto(oldfd, newfd, 0, false); }
EXPORT int dup3(int oldfd, int newfd, int flags) { return dup_onto(oldfd, newfd, flags, true); }

/* ---- mappings ------------------------------------------------------------------------------- */

static void *mmap_ours(void *addr, size_t len, int prot, int flags, int fd, off64_t off, bool *handled)
{
	lock();
	struct object *o = lookup_locked(fd);
	*handled = o != NULL;
	if (!o) {
		unlock();
		return NULL;
	}
	int e = 0;
	void *p = MAP_FAILED;
	if (o->kind != K_BUFFER) {
		e = ENODEV; /* /dev/smaf and heap fds cannot be mapped */
	} else if (len == 0 || off < 0 || (off & (off64_t)(PAGE - 1)) || (uint64_t)off + ((len + PAGE - 1) & ~(PAGE - 1)) > o->length) {
		e = EINVAL; /* dma_buf_mmap_internal: the range must lie inside the buffer */
	} else {
		int r = cpu_map_locked(o, fd);
		if (r < 0) {
			e = -r;
		} else if (g_nmap >= MAX_MAPPINGS) {
			e = ENOMEM;
		} else {
			p = real_mmap64(addr, len, prot, flags, fd, off);
			if (p == MAP_FAILED) {
				e = errno;
			} else {
				g_map[g_nmap++] = (struct mapping){ (uintptr_t)p, len, (uint64_t)off, prot, flags, o };
				o->nmaps++;
			}
		}
		if (o->nmaps == 0)
			cpu_unmap_locked(o);
	}
	debug("mmap(fd %d, %zu bytes at %lld) = %p%s%s", fd, len, (long long)off, p, e ? " " : "", e ? strerror(e) : "");
	unlock();
	if (e)
		errno = e;
	return p;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	ensure_init();
	bool handled = false;
	void *p = (flags & MAP_ANONYMOUS) ? NULL : mmap_ours(addr, len, prot, flags, fd, off, &handled);
	return handled ? p : real_mmap(addr, len, prot, flags, fd, off);
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	ensure_init();
	bool handled = false;
	void *p = (flags & MAP_ANONYMOUS) ? NULL : mmap_ours(addr, len, prot, flags, fd, off, &handled);
	return handled ? p : real_mmap64(addr, len, prot, flags, fd, off);
}

/* Push what writable shared mappings in [a, a+len) hold to the emulated memory. Lock held. */
static int flush_range_locked(uintptr_t a, size_t len)
{
	int err = 0;
	for (int i = 0; i < g_nmap; i++) {
		struct mapping *m = &g_map[i];
		uintptr_t lo = a > m->addr ? a : m->addr;
		uintptr_t hi = a + len < m->addr + m->len ? a + len : m->addr + m->len;
		if (lo >= hi || !(m->prot & PROT_WRITE) || !(m->flags & MAP_SHARED))
			continue;
		struct object *o = m->obj;
		int r = o->shadow ? daemon_map_locked(o) : -EIO;
		uint64_t off = m->off + (lo - m->addr);
		uint64_t end = off + (hi - lo);
		if (end > o->length)
			end = o->length;
		if (r == 0 && end > off)
			r = sync_out_locked(o, off, end - off, false);
		if (r < 0)
			err = r;
	}
	return err;
}

EXPORT int munmap(void *addr, size_t len)
{
	ensure_init();
	lock();
	uintptr_t a = (uintptr_t)addr;
	bool ours = false;
	for (int i = 0; i < g_nmap && !ours; i++)
		ours = a < g_map[i].addr + g_map[i].len && a + len > g_map[i].addr;
	if (!ours) {
		unlock();
		return real_munmap(addr, len);
	}
	flush_range_locked(a, len);
	int r = real_munmap(addr, len);
	int e = errno;
	if (r == 0) {
		size_t end = (a + len + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
		for (int i = 0; i < g_nmap;) {
			struct mapping *m = &g_map[i];
			uintptr_t mend = m->addr + ((m->len + PAGE - 1) & ~(PAGE - 1));
			if (a <= m->addr && end >= mend) { /* the whole mapping went */
				struct object *o = m->obj;
				g_map[i] = g_map[--g_nmap];
				if (--o->nmaps == 0) {
					cpu_unmap_locked(o);
					if (!still_open(o))
						release_locked(o);
				}
				continue;
			}
			if (a <= m->addr && end > m->addr) { /* its head went */
				m->off += end - m->addr;
				m->len -= end - m->addr;
				m->addr = end;
			} else if (a < mend && end >= mend && a > m->addr) { /* its tail went */
				m->len = a - m->addr;
			}
			i++;
		}
	}
	debug("munmap(%p, %zu) = %d", addr, len, r);
	unlock();
	errno = e;
	return r;
}

EXPORT int msync(void *addr, size_t len, int flags)
{
	ensure_init();
	lock();
	int r = flush_range_locked((uintptr_t)addr, len);
	unlock();
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return real_msync(addr, len, flags);
}

/* A normal exit is an implicit munmap of every mapping: its writes reach the emulated memory. */
__attribute__((destructor)) static void flush_at_exit(void)
{
	if (!real_mmap || pthread_mutex_trylock(&g_lock) != 0)
		return;
	flush_range_locked(0, SIZE_MAX - PAGE);
	unlock();
}
