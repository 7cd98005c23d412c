/*
 * The table of intercepted calls (preload.h, INTERCEPTED): each real function is looked up once
 * with dlsym(RTLD_NEXT); each wrapper decides "ours or not" by the path or by the fd bitmap, and
 * passes everything else through untouched, errno included. A call on an fd that is not ours takes
 * no lock and makes no extra system call.
 */
#include "preload.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "stat and stat64 share a layout here");

#define DEFINE_REAL(name, ret, args) ret(*real_##name) args;
INTERCEPTED(DEFINE_REAL)
#undef DEFINE_REAL

bool g_zero_copy;
const char *g_heap_dir;
dev_t g_memfd_dev;
static bool g_debug;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

void debug(const char *fmt, ...)
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
	ssize_t w = real_write ? real_write(2, line, len) : -1;
	(void)w;
}

static void child_after_fork(void)
{
	fdtable_after_fork_child();
	rpc_after_fork_child();
}

/* fds inherited across exec: the memfds among them may be ours */
static void mark_inherited(void)
{
	int d = real_open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return;
	char buf[4096];
	for (long n; (n = syscall(SYS_getdents64, d, buf, sizeof buf)) > 0;) {
		for (long off = 0; off < n;) {
			struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *e = (void *)(buf + off);
			off += e->reclen;
			int fd = atoi(e->name);
			struct stat st;
			if (e->name[0] >= '0' && e->name[0] <= '9' && fd != d && real_fstat(fd, &st) == 0 && st.st_dev == g_memfd_dev)
				fd_mark(fd);
		}
	}
	real_close(d);
}

static void init(void)
{
#define RESOLVE(name, ret, args) real_##name = (ret(*) args)dlsym(RTLD_NEXT, #name);
	INTERCEPTED(RESOLVE)
#undef RESOLVE
	g_debug = getenv("SMAF_PRELOAD_DEBUG") && strcmp(getenv("SMAF_PRELOAD_DEBUG"), "0") != 0;
	g_heap_dir = getenv("SMAF_HEAP_DIR");
	const char *native = getenv("SMAF_NATIVE_SOCKET");
	g_zero_copy = native && *native;
	int fd = memfd_create("smaf-probe", MFD_CLOEXEC);
	if (fd >= 0) {
		struct stat st;
		if (real_fstat(fd, &st) == 0)
			g_memfd_dev = st.st_dev;
		real_close(fd);
	}
	mark_inherited();
	pthread_atfork(lock, unlock, child_after_fork);
}

void ensure_init(void) { pthread_once(&g_once, init); }

/* ---- paths --------------------------------------------------------------------------------- */

static int open_ours(const char *path, int flags, bool *handled)
{
	int fd = device_open(path, flags, handled);
	if (*handled)
		return fd;
	return is_absolute(path) ? procfs_open(path, flags, handled) : -1;
}

static int mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, int) : 0;
}

#define OPEN_WRAPPER(name)                                                  \
	EXPORT int name(const char *path, int flags, ...)                   \
	{                                                                   \
		va_list ap;                                                 \
		va_start(ap, flags);                                        \
		int mode = mode_arg(flags, ap);                             \
		va_end(ap);                                                 \
		ensure_init();                                              \
		bool handled = false;                                       \
		int fd = open_ours(path, flags, &handled);                  \
		return handled ? fd : real_##name(path, flags, mode);       \
	}
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)

#define OPENAT_WRAPPER(name)                                                            \
	EXPORT int name(int dirfd, const char *path, int flags, ...)                    \
	{                                                                               \
		va_list ap;                                                             \
		va_start(ap, flags);                                                    \
		int mode = mode_arg(flags, ap);                                         \
		va_end(ap);                                                             \
		ensure_init();                                                          \
		bool handled = false;                                                   \
		int fd = is_absolute(path) ? open_ours(path, flags, &handled) : -1;     \
		return handled ? fd : real_##name(dirfd, path, flags, mode);            \
	}
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

#define OPEN2_WRAPPER(name)                                                 \
	EXPORT int name(const char *path, int flags)                        \
	{                                                                   \
		ensure_init();                                              \
		bool handled = false;                                       \
		int fd = open_ours(path, flags, &handled);                  \
		return handled ? fd : real_##name(path, flags);             \
	}
OPEN2_WRAPPER(__open_2)
OPEN2_WRAPPER(__open64_2)

