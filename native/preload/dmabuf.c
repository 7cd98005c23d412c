/*
 * dma-buf fds, as drivers/dma-buf/dma-buf.c answers for them: mmap (the range must lie inside the
 * buffer), ioctls (SYNC, SET_NAME, the sync-file ioctls; anything else ENOTTY), llseek (SEEK_END 0
 * and SEEK_SET 0 only), read and write (a dma-buf has neither: EINVAL, and ESPIPE for the
 * positional ones), F_GETFL (the access mode it was made with), and epoll (a dma-buf can be
 * polled; smafd's device work is complete when its request answers, so it polls ready at once).
 *
 * Zero-copy: the fd is a file smafd made and its pages are the buffer's memory, so a mapping needs
 * no copy, ever, and the kernel itself keeps the buffer alive while any fd, mapping or in-flight
 * message of it exists (smafd watches the file). smafd is told of each process's first mapping and
 * last unmapping (its CPU mapping: what SMAF's rules look at).
 * A SYNC is the kernel's cache maintenance, and a wait for the device work in its way: while this
 * process maps the buffer (smafd has checked and pinned it then) and nothing is in flight on it
 * (smafd holds no lock on its file's SMAF_BUSY_LOCK_OFFSET byte), there is nothing to maintain or
 * wait for, and the kernel says so in one fcntl; otherwise smafd answers it, after the wait.
 * Sync files (EXPORT_SYNC_FILE's) are pipes smafd made (the program holds the read end); their own
 * ioctls, SYNC_IOC_FILE_INFO and SYNC_IOC_MERGE, are smafd's to answer (sync_file_ioctl below).
 * Copy mode: copy-mode.c.
 */
#include "preload.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

/* epoll stand-ins: an always-ready eventfd per dma-buf fd registered with epoll (fd + 1; 0 none) */
static _Atomic int g_standin[FD_BITS];

static int access_mode(int fd)
{
	int fl = real_fcntl(fd, F_GETFL);
	return fl < 0 ? O_RDWR : fl & O_ACCMODE;
}

int dmabuf_adopt_locked(int32_t dfd, int access, bool cloexec)
{
	if (!g_zero_copy) {
		struct object *o;
		return copy_adopt_locked(dfd, cloexec, &o);
	}
	struct smaf_file_in in = { .access = (uint32_t)access };
	struct rpc r = RPC(SMAF_OP_FILE, dfd);
	r.in = &in;
	r.in_len = sizeof in;
	int res = rpc_locked(&r);
	struct stat st;
	if (res >= 0 && (r.recv_file < 0 || real_fstat(r.recv_file, &st) != 0))
		res = -EIO;
	struct object *o = NULL;
	if (res >= 0 && !(o = obj_find_locked(st.st_dev, st.st_ino)) && !(o = obj_new_locked(K_BUFFER, st.st_dev, st.st_ino)))
		res = -EMFILE;
	if (res < 0) {
		if (r.recv_file >= 0)
			real_close(r.recv_file);
		rpc_simple_locked(SMAF_OP_CLOSE, dfd, NULL, 0, NULL, 0); /* the reference goes (a handle answers EINVAL: harmless) */
		return res;
	}
	o->dfd = dfd; /* a handle now: the file holds the reference */
	o->length = (uint64_t)st.st_size;
	int fd = r.recv_file;
	if (!cloexec)
		real_fcntl(fd, F_SETFD, 0);
	fd_mark(fd);
	debug("new dma-buf fd %d: %llu bytes, handle %d", fd, (unsigned long long)o->length, dfd);
	return fd;
}

/* ---- ioctls ---------------------------------------------------------------------------------- */

/* Whether no device work is in flight on the buffer of fd: no lock on its busy byte (smafd's or anyone's) */
static bool idle(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)SMAF_BUSY_LOCK_OFFSET, .l_len = 1 };
	return real_fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type == F_UNLCK;
}

