/*
 * What /proc shows of a dma-buf, as the kernel shows it (drivers/dma-buf/dma-buf.c):
 * - readlink /proc/PID/fd/N: `/dmabuf:NAME` (`/dmabuf:` until DMA_BUF_SET_NAME); our device fds
 *   read as /dev/smaf and /dev/dma_heap/<heap>;
 * - /proc/PID/fdinfo/N: the generic lines (pos, flags, mnt_id, ino) then `size:`, `count:`,
 *   `exp_name:` (smaf, or the heap) and `name:` once set;
 * - /proc/PID/maps: a mapping of a dma-buf is named `/dmabuf:NAME`.
 * For another process, the library opens its fd with O_PATH (the kernel checks that this process
 * may look at it) and asks smafd which buffer that file is: smafd answers only for a file handed
 * to it, so nobody learns of a buffer whose file it cannot reach.
 */
#include "preload.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* "/proc/<self|thread-self|pid>/<what>/<n>": the pid part ("self" -> own) and n; false otherwise. */
static bool parse_proc(const char *path, const char *what, char *pid, size_t pid_cap, int *n)
{
	if (!path || strncmp(path, "/proc/", 6) != 0)
		return false;
	const char *p = path + 6;
	const char *slash = strchr(p, '/');
	if (!slash || (size_t)(slash - p) >= pid_cap)
		return false;
	memcpy(pid, p, (size_t)(slash - p));
	pid[slash - p] = 0;
	size_t wl = strlen(what);
	if (strncmp(slash + 1, what, wl) != 0)
		return false;
	const char *rest = slash + 1 + wl;
	if (n == NULL)
		return *rest == 0;
	if (*rest != '/' || rest[1] < '0' || rest[1] > '9')
		return false;
	char *end;
	long v = strtol(rest + 1, &end, 10);
	if (*end || v < 0 || v > INT_MAX)
		return false;
	*n = (int)v;
	return true;
}

static bool own_pid(const char *pid)
{
	if (!strcmp(pid, "self") || !strcmp(pid, "thread-self"))
		return true;
	char me[16];
	snprintf(me, sizeof me, "%d", (int)getpid());
	return !strcmp(pid, me);
}

struct described {
	uint64_t size;
	uint32_t count;
	char exp_name[sizeof(((struct smaf_identify_out *)0)->exp_name)];
	char name[SMAF_DMA_BUF_NAME_LEN];
};

/* smafd's answer for a file (smafd's own check: it knows the file or not). Lock held. */
static bool describe_file_locked(int file, struct described *d)
{
	if (!g_zero_copy)
		return false;
	struct smaf_identify_in in = { .handle = 0 };
	struct smaf_identify_out out;
	struct rpc r = RPC(SMAF_OP_IDENTIFY, SMAF_WIRE_DEVICE_FD);
	r.in = &in;
	r.in_len = sizeof in;
	r.out = &out;
	r.out_cap = sizeof out;
	r.send_file = file;
	int res = rpc_locked(&r);
	if (r.recv_file >= 0)
		real_close(r.recv_file);
	if (res < 0 || r.out_len != sizeof out)
		return false;
	d->size = out.size;
	d->count = out.count;
	memcpy(d->exp_name, out.exp_name, sizeof d->exp_name);
	d->exp_name[sizeof d->exp_name - 1] = 0;
	memcpy(d->name, out.name, sizeof d->name);
	d->name[sizeof d->name - 1] = 0;
	return true;
}

/* What the fd link /proc/<pid>/fd/<n> names, if it is one of ours. Lock not held. */
static bool describe_fd(const char *pid, int n, struct described *d)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/%s/fd/%d", pid, n);
	int file = real_open(link, O_PATH | O_CLOEXEC);
	if (file < 0)
		return false;
	lock();
	bool ok = describe_file_locked(file, d);
	if (!ok && own_pid(pid)) {
		/* copy mode: what this process knows of its own fds */
		struct object *o = lookup_locked(n);
		if ((ok = o && o->kind == K_BUFFER)) {
			memset(d, 0, sizeof *d);
			d->size = o->length;
			d->count = 1;
			snprintf(d->exp_name, sizeof d->exp_name, "smaf");
			memcpy(d->name, o->name, sizeof d->name);
		}
	}
	unlock();
	real_close(file);
	return ok;
}

