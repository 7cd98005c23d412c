/*
 * Copy mode: when smafd has no addon (no C compiler where it runs, or --no-zero-copy), it cannot
 * share memory with a program. A dma-buf is then a sealed memfd of the library's own, of the
 * buffer's length plus a token page (struct smaf_token_page: the buffer's export token, so that
 * another process holding the fd can import it), and bytes move between it and the emulated
 * memory at the points where the kernel's dma-buf rules make the CPU's and the devices' views
 * agree (docs/c-programs.md, "Copy mode"): first mmap, SYNC START (in), SYNC END with WRITE, msync
 * and munmap of a writable shared mapping, and a normal exit (out).
 *
 * A process's reference is its strong daemon fd, dropped when its last fd and mapping go (close
 * is noted without the lock, so that it is safe in a signal handler, and handled at the next call
 * that takes it).
 */
#include "preload.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define IO_CHUNK (8u * 1024u * 1024u)

/* A memfd of copy mode is a dma-buf only if its token page is ours, its length adds up and its
 * seals keep it that size (a forged, unsealed memfd could be truncated under a mapping: SIGBUS). */
struct object *copy_recognise_locked(int fd, const struct stat *st)
{
	struct smaf_token_page tp;
	int seals = real_fcntl(fd, F_GET_SEALS);
	bool sealed = seals >= 0 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) == (F_SEAL_SHRINK | F_SEAL_GROW);
	bool ok = sealed && st->st_size >= (off_t)SMAF_TOKEN_PAGE &&
		  real_pread(fd, &tp, sizeof tp, st->st_size - (off_t)SMAF_TOKEN_PAGE) == (ssize_t)sizeof tp &&
		  memcmp(tp.magic, SMAF_TOKEN_MAGIC, 8) == 0 && tp.length + SMAF_TOKEN_PAGE == (uint64_t)st->st_size;
	struct object *o = obj_new_locked(ok ? K_BUFFER : K_FORGED, st->st_dev, st->st_ino);
	if (!o || !ok) {
		debug("fd %d: named like a dma-buf, but %s: not a dma-buf", fd, sealed ? "its token page is not ours" : "it is not sealed");
		return o;
	}
	o->length = tp.length;
	memcpy(o->token, tp.token, SMAF_TOKEN_LEN);
	debug("fd %d: a dma-buf this process had not seen (%llu bytes)", fd, (unsigned long long)o->length);
	return o;
}

/* The process's own reference: IMPORT of the token, then smafd confirms the length. Lock held. */
int copy_import_locked(struct object *o)
{
	if (o->dfd >= 0)
		return 0;
	int r = rpc_simple_locked(SMAF_OP_IMPORT, SMAF_WIRE_DEVICE_FD, o->token, SMAF_TOKEN_LEN, NULL, 0);
	if (r < 0)
		return r;
	struct smaf_stat_out st;
	int s = rpc_simple_locked(SMAF_OP_STAT, r, NULL, 0, &st, sizeof st);
	if (s < 0 || st.size != o->length) {
		rpc_simple_locked(SMAF_OP_CLOSE, r, NULL, 0, NULL, 0);
		o->kind = K_FORGED;
		return -EBADF;
	}
	o->dfd = r;
	return 0;
}