static int sync_ioctl_locked(struct object *o, int fd, void *arg)
{
	uint64_t flags;
	if (copy_from_user(&flags, arg, sizeof flags) < 0)
		return -1;
	if (!g_zero_copy) {
		int r = copy_sync_locked(o, flags);
		return r < 0 ? fail(-r) : 0;
	}
	bool end = (flags & SMAF_DMA_BUF_SYNC_END) != 0;
	bool valid = (flags & ~(uint64_t)SMAF_DMA_BUF_SYNC_VALID_FLAGS_MASK) == 0 && (flags & SMAF_DMA_BUF_SYNC_RW) != 0;
	if (valid && o->map_id >= 0 && (end ? o->sync_remote == 0 : idle(fd)))
		return 0;
	int r = rpc_simple_locked(SMAF_DMA_BUF_IOCTL_SYNC, o->dfd, &flags, sizeof flags, NULL, 0);
	if (r < 0)
		return fail(-r);
	if (!end)
		o->sync_remote++;
	else if (o->sync_remote > 0)
		o->sync_remote--;
	return 0;
}

static int set_name_locked(struct object *o, void *arg)
{
	struct smaf_set_name_in in = { 0 };
	long n = strncpy_from_user(in.name, arg, sizeof in.name);
	if (n < 0)
		return fail((int)-n);
	int r = rpc_simple_locked(SMAF_OP_SET_NAME, o->dfd, &in, sizeof in, NULL, 0);
	if (r < 0)
		return fail(-r);
	memcpy(o->name, in.name, sizeof o->name);
	return 0;
}

/* struct dma_buf_export_sync_file / dma_buf_import_sync_file: { __u32 flags; __s32 fd; } */
struct sync_file_arg {
	uint32_t flags;
	int32_t fd;
};

/* Run r, whose answer brings a file (a sync file, close-on-exec as get_unused_fd_flags(O_CLOEXEC)
 * gives): its fd goes into *slot of the struct `whole`, which goes back to the program at arg. 0, or
 * -1 with errno (the file closed again). Lock held. */
static int file_reply_locked(struct rpc *r, int32_t *slot, void *arg, const void *whole, size_t size)
{
	int res = rpc_locked(r);
	if (res >= 0 && r->recv_file < 0)
		res = -EIO;
	if (res < 0) {
		if (r->recv_file >= 0)
			real_close(r->recv_file);
		return fail(-res);
	}
	*slot = r->recv_file;
	if (copy_to_user(arg, whole, size) < 0) {
		real_close(r->recv_file);
		return -1;
	}
	return 0;
}

static int export_sync_file_locked(struct object *o, void *arg)
{
	struct sync_file_arg a;
	if (copy_from_user(&a, arg, sizeof a) < 0)
		return -1;
	if (!g_zero_copy)
		return fail(ENOTTY); /* copy mode has no sync files: as a kernel without CONFIG_SYNC_FILE */
	struct smaf_fence_in in = { .flags = a.flags };
	struct rpc r = RPC(SMAF_OP_EXPORT_FENCE, o->dfd);
	r.in = &in;
	r.in_len = sizeof in;
	return file_reply_locked(&r, &a.fd, arg, &a, sizeof a);
}

static int import_sync_file_locked(struct object *o, void *arg)
{
	struct sync_file_arg a;
	if (copy_from_user(&a, arg, sizeof a) < 0)
		return -1;
	if (!g_zero_copy)
		return fail(ENOTTY);
	if (a.fd < 0 || real_fcntl(a.fd, F_GETFD) < 0)
		return fail(EINVAL); /* sync_file_get_fence of a bad fd */
	struct smaf_fence_in in = { .flags = a.flags };
	struct rpc r = RPC(SMAF_OP_IMPORT_FENCE, o->dfd);
	r.in = &in;
	r.in_len = sizeof in;
	r.send_file = a.fd;
	int res = rpc_locked(&r);
	if (r.recv_file >= 0)
		real_close(r.recv_file);
	return res < 0 ? fail(-res) : 0;
}

int dmabuf_ioctl_locked(struct object *o, int fd, unsigned long cmd, void *arg)
{
	switch ((uint32_t)cmd) {
	case SMAF_DMA_BUF_IOCTL_SYNC:
		return sync_ioctl_locked(o, fd, arg);
	case SMAF_DMA_BUF_SET_NAME_A:
	case SMAF_DMA_BUF_SET_NAME_B:
		return set_name_locked(o, arg);
	case SMAF_DMA_BUF_IOCTL_EXPORT_SYNC_FILE:
		return export_sync_file_locked(o, arg);
	case SMAF_DMA_BUF_IOCTL_IMPORT_SYNC_FILE:
		return import_sync_file_locked(o, arg);
	default:
		return fail(ENOTTY);
	}
}

