/*
 * libsmaf-preload: the internal interface between its files. docs/c-programs.md says what a
 * program sees; this says where each part lives, the way the kernel splits a subsystem:
 *
 *   intercept.c     the table of intercepted libc calls: each wrapper asks "ours?" and passes
 *                   everything else through untouched, errno included
 *   fdtable.c       which fds may be ours (a lock-free bitmap), the objects behind them (dma-bufs
 *                   by (st_dev, st_ino)), the lock, fork
 *   rpc.c           the connection to smafd: one request, one answer, with a timeout; files travel
 *                   with messages on the native socket (SCM_RIGHTS)
 *   usercopy.c      copies from and to the program's pointers that fail with EFAULT, never crash
 *   dmabuf.c        dma-buf fds: mmap, munmap, ioctls, llseek, read/write, fcntl, epoll
 *   copy-mode.c     the copying path, when smafd has no addon (no shared memory): memfds of the
 *                   library's own with a token page, bytes moved at SYNC, msync, munmap and exit
 *   devices.c       the device paths: open, stat, getxattr, the heap directory
 *   dev-smaf.c      /dev/smaf's ioctls
 *   dev-dma-heap.c  /dev/dma_heap/<heap>'s ioctl
 *   tee.c           /dev/tee0: the TEE subsystem's ioctls for libteec
 *   procfs.c        what /proc shows of dma-bufs: readlink of fd links, fdinfo, maps
 *
 * Modes: with SMAF_NATIVE_SOCKET (smaf exec sets it when smafd has its addon) a dma-buf is a file
 * smafd made whose pages are the emulated memory (zero-copy); without it, copy mode.
 */
#ifndef SMAF_PRELOAD_H
#define SMAF_PRELOAD_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "smaf-wire.h"

#define EXPORT __attribute__((visibility("default")))
#define PAGE 4096ull
#define MAX_OBJECTS 4096
#define MAX_MAPPINGS 8192
/* fds below this are tracked in the bitmap; others are always checked */
#define FD_BITS (1 << 20)
/* the kernel's O_LARGEFILE (userspace headers define it as 0 on 64-bit): set on every file opened
 * through a path on 64-bit, never on a dma-buf's */
#define KERNEL_O_LARGEFILE 0100000

/* ---- intercept.c: the real functions ---------------------------------------------------------- */

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
	X(dup, int, (int))                                                                     \
	X(dup2, int, (int, int))                                                               \
	X(dup3, int, (int, int, int))                                                          \
	X(fcntl, int, (int, int, ...))                                                         \
	X(fcntl64, int, (int, int, ...))                                                       \
	X(ioctl, int, (int, unsigned long, ...))                                               \
	X(mmap, void *, (void *, size_t, int, int, int, off_t))                                \
	X(mmap64, void *, (void *, size_t, int, int, int, off64_t))                            \
	X(munmap, int, (void *, size_t))                                                       \
	X(mremap, void *, (void *, size_t, size_t, int, ...))                                  \
	X(msync, int, (void *, size_t, int))                                                   \
	X(lseek, off_t, (int, off_t, int))                                                     \
	X(lseek64, off64_t, (int, off64_t, int))                                               \
	X(read, ssize_t, (int, void *, size_t))                                                \
	X(write, ssize_t, (int, const void *, size_t))                                         \
	X(readv, ssize_t, (int, const struct iovec *, int))                                    \
	X(writev, ssize_t, (int, const struct iovec *, int))                                   \
	X(pread, ssize_t, (int, void *, size_t, off_t))                                        \
	X(pread64, ssize_t, (int, void *, size_t, off64_t))                                    \
	X(pwrite, ssize_t, (int, const void *, size_t, off_t))                                 \
	X(pwrite64, ssize_t, (int, const void *, size_t, off64_t))                             \
	X(preadv, ssize_t, (int, const struct iovec *, int, off_t))                            \
	X(pwritev, ssize_t, (int, const struct iovec *, int, off_t))                           \
	X(recvmsg, ssize_t, (int, struct msghdr *, int))                                       \
	X(epoll_ctl, int, (int, int, int, struct epoll_event *))                               \
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
	X(__fxstat, int, (int, int, struct stat *))                                            \
	X(__fxstat64, int, (int, int, struct stat64 *))                                        \
	X(statx, int, (int, const char *, int, unsigned int, struct statx *))                 \
	X(access, int, (const char *, int))                                                    \
	X(faccessat, int, (int, const char *, int, int))                                       \
	X(getxattr, ssize_t, (const char *, const char *, void *, size_t))                     \
	X(lgetxattr, ssize_t, (const char *, const char *, void *, size_t))                    \
	X(readlink, ssize_t, (const char *, char *, size_t))                                   \
	X(readlinkat, ssize_t, (int, const char *, char *, size_t))

#define DECLARE_REAL(name, ret, args) extern ret(*real_##name) args;
INTERCEPTED(DECLARE_REAL)
#undef DECLARE_REAL