#define OPENAT2_WRAPPER(name)                                                           \
	EXPORT int name(int dirfd, const char *path, int flags)                         \
	{                                                                               \
		ensure_init();                                                          \
		bool handled = false;                                                   \
		int fd = is_absolute(path) ? open_ours(path, flags, &handled) : -1;     \
		return handled ? fd : real_##name(dirfd, path, flags);                  \
	}
OPENAT2_WRAPPER(__openat_2)
OPENAT2_WRAPPER(__openat64_2)

static FILE *fopen_ours(const char *path, const char *mode, FILE *(*real)(const char *, const char *))
{
	int flags = strchr(mode, '+') ? O_RDWR : mode[0] == 'r' ? O_RDONLY : O_WRONLY;
	if (strchr(mode, 'e'))
		flags |= O_CLOEXEC;
	bool handled = false;
	int fd = is_absolute(path) && mode[0] == 'r' ? open_ours(path, flags, &handled) : -1;
	if (!handled)
		return real(path, mode);
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
	if (classify_path(path, &heap) == P_HEAP_DIR && g_heap_dir)
		return real_opendir(g_heap_dir);
	return real_opendir(path);
}

/* stat and friends of our paths: character devices (a directory for /dev/dma_heap) */
#define STAT_WRAPPER(name, type)                                          \
	EXPORT int name(const char *path, struct type *st)                \
	{                                                                 \
		ensure_init();                                            \
		int r;                                                    \
		if (device_stat(path, (struct stat *)st, &r))             \
			return r;                                         \
		return real_##name(path, st);                             \
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
		if (device_stat(path, (struct stat *)st, &r))             \
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
		char entry[PATH_MAX];                                               \
		if (is_absolute(path) && device_stat(path, (struct stat *)st, &r)) \
			return r;                                                   \
		if (heap_dir_entry(dirfd, path, entry, sizeof entry) && device_stat(entry, (struct stat *)st, &r)) \
			return r;                                                   \
		r = real_##name(dirfd, path, st, flags);                            \
		if (r == 0 && is_empty_path(path) && (flags & AT_EMPTY_PATH))            \
			copy_fix_size(dirfd, (struct stat *)st);                    \
		return r;                                                           \
	}
FSTATAT_WRAPPER(fstatat, stat)
FSTATAT_WRAPPER(fstatat64, stat64)

/* statx (coreutils' stat and ls use it): the same answers as stat, in statx's shape. */
EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *sx)
{
	ensure_init();
	struct stat st;
	int r;
	char entry[PATH_MAX];
	bool ours = (is_absolute(path) && device_stat(path, &st, &r)) || (heap_dir_entry(dirfd, path, entry, sizeof entry) && device_stat(entry, &st, &r));
	if (!ours) {
		r = real_statx(dirfd, path, flags, mask, sx);
		if (r == 0 && !g_zero_copy && is_empty_path(path) && (flags & AT_EMPTY_PATH) && real_fstat(dirfd, &st) == 0) {
			copy_fix_size(dirfd, &st);
			sx->stx_size = (uint64_t)st.st_size;
		}
		return r;
	}
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
	sx->stx_atime = (struct statx_timestamp){ .tv_sec = st.st_atim.tv_sec, .tv_nsec = (uint32_t)st.st_atim.tv_nsec };
	sx->stx_mtime = (struct statx_timestamp){ .tv_sec = st.st_mtim.tv_sec, .tv_nsec = (uint32_t)st.st_mtim.tv_nsec };
	sx->stx_ctime = (struct statx_timestamp){ .tv_sec = st.st_ctim.tv_sec, .tv_nsec = (uint32_t)st.st_ctim.tv_nsec };
	return 0;
}

EXPORT int access(const char *path, int mode)
{
	ensure_init();
	struct stat st;
	int r;
	if (device_stat(path, &st, &r))
		return r;
	return real_access(path, mode);
}

EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
	ensure_init();
	struct stat st;
	int r;
	if (is_absolute(path) && device_stat(path, &st, &r))
		return r;
	return real_faccessat(dirfd, path, mode, flags);
}

/* a device node of ours has no extended attributes (ls -l asks for ACLs and labels) */
#define XATTR_WRAPPER(name)                                                                      \
	EXPORT ssize_t name(const char *path, const char *attr, void *value, size_t size)        \
	{                                                                                        \
		ensure_init();                                                                   \
		struct stat st;                                                                  \
		int r;                                                                           \
		const char *heap;                                                                \
		enum path_kind k = classify_path(path, &heap);                                   \
		if (k == P_HEAP_DIR && g_heap_dir)                                               \
			return real_##name(g_heap_dir, attr, value, size);                       \
		if (k != P_OTHER)                                                                \
			return device_stat(path, &st, &r) && r < 0 ? -1 : fail(ENODATA);         \
		return real_##name(path, attr, value, size);                                     \
	}