/* ---- mappings -------------------------------------------------------------------------------- */

/* smafd's CPU mapping of the buffer for this process (allocates; refusals come from smafd). Lock held. */
static int daemon_map_locked(struct object *o, int fd)
{
	if (o->map_id >= 0)
		return 0;
	struct smaf_mmap_in req = { .offset = 0, .length = o->length, .prot = SMAF_PROT_READ | (access_mode(fd) == O_RDONLY ? 0 : SMAF_PROT_WRITE) };
	int r = rpc_simple_locked(SMAF_OP_MMAP, o->dfd, &req, sizeof req, NULL, 0);
	if (r < 0)
		return r;
	o->map_id = r;
	return 0;
}

static void daemon_unmap_locked(struct object *o)
{
	if (o->map_id < 0 || o->dfd < 0)
		return;
	struct smaf_mapping_in req = { .mapping = (uint32_t)o->map_id };
	rpc_simple_locked(SMAF_OP_MUNMAP, o->dfd, &req, sizeof req, NULL, 0);
	o->map_id = -1;
}

void *dmabuf_mmap_locked(struct object *o, int fd, void *addr, size_t len, int prot, int flags, off64_t off, int *err)
{
	*err = 0;
	uint64_t pages = (len + PAGE - 1) / PAGE;
	/* dma_buf_mmap_internal: vm_pgoff + vma_pages > size >> PAGE_SHIFT is EINVAL */
	if (len == 0 || off < 0 || (off & (off64_t)(PAGE - 1)) || (uint64_t)off / PAGE + pages > o->length / PAGE) {
		*err = EINVAL;
		return MAP_FAILED;
	}
	if (g_nmap >= MAX_MAPPINGS) {
		*err = ENOMEM;
		return MAP_FAILED;
	}
	int r = g_zero_copy ? daemon_map_locked(o, fd) : copy_cpu_map_locked(o, fd);
	if (r < 0) {
		*err = -r;
		return MAP_FAILED;
	}
	void *p = real_mmap64(addr, len, prot, flags, fd, off);
	if (p == MAP_FAILED) {
		*err = errno;
		if (o->nmaps == 0)
			g_zero_copy ? daemon_unmap_locked(o) : copy_cpu_unmap_locked(o);
		return MAP_FAILED;
	}
	g_map[g_nmap++] = (struct mapping){ (uintptr_t)p, len, (uint64_t)off, prot, flags, o };
	o->nmaps++;
	return p;
}

/* The last mapping of a buffer in this process went: smafd's CPU mapping goes too. Lock held. */
static void last_unmap_locked(struct object *o)
{
	if (o->kind == K_TEE_SHM) {
		tee_shm_unmapped_locked(o);
		return;
	}
	if (g_zero_copy) {
		daemon_unmap_locked(o);
		return;
	}
	copy_cpu_unmap_locked(o);
	if (!still_open(o))
		copy_release_locked(o);
}