int copy_adopt_locked(int32_t dfd, bool cloexec, struct object **out)
{
	struct smaf_stat_out st;
	uint8_t token[SMAF_TOKEN_LEN];
	int r = rpc_simple_locked(SMAF_OP_STAT, dfd, NULL, 0, &st, sizeof st);
	if (r >= 0)
		r = rpc_simple_locked(SMAF_OP_EXPORT, dfd, NULL, 0, token, sizeof token);
	int fd = -1;
	if (r >= 0 && (fd = memfd_create(SMAF_MEMFD_BUFFER, MFD_ALLOW_SEALING | (cloexec ? MFD_CLOEXEC : 0))) < 0)
		r = -errno;
	struct stat fs;
	if (r >= 0 && (ftruncate(fd, (off_t)(st.size + SMAF_TOKEN_PAGE)) != 0 || real_fstat(fd, &fs) != 0))
		r = -errno;
	if (r >= 0) {
		struct smaf_token_page tp = { .length = st.size };
		memcpy(tp.magic, SMAF_TOKEN_MAGIC, 8);
		memcpy(tp.token, token, SMAF_TOKEN_LEN);
		if (real_pwrite(fd, &tp, sizeof tp, (off_t)st.size) != (ssize_t)sizeof tp)
			r = -EIO;
		else if (real_fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
			r = -errno;
	}
	struct object *o = NULL;
	if (r >= 0 && !(o = obj_new_locked(K_BUFFER, fs.st_dev, fs.st_ino)))
		r = -EMFILE;
	if (r < 0) {
		if (fd >= 0)
			real_close(fd);
		rpc_simple_locked(SMAF_OP_CLOSE, dfd, NULL, 0, NULL, 0);
		return r;
	}
	o->dfd = dfd;
	o->length = st.size;
	memcpy(o->token, token, SMAF_TOKEN_LEN);
	fd_mark(fd);
	*out = o;
	debug("new dma-buf fd %d (copy mode): %llu bytes, daemon fd %d", fd, (unsigned long long)st.size, dfd);
	return fd;
}

/* Move [off, off+len) between the memfd and the emulated memory: READ in (daemon -> CPU), WRITE out. */
static int transfer_locked(struct object *o, uint32_t op, uint64_t off, uint64_t len)
{
	for (uint64_t done = 0; done < len;) {
		uint32_t n = (uint32_t)(len - done < IO_CHUNK ? len - done : IO_CHUNK);
		uint64_t at = off + done;
		char *bytes = (char *)o->shadow + at;
		int r;
		if (op == SMAF_OP_READ) {
			struct smaf_read_in req = { .mapping = (uint32_t)o->map_id, .offset = at, .length = n };
			struct rpc c = RPC(op, o->dfd);
			c.in = &req;
			c.in_len = sizeof req;
			c.out = bytes;
			c.out_cap = n;
			r = rpc_locked(&c);
			if (r >= 0 && c.out_len != n)
				r = -EIO;
		} else {
			struct smaf_write_in req = { .mapping = (uint32_t)o->map_id, .offset = at };
			struct rpc c = RPC(op, o->dfd);
			c.in = &req;
			c.in_len = sizeof req;
			c.in2 = bytes;
			c.in2_len = n;
			r = rpc_locked(&c);
		}
		if (r < 0)
			return r;
		done += n;
	}
	return 0;
}

static int32_t generation_locked(struct object *o)
{
	int r = rpc_simple_locked(SMAF_OP_GENERATION, o->dfd, NULL, 0, NULL, 0);
	return r < 0 ? -1 : r;
}

/* SYNC START: the memfd gets smafd's bytes, unless write-only and nothing wrote it through smafd. */
static int sync_in_locked(struct object *o, bool write_only)
{
	int32_t g = generation_locked(o);
	if (write_only && g >= 0 && g == o->gen_seen)
		return 0;
	int r = transfer_locked(o, SMAF_OP_READ, 0, o->length);
	o->gen_seen = r == 0 ? g : -1;
	return r;
}

static int sync_out_locked(struct object *o, uint64_t off, uint64_t len, bool whole)
{
	int32_t g0 = whole ? generation_locked(o) : -1;
	int r = transfer_locked(o, SMAF_OP_WRITE, off, len);
	uint32_t chunks = (uint32_t)((len + IO_CHUNK - 1) / IO_CHUNK);
	int32_t g1 = whole && r == 0 ? generation_locked(o) : -1;
	o->gen_seen = g0 >= 0 && g1 >= 0 && g1 == (int32_t)(((uint32_t)g0 + chunks) & 0x7fffffff) ? g1 : -1;
	return r;
}

static int daemon_map_locked(struct object *o)
{
	if (o->map_id >= 0)
		return 0;
	int r = copy_import_locked(o);
	if (r < 0)
		return r;
	struct smaf_mmap_in req = { .offset = 0, .length = o->length, .prot = SMAF_PROT_READ | SMAF_PROT_WRITE };
	r = rpc_simple_locked(SMAF_OP_MMAP, o->dfd, &req, sizeof req, NULL, 0);
	if (r < 0)
		return r;
	o->map_id = r;
	return 0;
}

int copy_cpu_map_locked(struct object *o, int fd)
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
	void *tb = real_mmap(NULL, SMAF_TOKEN_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)o->length);
	if (tb == MAP_FAILED)
		return -errno;
	struct smaf_token_page *tp = tb;
	if (!tp->cpu_live) {
		r = sync_in_locked(o, false);
		if (r == 0)
			tp->cpu_live = 1;
	}
	real_munmap(tb, SMAF_TOKEN_PAGE);
	return r;
}