void ensure_init(void);
/* SMAF_PRELOAD_DEBUG=1: one line per intercepted call on our fds, on stderr, without allocating */
void debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern bool g_zero_copy;
extern const char *g_heap_dir;
extern dev_t g_memfd_dev;

static inline int fail(int e)
{
	errno = e;
	return -1;
}

/* ---- fdtable.c ---------------------------------------------------------------------------------- */

enum kind { K_FREE = 0, K_DEVICE, K_HEAP, K_BUFFER, K_FORGED, K_TEE, K_TEE_SHM };
/* how a TEE shared memory was made: its bytes are a memfd, user memory, or a dma-buf smafd holds */
enum shm_kind { SHM_ALLOC = 0, SHM_REGISTER, SHM_DMABUF };

struct object {
	enum kind kind;
	dev_t dev;
	ino_t ino;
	/* heaps (and the device, which has no heap) */
	char heap[64];
	char allocator[64];
	bool secure_heap;
	/* buffers */
	int32_t dfd;       /* on this process's connection: a handle (zero-copy) or a reference (copy); -1 until known */
	uint64_t length;
	int32_t map_id;    /* smafd's CPU mapping while this process maps the buffer, else -1 */
	int nmaps;         /* program mappings alive */
	int sync_remote;   /* SYNC STARTs smafd answered (and so counts) that no END has closed yet */
	char name[SMAF_DMA_BUF_NAME_LEN]; /* DMA_BUF_SET_NAME seen by this process */
	/* copy mode */
	uint8_t token[SMAF_TOKEN_LEN];
	void *shadow;      /* the library's own shared view of the memfd's data pages (copy mode, TEE ALLOC shm) */
	/* /dev/tee0 and its shared memory */
	uint32_t tee_ctx;  /* the TEE context on this connection, 0 until opened */
	int32_t shm_id;
	enum shm_kind shm_kind;
	uintptr_t shm_addr; /* SHM_REGISTER: the program's memory */
	int32_t gen_seen;  /* smafd's write generation when the memfd last matched it, -1 unknown */
};

struct mapping {
	uintptr_t addr;
	size_t len;
	uint64_t off;
	int prot;
	int flags;
	struct object *obj;
};

void lock(void);
void unlock(void);
/* the lock if it is free now: never waits (for paths that may run in a signal handler) */
bool trylock(void);
/* the fd bitmap: set for every fd that may be one of ours (lock-free, async-signal-safe) */
void fd_mark(int fd);
void fd_unmark(int fd);
bool fd_maybe(int fd);
/* The object behind fd, or NULL when it is not ours (errno untouched). Lock held. */
struct object *lookup_locked(int fd);
struct object *obj_new_locked(enum kind k, dev_t dev, ino_t ino);
struct object *obj_find_locked(dev_t dev, ino_t ino);
/* Objects of one kind: for (o = obj_first_locked(k); o; o = obj_next_locked(o, k)) */
struct object *obj_first_locked(enum kind k);
struct object *obj_next_locked(struct object *o, enum kind k);
/* The object of an fd that is a dma-buf of ours, imported on this connection; NULL + errno. Lock held. */
struct object *buffer_locked(int fd);
/* Whether any fd of this process refers to the object (raw getdents: no malloc). */
bool still_open(const struct object *o);
extern struct mapping g_map[MAX_MAPPINGS];
extern int g_nmap;
void fdtable_after_fork_child(void);
/* The connection to smafd went: daemon fds and smafd's mappings of this process went with it. */
void fdtable_forget_connection(void);
/* A heap's file in SMAF_HEAP_DIR: its allocator and whether it is protected. */
bool read_heap_file(const char *heap, struct object *o);

/* ---- rpc.c -------------------------------------------------------------------------------------- */

struct rpc {
	uint32_t op;
	int32_t fd;                       /* the daemon fd the op goes to (SMAF_WIRE_DEVICE_FD: the device) */
	const void *in;                   /* payload, in up to two pieces */
	size_t in_len;
	const void *in2;
	size_t in2_len;
	void *out;                        /* up to out_cap payload bytes of the answer land here */
	size_t out_cap;
	size_t out_len;                   /* how many did */
	int send_file;                    /* a file to pass with the request (-1: none) */
	int recv_file;                    /* the file that came with the answer (-1: none); the caller owns it */
};
#define RPC(opnum, dfd) { .op = (opnum), .fd = (dfd), .send_file = -1, .recv_file = -1 }

/* One request, one answer. The daemon's result (>= 0, or -errno), or -EIO / -ENXIO. Lock held. */
int rpc_locked(struct rpc *r);
/* Shorthand: op with an input struct, the answer's payload into out. */
int rpc_simple_locked(uint32_t op, int32_t fd, const void *in, size_t in_len, void *out, size_t out_cap);
/* The program closes or dup2s over fd: move our socket out of its way first. */
void rpc_protect_socket(int fd);
void rpc_after_fork_child(void);
/* vfork child (shared memory, its own pid): it must not use the parent's connection */
bool rpc_foreign(void);
bool rpc_is_socket(int fd);