ssize_t procfs_readlink(const char *path, char *buf, size_t size, bool *handled)
{
	char pid[32];
	int n;
	*handled = false;
	if (!parse_proc(path, "fd", pid, sizeof pid, &n))
		return 0;
	char target[PATH_MAX];
	ssize_t len = real_readlink(path, target, sizeof target - 1);
	if (len < 0)
		return 0; /* the caller's real readlink says why */
	target[len] = 0;
	char out[PATH_MAX];
	if (!strcmp(target, "/memfd:" SMAF_MEMFD_DEVICE " (deleted)")) {
		snprintf(out, sizeof out, "/dev/smaf");
	} else if (!strncmp(target, "/memfd:" SMAF_MEMFD_HEAP_PREFIX, strlen("/memfd:" SMAF_MEMFD_HEAP_PREFIX)) && strstr(target, " (deleted)")) {
		const char *heap = target + strlen("/memfd:" SMAF_MEMFD_HEAP_PREFIX);
		snprintf(out, sizeof out, "/dev/dma_heap/%.*s", (int)(strstr(target, " (deleted)") - heap), heap);
	} else if (!strcmp(target, "/memfd:" SMAF_MEMFD_BUFFER " (deleted)")) {
		struct described d;
		if (!describe_fd(pid, n, &d))
			return 0;
		snprintf(out, sizeof out, "/dmabuf:%s", d.name);
	} else {
		return 0;
	}
	*handled = true;
	size_t l = strlen(out);
	if (l > size)
		l = size;
	memcpy(buf, out, l);
	return (ssize_t)l;
}