void copy_cpu_unmap_locked(struct object *o)
{
	if (o->map_id < 0 || o->dfd < 0)
		return;
	struct smaf_mapping_in req = { .mapping = (uint32_t)o->map_id };
	rpc_simple_locked(SMAF_OP_MUNMAP, o->dfd, &req, sizeof req, NULL, 0);
	o->map_id = -1;
}

int copy_sync_locked(struct object *o, uint64_t flags)
{
	int r = copy_import_locked(o);
	if (r < 0)
		return r;
	bool end = flags & SMAF_DMA_BUF_SYNC_END;
	bool cpu_view = o->nmaps > 0 && o->shadow;
	if (cpu_view && (r = daemon_map_locked(o)) < 0)
		return r;
	if (end && (flags & SMAF_DMA_BUF_SYNC_WRITE) && cpu_view && !(flags & ~7ull) && (r = sync_out_locked(o, 0, o->length, true)) < 0)
		return r;
	r = rpc_simple_locked(SMAF_DMA_BUF_IOCTL_SYNC, o->dfd, &flags, sizeof flags, NULL, 0);
	if (r < 0)
		return r;
	if (!end && cpu_view && (r = sync_in_locked(o, !(flags & SMAF_DMA_BUF_SYNC_READ))) < 0)
		return r;
	return 0;
}

int copy_flush_range_locked(uintptr_t a, size_t len)
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

void copy_release_locked(struct object *o)
{
	copy_cpu_unmap_locked(o);
	if (o->shadow)
		real_munmap(o->shadow, o->length);
	o->shadow = NULL;
	if (o->dfd >= 0) {
		rpc_simple_locked(SMAF_OP_CLOSE, o->dfd, NULL, 0, NULL, 0);
		debug("last fd and mapping gone: daemon fd %d closed", o->dfd);
	}
	o->dfd = -1;
	o->kind = K_FREE;
}

void copy_after_close_locked(struct object *o)
{
	if (rpc_foreign() || o->kind != K_BUFFER)
		return;
	if (o->nmaps == 0 && !still_open(o))
		copy_release_locked(o);
}

void copy_fix_size(int fd, struct stat *st)
{
	if (g_zero_copy || !S_ISREG(st->st_mode) || st->st_dev != g_memfd_dev || st->st_size < (off_t)SMAF_TOKEN_PAGE)
		return;
	int saved = errno;
	int seals = real_fcntl(fd, F_GET_SEALS);
	struct smaf_token_page tp;
	if (seals >= 0 && (seals & F_SEAL_SHRINK) && real_pread(fd, &tp, sizeof tp, st->st_size - (off_t)SMAF_TOKEN_PAGE) == (ssize_t)sizeof tp &&
	    memcmp(tp.magic, SMAF_TOKEN_MAGIC, 8) == 0 && tp.length + SMAF_TOKEN_PAGE == (uint64_t)st->st_size)
		st->st_size = (off_t)tp.length;
	errno = saved;
}

/* A normal exit is an implicit munmap of every mapping: its writes reach the emulated memory. */
__attribute__((destructor)) static void flush_at_exit(void)
{
	if (g_zero_copy || !real_mmap || !trylock())
		return;
	copy_flush_range_locked(0, SIZE_MAX - PAGE);
	unlock();
}
