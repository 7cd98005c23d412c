/*
 * Which fds are ours, and the objects behind them.
 *
 * - The bitmap says which fd numbers MAY be ours (set when the library makes or receives one, or a
 *   program dups one; cleared at close). A call on an fd whose bit is clear passes straight through:
 *   no lock, no system call, so that a program's own fds (and its signal handlers) never wait for
 *   the library. A stale bit only costs an fstat.
 * - Objects are known by (st_dev, st_ino) of their memfd, not by fd number: dup, fork, exec and
 *   SCM_RIGHTS need no bookkeeping. A memfd this process has not met is recognised by its name and,
 *   for a dma-buf, vouched for by smafd (zero-copy: smafd is handed the file itself and says which
 *   buffer it is; copy mode: its token page is checked against smafd and its seals).
 * - One lock around the table and the connection (never taken for fds that are not ours).
 */
#include "preload.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint32_t g_maybe[FD_BITS / 32];
static struct object g_obj[MAX_OBJECTS];
static int g_nobj;
struct mapping g_map[MAX_MAPPINGS];
int g_nmap;

void lock(void) { pthread_mutex_lock(&g_lock); }
void unlock(void) { pthread_mutex_unlock(&g_lock); }
bool trylock(void) { return pthread_mutex_trylock(&g_lock) == 0; }

void fd_mark(int fd)
{
	if (fd >= 0 && fd < FD_BITS)
		atomic_fetch_or_explicit(&g_maybe[fd / 32], 1u << (fd % 32), memory_order_relaxed);
}

void fd_unmark(int fd)
{
	if (fd >= 0 && fd < FD_BITS)
		atomic_fetch_and_explicit(&g_maybe[fd / 32], ~(1u << (fd % 32)), memory_order_relaxed);
}

bool fd_maybe(int fd)
{
	if (fd < 0)
		return false;
	if (fd >= FD_BITS)
		return true;
	return (atomic_load_explicit(&g_maybe[fd / 32], memory_order_relaxed) >> (fd % 32)) & 1u;
}

struct object *obj_find_locked(dev_t dev, ino_t ino)
{
	for (int i = 0; i < g_nobj; i++)
		if (g_obj[i].kind != K_FREE && g_obj[i].dev == dev && g_obj[i].ino == ino)
			return &g_obj[i];
	return NULL;
}

struct object *obj_first_locked(enum kind k)
{
	for (int i = 0; i < g_nobj; i++)
		if (g_obj[i].kind == k)
			return &g_obj[i];
	return NULL;
}

struct object *obj_next_locked(struct object *o, enum kind k)
{
	for (int i = (int)(o - g_obj) + 1; i < g_nobj; i++)
		if (g_obj[i].kind == k)
			return &g_obj[i];
	return NULL;
}

/* Objects no fd and no mapping of this process refers to any more are forgotten (table full). */
static void sweep_locked(void)
{
	for (int i = 0; i < g_nobj; i++) {
		struct object *o = &g_obj[i];
		if (o->kind == K_FREE || o->nmaps > 0 || still_open(o))
			continue;
		if (o->kind == K_BUFFER && !g_zero_copy)
			copy_release_locked(o);
		else if (o->kind == K_TEE || o->kind == K_TEE_SHM)
			tee_after_close_locked(o);
		o->kind = K_FREE;
	}
}

struct object *obj_new_locked(enum kind k, dev_t dev, ino_t ino)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < MAX_OBJECTS; i++) {
			if (g_obj[i].kind != K_FREE)
				continue;
			struct object *o = &g_obj[i];
			memset(o, 0, sizeof *o);
			o->kind = k;
			o->dev = dev;
			o->ino = ino;
			o->dfd = -1;
			o->map_id = -1;
			o->gen_seen = -1;
			if (i >= g_nobj)
				g_nobj = i + 1;
			return o;
		}
		sweep_locked();
	}
	return NULL;
}