/* A read-only view: a memfd holding `text`, at offset 0. */
static int view_file(const char *text, size_t len, int flags)
{
	int fd = memfd_create("smaf-procfs", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
	if (fd < 0)
		return -1;
	for (size_t done = 0; done < len;) {
		ssize_t w = real_write(fd, text + done, len - done);
		if (w <= 0) {
			real_close(fd);
			return fail(EIO);
		}
		done += (size_t)w;
	}
	real_lseek(fd, 0, SEEK_SET);
	return fd;
}

/* The whole of a /proc file (they are small; maps may not be): mmap'd, *len bytes, or NULL. */
static char *slurp(const char *path, size_t *len, size_t *cap)
{
	int f = real_open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return NULL;
	*cap = 1 << 16;
	*len = 0;
	char *buf = mmap(NULL, *cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	while (buf != MAP_FAILED) {
		if (*len == *cap) {
			char *bigger = mremap(buf, *cap, *cap * 2, MREMAP_MAYMOVE);
			if (bigger == MAP_FAILED) {
				munmap(buf, *cap);
				buf = MAP_FAILED;
				break;
			}
			buf = bigger;
			*cap *= 2;
		}
		ssize_t r = real_read(f, buf + *len, *cap - *len);
		if (r <= 0)
			break;
		*len += (size_t)r;
	}
	real_close(f);
	return buf == MAP_FAILED ? NULL : buf;
}

static int fdinfo_open(const char *path, const char *pid, int n, int flags)
{
	size_t len, cap;
	char *real = slurp(path, &len, &cap);
	if (!real)
		return -1;
	struct described d;
	int fd;
	if (!describe_fd(pid, n, &d)) {
		munmap(real, cap);
		return real_open(path, flags);
	} else {
		char text[1024];
		size_t t = 0;
		/* the generic lines, as the kernel prints them; a dma-buf file has no O_LARGEFILE */
		for (char *line = real; line < real + len && t < sizeof text - 256;) {
			char *nl = memchr(line, '\n', (size_t)(real + len - line));
			size_t ll = nl ? (size_t)(nl - line) : (size_t)(real + len - line);
			if (!strncmp(line, "flags:", 6)) {
				unsigned long fl = strtoul(line + 6, NULL, 8) & ~(unsigned long)KERNEL_O_LARGEFILE;
				t += (size_t)snprintf(text + t, sizeof text - t, "flags:\t0%lo\n", fl);
			} else if (!strncmp(line, "pos:", 4) || !strncmp(line, "mnt_id:", 7) || !strncmp(line, "ino:", 4)) {
				t += (size_t)snprintf(text + t, sizeof text - t, "%.*s\n", (int)ll, line);
			}
			line += ll + 1;
		}
		t += (size_t)snprintf(text + t, sizeof text - t, "size:\t%llu\ncount:\t%u\nexp_name:\t%s\n", (unsigned long long)d.size, d.count, d.exp_name);
		if (d.name[0])
			t += (size_t)snprintf(text + t, sizeof text - t, "name:\t%s\n", d.name);
		fd = view_file(text, t, flags);
	}
	munmap(real, cap);
	return fd;
}

/* The name of a dma-buf mapped in process `pid` by inode: an fd of it there, described by smafd. */
static bool name_of_inode(const char *pid, unsigned long ino, char *name, size_t cap)
{
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%s/fd", pid);
	int d = real_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return false;
	char buf[4096];
	bool found = false;
	for (long got; !found && (got = syscall(SYS_getdents64, d, buf, sizeof buf)) > 0;) {
		for (long off = 0; off < got && !found;) {
			struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *e = (void *)(buf + off);
			off += e->reclen;
			if (e->name[0] < '0' || e->name[0] > '9')
				continue;
			char link[96];
			snprintf(link, sizeof link, "%s/%s", dir, e->name);
			struct stat st;
			struct described ds;
			if (real_stat(link, &st) == 0 && st.st_ino == ino && st.st_dev == g_memfd_dev && describe_fd(pid, atoi(e->name), &ds)) {
				snprintf(name, cap, "%s", ds.name);
				found = true;
			}
		}
	}
	real_close(d);
	return found;
}

static int maps_open(const char *path, const char *pid, int flags)
{
	size_t len, cap;
	char *real = slurp(path, &len, &cap);
	if (!real)
		return -1;
	static const char tag[] = "/memfd:" SMAF_MEMFD_BUFFER " (deleted)";
	size_t ocap = len + len / 2 + 4096;
	char *out = mmap(NULL, ocap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (out == MAP_FAILED) {
		munmap(real, cap);
		return fail(ENOMEM);
	}
	size_t o = 0;
	for (char *line = real; line < real + len;) {
		char *nl = memchr(line, '\n', (size_t)(real + len - line));
		size_t ll = nl ? (size_t)(nl - line + 1) : (size_t)(real + len - line);
		char *at = memmem(line, ll, tag, sizeof tag - 1);
		char name[SMAF_DMA_BUF_NAME_LEN] = "";
		unsigned long ino = 0;
		/* "start-end perms offset dev inode path" */
		if (at && sscanf(line, "%*s %*s %*s %*s %lu", &ino) == 1)
			name_of_inode(pid, ino, name, sizeof name);
		if (at && o + ll + 64 < ocap) {
			size_t head = (size_t)(at - line);
			o += (size_t)snprintf(out + o, ocap - o, "%.*s/dmabuf:%s\n", (int)head, line, name);
		} else if (o + ll < ocap) {
			memcpy(out + o, line, ll);
			o += ll;
		}
		line += ll;
	}
	int fd = view_file(out, o, flags);
	munmap(out, ocap);
	munmap(real, cap);
	return fd;
}

int procfs_open(const char *path, int flags, bool *handled)
{
	char pid[32];
	int n;
	*handled = false;
	if ((flags & O_ACCMODE) != O_RDONLY)
		return -1;
	if (parse_proc(path, "fdinfo", pid, sizeof pid, &n)) {
		*handled = true;
		return fdinfo_open(path, pid, n, flags);
	}
	if (parse_proc(path, "maps", pid, sizeof pid, NULL)) {
		*handled = true;
		return maps_open(path, pid, flags);
	}
	return -1;
}