XATTR_WRAPPER(getxattr)
XATTR_WRAPPER(lgetxattr)

EXPORT ssize_t readlink(const char *path, char *buf, size_t size)
{
	ensure_init();
	bool handled = false;
	ssize_t r = procfs_readlink(path, buf, size, &handled);
	return handled ? r : real_readlink(path, buf, size);
}

EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
	ensure_init();
	bool handled = false;
	ssize_t r = is_absolute(path) ? procfs_readlink(path, buf, size, &handled) : 0;
	return handled ? r : real_readlinkat(dirfd, path, buf, size);
}

/* ---- fds ----------------------------------------------------------------------------------- */

/*
 * The number fd is no longer one of ours. Before the real close: once the kernel has freed the
 * number, another thread may get it from open() and mark it, and an unmark after that would hide
 * the new fd from the library (its ioctls would reach the kernel: ENOTTY).
 */
static void forget_number(int fd)
{
	fd_unmark(fd);
	dmabuf_closed(fd);
}

/* An open file of ours lost an fd (close, or the target of dup2): its bookkeeping. */
static void after_close(const struct stat *before, bool had)
{
	if (!had || rpc_foreign())
		return;
	/* copy mode's references and the TEE's contexts and shared memory go with their last fd (and
	 * mapping); never wait for the lock here (close may run in a signal handler): a busy library
	 * notices at a later call, or at exit */
	if (!trylock())
		return;
	struct object *o = obj_find_locked(before->st_dev, before->st_ino);
	if (o && o->kind == K_BUFFER && !g_zero_copy)
		copy_after_close_locked(o);
	else if (o && (o->kind == K_TEE || o->kind == K_TEE_SHM))
		tee_after_close_locked(o);
	unlock();
}

EXPORT int close(int fd)
{
	ensure_init();
	rpc_protect_socket(fd);
	if (!fd_maybe(fd))
		return real_close(fd);
	struct stat st;
	bool had = real_fstat(fd, &st) == 0 && st.st_dev == g_memfd_dev;
	forget_number(fd); /* a close that fails (EBADF) had nothing of ours; Linux frees the fd on EINTR too */
	int r = real_close(fd);
	int e = errno;
	if (r == 0 || e == EINTR) {
		debug("close(%d)", fd);
		after_close(&st, had);
	}
	errno = e;
	return r;
}

EXPORT int dup(int oldfd)
{
	ensure_init();
	int r = real_dup(oldfd);
	if (r >= 0 && fd_maybe(oldfd))
		fd_mark(r);
	return r;
}

static int dup_onto(int oldfd, int newfd, int flags, bool three)
{
	ensure_init();
	if (oldfd != newfd)
		rpc_protect_socket(newfd);
	struct stat st;
	bool was = oldfd != newfd && fd_maybe(newfd);
	bool had = was && real_fstat(newfd, &st) == 0 && st.st_dev == g_memfd_dev;
	int r = three ? real_dup3(oldfd, newfd, flags) : real_dup2(oldfd, newfd);
	int e = errno;
	if (r >= 0) {
		if (was) { /* newfd was never free: no other thread can have been given its number */
			forget_number(newfd);
			after_close(&st, had);
		}
		if (fd_maybe(oldfd))
			fd_mark(newfd);
	}
	errno = e;
	return r;
}

EXPORT int dup2(int oldfd, int newfd) { return dup_onto(oldfd, newfd, 0, false); }
EXPORT int dup3(int oldfd, int newfd, int flags) { return dup_onto(oldfd, newfd, flags, true); }

static int fcntl_ours(int fd, int cmd, long arg, int (*real)(int, int, ...))
{
	int r = real(fd, cmd, arg);
	if (r < 0 || !fd_maybe(fd))
		return r;
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) {
		fd_mark(r);
	} else if (cmd == F_GETFL) {
		/* a dma-buf file's flags are its access mode (and O_NONBLOCK): no O_LARGEFILE */
		int e = errno;
		lock();
		struct object *o = lookup_locked(fd);
		if (o && o->kind == K_BUFFER)
			r &= ~KERNEL_O_LARGEFILE;
		unlock();
		errno = e;
	}
	return r;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	ensure_init();
	return fcntl_ours(fd, cmd, arg, real_fcntl);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	ensure_init();
	return fcntl_ours(fd, cmd, arg, real_fcntl64);
}