/* ---- usercopy.c --------------------------------------------------------------------------------- */

/* 0, or -1 with errno EFAULT: the program's pointer cannot be read / written as a whole. */
int copy_from_user(void *dst, const void *user, size_t n);
int copy_to_user(void *user, const void *src, size_t n);
/* A NUL-terminated string of at most cap-1 bytes: its length, or -EFAULT, or -EINVAL when longer. */
long strncpy_from_user(char *dst, const char *user, size_t cap);

/* ---- dmabuf.c ----------------------------------------------------------------------------------- */

/* A buffer the daemon just created (daemon fd dfd) becomes a dma-buf fd of this process. fd or -errno. */
int dmabuf_adopt_locked(int32_t dfd, int access, bool cloexec);
int dmabuf_ioctl_locked(struct object *o, int fd, unsigned long cmd, void *arg);
void *dmabuf_mmap_locked(struct object *o, int fd, void *addr, size_t len, int prot, int flags, off64_t off, int *err);
int dmabuf_munmap_locked(uintptr_t a, size_t len);
bool dmabuf_lseek(int fd, off64_t off, int whence, off64_t *ret);
/* read/write family: -1 with the kernel's errno when fd is a dma-buf of ours (*handled set) */
ssize_t dmabuf_rw(int fd, bool positional, bool writing, bool *handled);
int dmabuf_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev, bool *handled);
void dmabuf_closed(int fd);
/* The daemon fd of a program fd that is a dma-buf, for /dev/smaf's SECURE_FLAG ioctls: -1 if none. */
int32_t dmabuf_daemon_fd_locked(int fd);
/* SYNC_IOC_FILE_INFO, SYNC_IOC_MERGE and SYNC_IOC_SET_DEADLINE on a sync file smafd made (a pipe): answered (*ret set,
 * true), or false: not ours to answer. Takes the lock. */
bool sync_file_ioctl(int fd, unsigned long cmd, void *arg, int *ret);

/* ---- copy-mode.c ---------------------------------------------------------------------------------- */

int copy_adopt_locked(int32_t dfd, bool cloexec, struct object **out);
/* The memfd of a buffer of copy mode, read from its token page and vouched for by smafd; NULL if forged. */
struct object *copy_recognise_locked(int fd, const struct stat *st);
int copy_import_locked(struct object *o);
int copy_cpu_map_locked(struct object *o, int fd);
void copy_cpu_unmap_locked(struct object *o);
int copy_sync_locked(struct object *o, uint64_t flags);
int copy_flush_range_locked(uintptr_t a, size_t len);
void copy_release_locked(struct object *o);
void copy_after_close_locked(struct object *o);
/* fstat of a copy-mode memfd shows the token page: take it off (no lock: async-signal-safe). */
void copy_fix_size(int fd, struct stat *st);

/* ---- devices ------------------------------------------------------------------------------------ */

int smaf_device_ioctl_locked(unsigned long cmd, void *arg);
int heap_ioctl_locked(struct object *heap, unsigned long cmd, void *arg);

enum path_kind { P_OTHER, P_SMAF, P_HEAP_DIR, P_HEAP, P_TEE };
enum path_kind classify_path(const char *path, const char **heap);
bool is_absolute(const char *path);
bool is_empty_path(const char *path);
/* open of /dev/smaf or a heap: *handled false when the path is not ours */
int device_open(const char *path, int flags, bool *handled);
/* stat of our device paths: 1 = handled (*ret set), 0 = not ours */
int device_stat(const char *path, struct stat *st, int *ret);
bool heap_dir_entry(int dirfd, const char *name, char *out, size_t cap);

/* ---- tee.c -------------------------------------------------------------------------------------- */

/* open of /dev/tee0: a new TEE context. fd or -1 with errno. */
int tee_open(int flags);
int tee_ioctl_locked(struct object *tee, unsigned long cmd, void *arg);
/* an fd of a TEE object was closed / its last mapping went: release what nothing holds any more */
void tee_after_close_locked(struct object *o);
void tee_shm_unmapped_locked(struct object *o);
void *tee_shm_mmap_locked(struct object *o, int fd, void *addr, size_t len, int prot, int flags, off64_t off, int *err);

/* ---- procfs.c ----------------------------------------------------------------------------------- */

/* open of /proc/<pid>/fdinfo/<fd> or /proc/<pid>/maps naming dma-bufs: a file with the kernel's view */
int procfs_open(const char *path, int flags, bool *handled);
/* readlink of /proc/<pid>/fd/<fd> naming a dma-buf: /dmabuf:NAME */
ssize_t procfs_readlink(const char *path, char *buf, size_t size, bool *handled);

#endif
