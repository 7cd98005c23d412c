/*
 * /dev/tee0: the TEE subsystem's uapi (linux/tee.h, drivers/tee/tee_core.c) plus OP-TEE's
 * TEE_IOC_SHM_REGISTER_FD, on smafd's TEE ops (docs/tee.md), so that an unmodified libteec reaches
 * the emulated secure world.
 *
 * - The /dev/tee0 fd is a TEE context of this process's connection (TEE_OPEN; TEE_CLOSE with its
 *   last fd). Shared memory fds: TEE_IOC_SHM_ALLOC's is a memfd the program maps; REGISTER's (user
 *   memory) and REGISTER_FD's (a dma-buf, which smafd references itself) are placeholders that
 *   cannot be mapped. A shm is released (TEE_SHM_RELEASE) when its last fd and mapping are gone.
 * - OPEN_SESSION and INVOKE are checked as tee_ioctl_open_session/tee_ioctl_invoke check them
 *   (buffer size, EFAULT); the bytes of normal-world memrefs travel with the request and the
 *   outputs come back into the program's memory; results are copied out as params_to_user does.
 * - A child of fork starts without the parent's contexts and shared memory (they belong to the
 *   parent's connection): its /dev/tee0 fd gets a new context at first use.
 */
#include "preload.h"

#include <fcntl.h>
#include <linux/tee.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef TEE_IOC_SHM_REGISTER_FD
/* OP-TEE's (optee_client's linux/tee.h); not every linux-libc-dev has it */
struct tee_ioctl_shm_register_fd_data {
	__s64 fd;
	__u64 size;
	__u32 flags;
	__s32 id;
} __attribute__((aligned(8)));
#endif

_Static_assert(sizeof(struct tee_ioctl_open_session_arg) == SMAF_TEE_OPEN_SESSION_ARG, "open session arg");
_Static_assert(sizeof(struct tee_ioctl_invoke_arg) == SMAF_TEE_INVOKE_ARG, "invoke arg");
_Static_assert(sizeof(struct tee_ioctl_param) == sizeof(struct smaf_tee_param), "tee_ioctl_param");
_Static_assert(sizeof(struct tee_ioctl_shm_register_fd_data) == _IOC_SIZE(SMAF_TEE_IOC_SHM_REGISTER_FD), "register fd data");

/* The context of a /dev/tee0 object on this connection (TEE_OPEN at first use). Lock held. */
static int context_locked(struct object *o)
{
	if (o->tee_ctx > 0)
		return 0;
	int r = rpc_simple_locked(SMAF_OP_TEE_OPEN, SMAF_WIRE_DEVICE_FD, NULL, 0, NULL, 0);
	if (r < 0)
		return r;
	o->tee_ctx = (uint32_t)r;
	return 0;
}