bool read_heap_file(const char *heap, struct object *o)
{
	if (!g_heap_dir || strchr(heap, '/') || !strcmp(heap, ".") || !strcmp(heap, ".."))
		return false;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", g_heap_dir, heap);
	int f = real_open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return false;
	char text[160] = { 0 };
	ssize_t n = real_read(f, text, sizeof text - 1);
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

/* Zero-copy: smafd is handed the file and says which buffer it is, with a handle of it on this
 * connection (the result); -EINVAL: smafd does not know the file. Lock held. */
static int identify_rpc_locked(int fd, struct smaf_identify_out *out)
{
	struct smaf_identify_in in = { .handle = 1 };
	struct rpc r = RPC(SMAF_OP_IDENTIFY, SMAF_WIRE_DEVICE_FD);
	r.in = &in;
	r.in_len = sizeof in;
	r.out = out;
	r.out_cap = sizeof *out;
	r.send_file = fd;
	int res = rpc_locked(&r);
	if (r.recv_file >= 0)
		real_close(r.recv_file);
	if (res >= 0 && r.out_len != sizeof *out)
		res = -EIO;
	return res;
}

static struct object *identify_locked(int fd, const struct stat *st)
{
	struct smaf_identify_out out;
	int res = identify_rpc_locked(fd, &out);
	if (res < 0 && res != -EINVAL)
		return NULL; /* smafd unreachable: cannot tell; not ours for now */
	struct object *o = obj_new_locked(res < 0 ? K_FORGED : K_BUFFER, st->st_dev, st->st_ino);
	if (!o || o->kind == K_FORGED) {
		debug("fd %d: named like a dma-buf, but smafd does not know it: not a dma-buf", fd);
		return o;
	}
	o->dfd = res;
	o->length = out.size;
	memcpy(o->name, out.name, sizeof o->name);
	o->name[sizeof o->name - 1] = 0;
	debug("fd %d: dma-buf %u (%llu bytes), handle %d", fd, out.buffer, (unsigned long long)o->length, res);
	return o;
}

struct object *lookup_locked(int fd)
{
	int saved = errno;
	struct stat st;
	if (fd < 0 || real_fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != g_memfd_dev) {
		errno = saved;
		return NULL;
	}
	struct object *o = obj_find_locked(st.st_dev, st.st_ino);
	if (o) {
		errno = saved;
		return o;
	}
	char link[64], target[256];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = real_readlink(link, target, sizeof target - 1);
	errno = saved;
	if (n <= 0)
		return NULL;
	target[n] = 0;
	char *deleted = strstr(target, " (deleted)");
	if (deleted)
		*deleted = 0;
	if (strncmp(target, "/memfd:", 7) != 0)
		return NULL;
	const char *name = target + 7;
	if (!strcmp(name, SMAF_MEMFD_DEVICE)) {
		o = obj_new_locked(K_DEVICE, st.st_dev, st.st_ino);
	} else if (!strncmp(name, SMAF_MEMFD_HEAP_PREFIX, strlen(SMAF_MEMFD_HEAP_PREFIX))) {
		struct object tmp = { 0 };
		if (read_heap_file(name + strlen(SMAF_MEMFD_HEAP_PREFIX), &tmp) && (o = obj_new_locked(K_HEAP, st.st_dev, st.st_ino))) {
			memcpy(o->heap, tmp.heap, sizeof o->heap);
			memcpy(o->allocator, tmp.allocator, sizeof o->allocator);
			o->secure_heap = tmp.secure_heap;
		}
	} else if (!strcmp(name, SMAF_MEMFD_TEE)) {
		o = obj_new_locked(K_TEE, st.st_dev, st.st_ino);
	} else if (!strcmp(name, SMAF_MEMFD_TEE_SHM)) {
		o = obj_new_locked(K_TEE_SHM, st.st_dev, st.st_ino); /* another process's shared memory: no id here */
	} else if (!strcmp(name, SMAF_MEMFD_BUFFER)) {
		o = g_zero_copy ? identify_locked(fd, &st) : copy_recognise_locked(fd, &st);
	}
	errno = saved;
	return o;
}

struct object *buffer_locked(int fd)
{
	struct object *o = lookup_locked(fd);
	if (!o || o->kind != K_BUFFER) {
		errno = EBADF;
		return NULL;
	}
	if (o->dfd >= 0)
		return o;
	if (g_zero_copy) {
		/* a child of fork: the parent's handle belongs to the parent's connection */
		struct smaf_identify_out out;
		int res = identify_rpc_locked(fd, &out);
		if (res < 0) {
			errno = res == -EINVAL ? EBADF : -res;
			return NULL;
		}
		o->dfd = res;
		return o;
	}
	int r = copy_import_locked(o);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	return o;
}

bool still_open(const struct object *o)
{
	int d = real_open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return true; /* cannot tell: keep it */
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

int32_t dmabuf_daemon_fd_locked(int fd)
{
	if (!fd_maybe(fd))
		return -1;
	struct object *o = buffer_locked(fd);
	return o ? o->dfd : -1;
}

void fdtable_forget_connection(void)
{
	for (int i = 0; i < g_nobj; i++) {
		g_obj[i].dfd = -1;
		g_obj[i].map_id = -1;
		g_obj[i].tee_ctx = 0; /* contexts and shared memory belonged to the old connection */
		g_obj[i].shm_id = 0;
	}
}

/* After fork, in the child: its own connection; daemon fds and mappings of smafd belong to the parent's. */
void fdtable_after_fork_child(void)
{
	pthread_mutex_init(&g_lock, NULL);
	fdtable_forget_connection();
}