EXPORT int ioctl(int fd, unsigned long cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	ensure_init();
	int synced;
	if (_IOC_TYPE(cmd) == SMAF_SYNC_IOC_MAGIC && sync_file_ioctl(fd, cmd, arg, &synced))
		return synced;
	if (!fd_maybe(fd))
		return real_ioctl(fd, cmd, arg);
	lock();
	struct object *o = lookup_locked(fd);
	if (!o || o->kind == K_FORGED) {
		unlock();
		return real_ioctl(fd, cmd, arg);
	}
	int r;
	if (o->kind == K_DEVICE)
		r = smaf_device_ioctl_locked(cmd, arg);
	else if (o->kind == K_HEAP)
		r = heap_ioctl_locked(o, cmd, arg);
	else if (o->kind == K_TEE)
		r = tee_ioctl_locked(o, cmd, arg);
	else if (o->kind == K_TEE_SHM)
		r = fail(ENOTTY); /* a tee_shm file has no ioctl */
	else
		r = (o = buffer_locked(fd)) ? dmabuf_ioctl_locked(o, fd, cmd, arg) : -1;
	int e = errno;
	debug("ioctl(%d, 0x%lx) = %d%s%s", fd, cmd, r, r < 0 ? " " : "", r < 0 ? strerror(e) : "");
	unlock();
	errno = e;
	return r;
}

/* ---- mappings ------------------------------------------------------------------------------ */

static void *mmap_ours(void *addr, size_t len, int prot, int flags, int fd, off64_t off, bool *handled)
{
	*handled = false;
	if ((flags & MAP_ANONYMOUS) || !fd_maybe(fd))
		return NULL;
	lock();
	struct object *o = lookup_locked(fd);
	if (!o) {
		unlock();
		return NULL;
	}
	*handled = true;
	int e = 0;
	void *p = MAP_FAILED;
	if (o->kind == K_DEVICE || o->kind == K_HEAP || o->kind == K_TEE)
		e = ENODEV; /* /dev/smaf, heap and /dev/tee0 fds cannot be mapped */
	else if (o->kind == K_TEE_SHM)
		p = tee_shm_mmap_locked(o, fd, addr, len, prot, flags, off, &e);
	else if (o->kind == K_FORGED)
		e = EINVAL; /* named like a dma-buf, unknown to smafd: never mapped (it could be truncated under us) */
	else if (!(o = buffer_locked(fd)))
		e = errno;
	else
		p = dmabuf_mmap_locked(o, fd, addr, len, prot, flags, off, &e);
	debug("mmap(fd %d, %zu bytes at %lld) = %p%s%s", fd, len, (long long)off, p, e ? " " : "", e ? strerror(e) : "");
	unlock();
	if (e)
		errno = e;
	return p;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	ensure_init();
	bool handled;
	void *p = mmap_ours(addr, len, prot, flags, fd, off, &handled);
	return handled ? p : real_mmap(addr, len, prot, flags, fd, off);
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	ensure_init();
	bool handled;
	void *p = mmap_ours(addr, len, prot, flags, fd, off, &handled);
	return handled ? p : real_mmap64(addr, len, prot, flags, fd, off);
}

static bool overlaps_locked(uintptr_t a, size_t len)
{
	for (int i = 0; i < g_nmap; i++)
		if (a < g_map[i].addr + g_map[i].len && a + len > g_map[i].addr)
			return true;
	return false;
}

EXPORT int munmap(void *addr, size_t len)
{
	ensure_init();
	if (__atomic_load_n(&g_nmap, __ATOMIC_RELAXED) == 0)
		return real_munmap(addr, len);
	lock();
	if (!overlaps_locked((uintptr_t)addr, len)) {
		unlock();
		return real_munmap(addr, len);
	}
	int r = dmabuf_munmap_locked((uintptr_t)addr, len);
	int e = errno;
	debug("munmap(%p, %zu) = %d", addr, len, r);
	unlock();
	errno = e;
	return r;
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	void *fixed = (flags & MREMAP_FIXED) ? va_arg(ap, void *) : NULL;
	va_end(ap);
	ensure_init();
	if (__atomic_load_n(&g_nmap, __ATOMIC_RELAXED) == 0)
		return real_mremap(old, old_len, new_len, flags, fixed);
	lock();
	void *p = real_mremap(old, old_len, new_len, flags, fixed);
	int e = errno;
	if (p != MAP_FAILED) {
		/* the mapping moved or changed size: follow it (growing past the buffer is the program's SIGBUS) */
		for (int i = 0; i < g_nmap; i++) {
			if (g_map[i].addr == (uintptr_t)old) {
				g_map[i].addr = (uintptr_t)p;
				g_map[i].len = new_len;
				break;
			}
		}
	}
	unlock();
	errno = e;
	return p;
}