int tee_open(int flags)
{
	lock();
	int fd = memfd_create(SMAF_MEMFD_TEE, (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
	int e = errno;
	struct stat st;
	struct object *o = fd >= 0 && real_fstat(fd, &st) == 0 ? obj_new_locked(K_TEE, st.st_dev, st.st_ino) : NULL;
	int r = o ? context_locked(o) : fd >= 0 ? -EMFILE : -e;
	if (r < 0) {
		if (o)
			o->kind = K_FREE;
		if (fd >= 0)
			real_close(fd);
		unlock();
		debug("open(/dev/tee0): %s", strerror(-r));
		return fail(-r == ENXIO ? ENOENT : -r);
	}
	fd_mark(fd);
	debug("open(/dev/tee0) = %d, TEE context %u", fd, o->tee_ctx);
	unlock();
	return fd;
}

/* A shm fd: a memfd (ALLOC: of its size, the program maps it; otherwise empty). Lock held. */
static int shm_fd_locked(struct object *tee, int id, uint64_t size, enum shm_kind kind, struct object **out)
{
	int fd = memfd_create(SMAF_MEMFD_TEE_SHM, MFD_CLOEXEC); /* tee_shm_get_fd: O_CLOEXEC */
	struct stat st;
	if (fd < 0)
		return -errno;
	if ((kind == SHM_ALLOC && ftruncate(fd, (off_t)size) != 0) || real_fstat(fd, &st) != 0) {
		real_close(fd);
		return -ENOMEM;
	}
	struct object *o = obj_new_locked(K_TEE_SHM, st.st_dev, st.st_ino);
	if (!o) {
		real_close(fd);
		return -EMFILE;
	}
	o->tee_ctx = tee->tee_ctx;
	o->shm_id = id;
	o->shm_kind = kind;
	o->length = size;
	if (kind == SHM_ALLOC && size > 0) {
		/* the library's own view: the bytes that travel with a call */
		void *v = real_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		o->shadow = v == MAP_FAILED ? NULL : v;
	}
	fd_mark(fd);
	*out = o;
	return fd;
}

static void release_shm_locked(struct object *o)
{
	if (o->shm_id > 0 && o->tee_ctx > 0) {
		struct smaf_tee_shm_release_in in = { .shm = (uint32_t)o->shm_id };
		rpc_simple_locked(SMAF_OP_TEE_SHM_RELEASE, SMAF_WIRE_DEVICE_FD, &in, sizeof in, NULL, 0);
	}
	if (o->shadow)
		real_munmap(o->shadow, o->length);
	o->shadow = NULL;
	o->kind = K_FREE;
}

void tee_after_close_locked(struct object *o)
{
	if (rpc_foreign() || still_open(o))
		return;
	if (o->kind == K_TEE) {
		if (o->tee_ctx > 0) {
			struct smaf_tee_ctx_in in = { .ctx = o->tee_ctx };
			rpc_simple_locked(SMAF_OP_TEE_CLOSE, SMAF_WIRE_DEVICE_FD, &in, sizeof in, NULL, 0);
		}
		o->kind = K_FREE;
	} else if (o->kind == K_TEE_SHM && o->nmaps == 0) {
		release_shm_locked(o);
	}
}

void *tee_shm_mmap_locked(struct object *o, int fd, void *addr, size_t len, int prot, int flags, off64_t off, int *err)
{
	*err = 0;
	/* tee_shm_fop_mmap: only memory the TEE allocated can be mapped (not registered memory) */
	if (o->shm_kind != SHM_ALLOC || o->shm_id <= 0 || len == 0 || off < 0 || (uint64_t)off + len > o->length) {
		*err = EINVAL;
		return MAP_FAILED;
	}
	if (g_nmap >= MAX_MAPPINGS) {
		*err = ENOMEM;
		return MAP_FAILED;
	}
	void *p = real_mmap64(addr, len, prot, flags, fd, off);
	if (p == MAP_FAILED) {
		*err = errno;
		return p;
	}
	g_map[g_nmap++] = (struct mapping){ (uintptr_t)p, len, (uint64_t)off, prot, flags, o };
	o->nmaps++;
	return p;
}

void tee_shm_unmapped_locked(struct object *o)
{
	if (!still_open(o))
		release_shm_locked(o);
}

/* The shm object of an id in this process, or NULL. Lock held. */
static struct object *shm_by_id_locked(uint32_t ctx, uint64_t id)
{
	for (struct object *o = obj_first_locked(K_TEE_SHM); o; o = obj_next_locked(o, K_TEE_SHM))
		if (o->tee_ctx == ctx && (uint64_t)o->shm_id == id)
			return o;
	return NULL;
}

static int version_locked(struct object *tee, void *arg)
{
	struct smaf_tee_ctx_in in = { .ctx = tee->tee_ctx };
	struct smaf_tee_version_out out;
	int r = rpc_simple_locked(SMAF_OP_TEE_VERSION, SMAF_WIRE_DEVICE_FD, &in, sizeof in, &out, sizeof out);
	if (r < 0)
		return fail(-r);
	struct tee_ioctl_version_data v = { .impl_id = out.impl_id, .impl_caps = out.impl_caps, .gen_caps = out.gen_caps };
	return copy_to_user(arg, &v, sizeof v);
}

/* The three ways to make shared memory: the reply is copied out and the shm fd is the result. */
static int shm_reply_locked(struct object *tee, int r, const struct smaf_tee_shm_out *out, enum shm_kind kind, uintptr_t addr, const void *kdata, void *arg, size_t argsz)
{
	if (r < 0)
		return fail(-r);
	struct object *o = NULL;
	int fd = shm_fd_locked(tee, r, out->size, kind, &o);
	if (fd < 0) {
		struct smaf_tee_shm_release_in in = { .shm = (uint32_t)r };
		rpc_simple_locked(SMAF_OP_TEE_SHM_RELEASE, SMAF_WIRE_DEVICE_FD, &in, sizeof in, NULL, 0);
		return fail(-fd);
	}
	o->shm_addr = addr;
	/* every data struct ends with { ..., __u32 flags; __s32 id; } after its size or length */
	uint8_t data[32];
	memcpy(data, kdata, argsz); /* read already, in full */
	uint32_t flags = out->flags;
	int32_t id = (int32_t)r;
	size_t tail = argsz - 8;
	memcpy(data + tail - 8, &out->size, 8); /* size, or REGISTER's length */
	memcpy(data + tail, &flags, 4);
	memcpy(data + tail + 4, &id, 4);
	if (copy_to_user(arg, data, argsz) < 0) {
		real_close(fd);
		return -1;
	}
	debug("TEE shm %d: %llu bytes as fd %d", id, (unsigned long long)out->size, fd);
	return fd;
}

static int shm_alloc_locked(struct object *tee, void *arg)
{
	struct tee_ioctl_shm_alloc_data d;
	if (copy_from_user(&d, arg, sizeof d) < 0)
		return -1;
	struct smaf_tee_shm_alloc_in in = { .ctx = tee->tee_ctx, .flags = d.flags, .size = d.size };
	struct smaf_tee_shm_out out;
	int r = rpc_simple_locked(SMAF_OP_TEE_SHM_ALLOC, SMAF_WIRE_DEVICE_FD, &in, sizeof in, &out, sizeof out);
	return shm_reply_locked(tee, r, &out, SHM_ALLOC, 0, &d, arg, sizeof d);
}

/* Whether [addr, addr+len) is mapped memory of this process (as get_user_pages would pin it). */
static bool user_range_ok(uintptr_t addr, uint64_t len)
{
	if (len == 0 || addr + len < addr)
		return len == 0;
	uintptr_t start = addr & ~(uintptr_t)(PAGE - 1);
	size_t span = (size_t)((addr + len + PAGE - 1) & ~(uintptr_t)(PAGE - 1)) - start;
	unsigned char vec[256];
	for (size_t off = 0; off < span; off += sizeof vec * PAGE) {
		size_t n = span - off < sizeof vec * PAGE ? span - off : sizeof vec * PAGE;
		if (mincore((void *)(start + off), n, vec) != 0)
			return false;
	}
	return true;
}

static int shm_register_locked(struct object *tee, void *arg)
{
	struct tee_ioctl_shm_register_data d;
	if (copy_from_user(&d, arg, sizeof d) < 0)
		return -1;
	if (!user_range_ok((uintptr_t)d.addr, d.length))
		return fail(EFAULT);
	struct smaf_tee_shm_register_in in = { .ctx = tee->tee_ctx, .flags = d.flags, .addr = d.addr, .length = d.length };
	struct smaf_tee_shm_out out;
	int r = rpc_simple_locked(SMAF_OP_TEE_SHM_REGISTER, SMAF_WIRE_DEVICE_FD, &in, sizeof in, &out, sizeof out);
	return shm_reply_locked(tee, r, &out, SHM_REGISTER, (uintptr_t)d.addr, &d, arg, sizeof d);
}

static int shm_register_fd_locked(struct object *tee, void *arg)
{
	struct tee_ioctl_shm_register_fd_data d;
	if (copy_from_user(&d, arg, sizeof d) < 0)
		return -1;
	int32_t dfd = d.fd >= 0 && d.fd <= INT32_MAX ? dmabuf_daemon_fd_locked((int)d.fd) : -1;
	if (dfd < 0)
		return fail(EINVAL); /* not a dma-buf: dma_buf_get fails */
	struct smaf_tee_shm_register_fd_in in = { .ctx = tee->tee_ctx, .flags = d.flags };
	struct smaf_tee_shm_out out;
	int r = rpc_simple_locked(SMAF_OP_TEE_SHM_REGISTER_FD, dfd, &in, sizeof in, &out, sizeof out);
	return shm_reply_locked(tee, r, &out, SHM_DMABUF, 0, &d, arg, sizeof d);
}

/* A normal-world memref whose bytes travel with the call. */
struct travelling {
	struct object *shm;
	uint64_t off, len;
	bool out;
};

/* The request after its header: the parameters, then the travelling bytes (EFAULT from user memory). */
static int pack_locked(uint8_t *req, size_t head, const struct tee_ioctl_param *params, uint32_t num, const struct travelling *t, int nt)
{
	memcpy(req + head, params, num * sizeof *params);
	size_t at = head + num * sizeof *params;
	for (int i = 0; i < nt; i++) {
		if (t[i].shm->shm_kind == SHM_ALLOC) {
			if (!t[i].shm->shadow)
				return fail(ENOMEM);
			memcpy(req + at, (uint8_t *)t[i].shm->shadow + t[i].off, t[i].len);
		} else if (copy_from_user(req + at, (void *)(t[i].shm->shm_addr + t[i].off), t[i].len) < 0) {
			return -1;
		}
		at += t[i].len;
	}
	return 0;
}

/* The outputs back into the program's memory, and the answer into its arg struct (params_to_user). */
static int unpack_locked(uint8_t *karg, bool open, struct tee_ioctl_param *params, uint32_t num, const uint8_t *reply, size_t len, const struct travelling *t, int nt)
{
	struct smaf_tee_call_out co;
	if (len < sizeof co)
		return fail(EIO);
	memcpy(&co, reply, sizeof co);
	size_t at = sizeof co + (size_t)co.num_params * sizeof *params;
	if (co.num_params != num || at > len)
		return fail(EIO);
	const struct tee_ioctl_param *back = (const void *)(reply + sizeof co);
	for (uint32_t i = 0; i < num; i++) {
		uint64_t type = params[i].attr & TEE_IOCTL_PARAM_ATTR_TYPE_MASK;
		if (type == TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_OUTPUT || type == TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INOUT) {
			params[i].a = back[i].a;
			params[i].b = back[i].b;
			params[i].c = back[i].c;
		} else if (type == TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_OUTPUT || type == TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT) {
			params[i].b = back[i].b;
		}
	}
	for (int i = 0; i < nt; i++) {
		if (!t[i].out)
			continue;
		if (at + t[i].len > len)
			return fail(EIO);
		if (t[i].shm->shm_kind == SHM_ALLOC)
			memcpy((uint8_t *)t[i].shm->shadow + t[i].off, reply + at, t[i].len);
		else if (copy_to_user((void *)(t[i].shm->shm_addr + t[i].off), reply + at, t[i].len) < 0)
			return -1;
		at += t[i].len;
	}
	if (open) {
		struct tee_ioctl_open_session_arg *a = (void *)karg;
		a->session = co.session;
		a->ret = co.ret;
		a->ret_origin = co.ret_origin;
	} else {
		struct tee_ioctl_invoke_arg *a = (void *)karg;
		a->ret = co.ret;
		a->ret_origin = co.ret_origin;
	}
	return 0;
}

/* TEE_IOC_OPEN_SESSION and TEE_IOC_INVOKE, as tee_ioctl_open_session / tee_ioctl_invoke take them. */
static int call_locked(struct object *tee, bool open, void *uarg)
{
	struct tee_ioctl_buf_data bd;
	if (copy_from_user(&bd, uarg, sizeof bd) < 0)
		return -1;
	size_t argsz = open ? sizeof(struct tee_ioctl_open_session_arg) : sizeof(struct tee_ioctl_invoke_arg);
	if (bd.buf_len > SMAF_TEE_MAX_ARG_SIZE || bd.buf_len < argsz)
		return fail(EINVAL);
	uint8_t karg[SMAF_TEE_MAX_ARG_SIZE];
	void *u = (void *)(uintptr_t)bd.buf_ptr;
	if (copy_from_user(karg, u, bd.buf_len) < 0)
		return -1;
	uint32_t num = open ? ((struct tee_ioctl_open_session_arg *)karg)->num_params : ((struct tee_ioctl_invoke_arg *)karg)->num_params;
	if (argsz + (size_t)num * sizeof(struct tee_ioctl_param) != bd.buf_len)
		return fail(EINVAL);
	struct tee_ioctl_param *params = (struct tee_ioctl_param *)(karg + argsz);
	struct travelling t[SMAF_TEE_MAX_ARG_SIZE / sizeof(struct tee_ioctl_param)];
	int nt = 0;
	size_t travel = 0;
	for (uint32_t i = 0; i < num; i++) {
		uint64_t type = params[i].attr & TEE_IOCTL_PARAM_ATTR_TYPE_MASK;
		if (type < TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT || type > TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT || params[i].c == SMAF_TEE_MEMREF_NULL)
			continue;
		struct object *shm = shm_by_id_locked(tee->tee_ctx, params[i].c);
		uint64_t a = params[i].a, b = params[i].b;
		/* out of bounds: nothing travels, smafd answers EINVAL at that parameter */
		if (!shm || shm->shm_kind == SHM_DMABUF || a + b < a || a + b > shm->length)
			continue;
		t[nt++] = (struct travelling){ shm, a, b, type != TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT };
		travel += b;
	}
	size_t head = open ? sizeof(struct smaf_tee_open_session_in) : sizeof(struct smaf_tee_invoke_in);
	size_t total = head + num * sizeof *params + travel;
	if (travel > SMAF_WIRE_MAX_FRAME || total > SMAF_WIRE_MAX_FRAME - SMAF_WIRE_REQUEST_HEADER)
		return fail(ENOMEM);
	uint8_t *req = real_mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t cap = sizeof(struct smaf_tee_call_out) + num * sizeof *params + travel;
	uint8_t *reply = real_mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (req == MAP_FAILED || reply == MAP_FAILED) {
		if (req != MAP_FAILED)
			real_munmap(req, total);
		return fail(ENOMEM);
	}
	if (open) {
		struct tee_ioctl_open_session_arg *a = (void *)karg;
		struct smaf_tee_open_session_in h = { .ctx = tee->tee_ctx, .clnt_login = a->clnt_login, .cancel_id = a->cancel_id, .num_params = num };
		memcpy(h.uuid, a->uuid, sizeof h.uuid);
		memcpy(h.clnt_uuid, a->clnt_uuid, sizeof h.clnt_uuid);
		memcpy(req, &h, sizeof h);
	} else {
		struct tee_ioctl_invoke_arg *a = (void *)karg;
		struct smaf_tee_invoke_in h = { .ctx = tee->tee_ctx, .session = a->session, .func = a->func, .cancel_id = a->cancel_id, .num_params = num };
		memcpy(req, &h, sizeof h);
	}
	int r = pack_locked(req, head, params, num, t, nt);
	if (r == 0) {
		struct rpc c = RPC(open ? SMAF_OP_TEE_OPEN_SESSION : SMAF_OP_TEE_INVOKE, SMAF_WIRE_DEVICE_FD);
		c.in = req;
		c.in_len = total;
		c.out = reply;
		c.out_cap = cap;
		int res = rpc_locked(&c);
		if (c.recv_file >= 0)
			real_close(c.recv_file);
		r = res < 0 ? fail(-res) : unpack_locked(karg, open, params, num, reply, c.out_len, t, nt);
		if (r == 0 && copy_to_user(u, karg, bd.buf_len) < 0)
			r = -1;
	}
	int e = errno;
	real_munmap(req, total);
	real_munmap(reply, cap);
	errno = e;
	return r;
}

int tee_ioctl_locked(struct object *tee, unsigned long cmd, void *arg)
{
	int r = context_locked(tee);
	if (r < 0)
		return fail(-r);
	switch ((uint32_t)cmd) {
	case SMAF_TEE_IOC_VERSION:
		return version_locked(tee, arg);
	case SMAF_TEE_IOC_SHM_ALLOC:
		return shm_alloc_locked(tee, arg);
	case SMAF_TEE_IOC_SHM_REGISTER:
		return shm_register_locked(tee, arg);
	case SMAF_TEE_IOC_SHM_REGISTER_FD:
		return shm_register_fd_locked(tee, arg);
	case SMAF_TEE_IOC_OPEN_SESSION:
		return call_locked(tee, true, arg);
	case SMAF_TEE_IOC_INVOKE:
		return call_locked(tee, false, arg);
	case SMAF_TEE_IOC_CLOSE_SESSION: {
		struct tee_ioctl_close_session_arg a;
		if (copy_from_user(&a, arg, sizeof a) < 0)
			return -1;
		struct smaf_tee_close_session_in in = { .ctx = tee->tee_ctx, .session = a.session };
		r = rpc_simple_locked(SMAF_OP_TEE_CLOSE_SESSION, SMAF_WIRE_DEVICE_FD, &in, sizeof in, NULL, 0);
		return r < 0 ? fail(-r) : 0;
	}
	case SMAF_TEE_IOC_CANCEL: {
		struct tee_ioctl_cancel_arg a;
		if (copy_from_user(&a, arg, sizeof a) < 0)
			return -1;
		struct smaf_tee_cancel_in in = { .ctx = tee->tee_ctx, .session = a.session, .cancel_id = a.cancel_id };
		r = rpc_simple_locked(SMAF_OP_TEE_CANCEL, SMAF_WIRE_DEVICE_FD, &in, sizeof in, NULL, 0);
		return r < 0 ? fail(-r) : 0;
	}
	default:
		return fail(EINVAL); /* tee_ioctl: anything else (SUPPL_RECV/SEND of a client context too) */
	}
}