int dmabuf_munmap_locked(uintptr_t a, size_t len)
{
	if (!g_zero_copy)
		copy_flush_range_locked(a, len);
	int r = real_munmap((void *)a, len);
	int e = errno;
	if (r != 0)
		return fail(e);
	uintptr_t end = (a + len + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
	for (int i = 0; i < g_nmap;) {
		struct mapping *m = &g_map[i];
		uintptr_t mend = m->addr + ((m->len + PAGE - 1) & ~(PAGE - 1));
		if (a <= m->addr && end >= mend) { /* the whole mapping went */
			struct object *o = m->obj;
			g_map[i] = g_map[--g_nmap];
			if (--o->nmaps == 0)
				last_unmap_locked(o);
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
	return 0;
}

/* ---- the rest of a dma-buf's file operations ------------------------------------------------- */

bool dmabuf_lseek(int fd, off64_t off, int whence, off64_t *ret)
{
	if (!fd_maybe(fd))
		return false;
	lock();
	struct object *o = lookup_locked(fd);
	uint64_t len = o && o->kind == K_BUFFER ? o->length : 0;
	bool ours = o && o->kind == K_BUFFER;
	unlock();
	if (!ours)
		return false;
	/* dma_buf_llseek: SEEK_END 0 gives the size, SEEK_SET 0 rewinds, anything else is EINVAL */
	if (off != 0 || (whence != SEEK_END && whence != SEEK_SET))
		*ret = fail(EINVAL);
	else
		*ret = whence == SEEK_END ? (off64_t)len : 0;
	return true;
}

ssize_t dmabuf_rw(int fd, bool positional, bool writing, bool *handled)
{
	*handled = false;
	if (!fd_maybe(fd))
		return 0;
	lock();
	struct object *o = lookup_locked(fd);
	*handled = o && o->kind == K_BUFFER;
	unlock();
	if (!*handled)
		return 0;
	/* ksys_pread64 and friends: no FMODE_PREAD; vfs_read/vfs_write: FMODE_READ/WRITE, then no read/write op */
	if (positional)
		return fail(ESPIPE);
	int mode = access_mode(fd);
	if ((writing && mode == O_RDONLY) || (!writing && mode == O_WRONLY))
		return fail(EBADF);
	return fail(EINVAL);
}

int dmabuf_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev, bool *handled)
{
	*handled = false;
	if (!fd_maybe(fd) || fd >= FD_BITS)
		return 0;
	lock();
	struct object *o = lookup_locked(fd);
	bool ours = o && o->kind == K_BUFFER;
	unlock();
	if (!ours)
		return 0;
	*handled = true;
	int standin = atomic_load(&g_standin[fd]) - 1;
	if (standin < 0) {
		/* dma_buf_poll with no fence pending: EPOLLIN | EPOLLOUT at once; an eventfd at 1 is both */
		int e = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
		if (e < 0)
			return -1;
		int high = real_fcntl(e, F_DUPFD_CLOEXEC, 1000);
		if (high >= 0) {
			real_close(e);
			e = high;
		}
		int expected = 0;
		if (!atomic_compare_exchange_strong(&g_standin[fd], &expected, e + 1)) {
			real_close(e);
			e = expected - 1;
		}
		standin = e;
	}
	debug("epoll_ctl(%d, %d, dma-buf fd %d): stand-in %d", epfd, op, fd, standin);
	return real_epoll_ctl(epfd, op, standin, ev);
}

void dmabuf_closed(int fd)
{
	if (fd < 0 || fd >= FD_BITS)
		return;
	int standin = atomic_exchange(&g_standin[fd], 0) - 1;
	if (standin >= 0)
		real_close(standin); /* its epoll registrations go with it (nothing else holds that file) */
}

/* ---- sync files ------------------------------------------------------------------------------ */

/* Whether fd is a pipe: the only kind of file smafd makes sync files of. */
static bool is_pipe(int fd)
{
	char link[64], target[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = real_readlink(link, target, sizeof target - 1);
	if (n <= 0)
		return false;
	target[n] = 0;
	return strncmp(target, "pipe:[", 6) == 0;
}

/* FENCE_INFO's entries (the sync file, then its fences): the most smafd may hold in one. */
#define SYNC_ENTRIES (1 + 256)
static struct smaf_fence_part g_parts[SYNC_ENTRIES];
static struct smaf_sync_fence_info g_fence_info[SYNC_ENTRIES];

/* smafd's FENCE_INFO of fd: how many entries are in g_parts, or -errno (ENOTTY: no sync file). Lock held. */
static int fence_info_locked(int fd)
{
	struct rpc r = RPC(SMAF_OP_FENCE_INFO, SMAF_WIRE_DEVICE_FD);
	r.out = g_parts;
	r.out_cap = sizeof g_parts;
	r.send_file = fd;
	int res = rpc_locked(&r);
	if (r.recv_file >= 0)
		real_close(r.recv_file);
	if (res >= 0 && (res < 1 || r.out_len != (size_t)res * sizeof g_parts[0]))
		res = -EIO;
	return res;
}

/* SYNC_IOC_FILE_INFO, as sync_file_ioctl_fence_info answers it. Lock held. */
static int sync_file_info_locked(int fd, void *arg)
{
	struct smaf_sync_file_info info;
	if (copy_from_user(&info, arg, sizeof info) < 0)
		return -1;
	if (info.flags || info.pad)
		return fail(EINVAL);
	int n = fence_info_locked(fd);
	if (n < 0)
		return fail(-n);
	uint32_t fences = (uint32_t)n - 1;
	if (info.num_fences == 0) {
		info.status = g_parts[0].status; /* only the count: the state of the whole */
	} else {
		if (info.num_fences < fences)
			return fail(EINVAL);
		info.status = 1;
		memset(g_fence_info, 0, fences * sizeof g_fence_info[0]);
		for (uint32_t i = 0; i < fences; i++) {
			const struct smaf_fence_part *p = &g_parts[1 + i];
			struct smaf_sync_fence_info *o = &g_fence_info[i];
			memcpy(o->obj_name, p->name, sizeof o->obj_name);
			o->obj_name[sizeof o->obj_name - 1] = 0;
			snprintf(o->driver_name, sizeof o->driver_name, "smafd");
			o->status = p->status;
			o->timestamp_ns = p->timestamp_ns;
			if (info.status > 0)
				info.status = p->status;
		}
		if (copy_to_user((void *)(uintptr_t)info.sync_fence_info, g_fence_info, fences * sizeof g_fence_info[0]) < 0)
			return -1;
	}
	memcpy(info.name, g_parts[0].name, sizeof info.name);
	info.name[sizeof info.name - 1] = 0;
	info.num_fences = fences;
	return copy_to_user(arg, &info, sizeof info) < 0 ? -1 : 0;
}

/* SYNC_IOC_MERGE, as sync_file_ioctl_merge answers it. Lock held. */
static int sync_merge_locked(int fd, void *arg)
{
	struct smaf_sync_merge_data data;
	if (copy_from_user(&data, arg, sizeof data) < 0)
		return -1;
	if (data.flags || data.pad)
		return fail(EINVAL);
	if (data.fd2 < 0 || real_fcntl(data.fd2, F_GETFD) < 0 || !is_pipe(data.fd2))
		return fail(ENOENT); /* sync_file_fdget of fd2 */
	int n = fence_info_locked(fd); /* the first one's id on this connection */
	if (n < 0)
		return fail(-n);
	struct smaf_fence_merge_in in = { .fence = g_parts[0].id };
	memcpy(in.name, data.name, sizeof in.name);
	in.name[sizeof in.name - 1] = 0;
	struct rpc r = RPC(SMAF_OP_FENCE_MERGE, SMAF_WIRE_DEVICE_FD);
	r.in = &in;
	r.in_len = sizeof in;
	r.send_file = data.fd2;
	return file_reply_locked(&r, &data.fence, arg, &data, sizeof data);
}

/* SYNC_IOC_SET_DEADLINE (Linux 6.5): a hint smafd's devices have no use for; 0 for a sync file. */
static int sync_set_deadline_locked(int fd, void *arg)
{
	struct smaf_sync_set_deadline d;
	if (copy_from_user(&d, arg, sizeof d) < 0)
		return -1;
	if (d.pad)
		return fail(EINVAL);
	int n = fence_info_locked(fd);
	return n < 0 ? fail(-n) : 0;
}

bool sync_file_ioctl(int fd, unsigned long cmd, void *arg, int *ret)
{
	if ((cmd != SMAF_SYNC_IOC_FILE_INFO && cmd != SMAF_SYNC_IOC_MERGE && cmd != SMAF_SYNC_IOC_SET_DEADLINE) || !g_zero_copy || !is_pipe(fd))
		return false; /* the kernel's answer (ENOTTY) */
	lock();
	int r = cmd == SMAF_SYNC_IOC_FILE_INFO ? sync_file_info_locked(fd, arg)
		: cmd == SMAF_SYNC_IOC_MERGE  ? sync_merge_locked(fd, arg)
					      : sync_set_deadline_locked(fd, arg);
	int e = errno;
	debug("ioctl(%d, 0x%lx) = %d%s%s (sync file)", fd, cmd, r, r < 0 ? " " : "", r < 0 ? strerror(e) : "");
	unlock();
	errno = e;
	*ret = r;
	return true;
}