EXPORT int msync(void *addr, size_t len, int flags)
{
	ensure_init();
	if (!g_zero_copy && __atomic_load_n(&g_nmap, __ATOMIC_RELAXED) != 0) {
		lock();
		int r = copy_flush_range_locked((uintptr_t)addr, len);
		unlock();
		if (r < 0)
			return fail(-r);
	}
	return real_msync(addr, len, flags);
}

/* ---- the file operations a dma-buf does not have ------------------------------------------------ */

EXPORT off_t lseek(int fd, off_t off, int whence)
{
	ensure_init();
	off64_t r;
	return dmabuf_lseek(fd, off, whence, &r) ? (off_t)r : real_lseek(fd, off, whence);
}

EXPORT off64_t lseek64(int fd, off64_t off, int whence)
{
	ensure_init();
	off64_t r;
	return dmabuf_lseek(fd, off, whence, &r) ? r : real_lseek64(fd, off, whence);
}

#define RW_WRAPPER(name, ret, params, args, positional, writing)     \
	EXPORT ret name params                                       \
	{                                                            \
		ensure_init();                                       \
		bool handled;                                        \
		ssize_t r = dmabuf_rw(fd, positional, writing, &handled); \
		return handled ? (ret)r : real_##name args;          \
	}
RW_WRAPPER(read, ssize_t, (int fd, void *b, size_t n), (fd, b, n), false, false)
RW_WRAPPER(write, ssize_t, (int fd, const void *b, size_t n), (fd, b, n), false, true)
RW_WRAPPER(readv, ssize_t, (int fd, const struct iovec *v, int n), (fd, v, n), false, false)
RW_WRAPPER(writev, ssize_t, (int fd, const struct iovec *v, int n), (fd, v, n), false, true)
RW_WRAPPER(pread, ssize_t, (int fd, void *b, size_t n, off_t o), (fd, b, n, o), true, false)
RW_WRAPPER(pread64, ssize_t, (int fd, void *b, size_t n, off64_t o), (fd, b, n, o), true, false)
RW_WRAPPER(pwrite, ssize_t, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o), true, true)
RW_WRAPPER(pwrite64, ssize_t, (int fd, const void *b, size_t n, off64_t o), (fd, b, n, o), true, true)
RW_WRAPPER(preadv, ssize_t, (int fd, const struct iovec *v, int n, off_t o), (fd, v, n, o), true, false)
RW_WRAPPER(pwritev, ssize_t, (int fd, const struct iovec *v, int n, off_t o), (fd, v, n, o), true, true)

/* fds received with SCM_RIGHTS may be dma-bufs: they are checked at their first use */
EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	ensure_init();
	ssize_t r = real_recvmsg(fd, m, flags);
	if (r < 0 || !m || !m->msg_control)
		return r;
	int e = errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k; i++) {
			int got;
			memcpy(&got, CMSG_DATA(cm) + (size_t)i * sizeof(int), sizeof got);
			fd_mark(got);
		}
	}
	errno = e;
	return r;
}

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	ensure_init();
	bool handled;
	int r = dmabuf_epoll_ctl(epfd, op, fd, ev, &handled);
	return handled ? r : real_epoll_ctl(epfd, op, fd, ev);
}

/* fstat: copy mode's memfd carries a token page after the data; zero-copy's is the buffer's size */
EXPORT int fstat(int fd, struct stat *st)
{
	ensure_init();
	int r = real_fstat(fd, st);
	if (r == 0 && fd_maybe(fd))
		copy_fix_size(fd, st);
	return r;
}

EXPORT int fstat64(int fd, struct stat64 *st)
{
	ensure_init();
	int r = real_fstat64(fd, st);
	if (r == 0 && fd_maybe(fd))
		copy_fix_size(fd, (struct stat *)st);
	return r;
}

EXPORT int __fxstat(int ver, int fd, struct stat *st)
{
	ensure_init();
	int r = real___fxstat(ver, fd, st);
	if (r == 0 && fd_maybe(fd))
		copy_fix_size(fd, st);
	return r;
}

EXPORT int __fxstat64(int ver, int fd, struct stat64 *st)
{
	ensure_init();
	int r = real___fxstat64(ver, fd, st);
	if (r == 0 && fd_maybe(fd))
		copy_fix_size(fd, (struct stat *)st);
	return r;
}
