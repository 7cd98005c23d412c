/*
 * /dev/tee0 under smaf exec, driven as libteec (optee_client 3.x/4.x) drives it, with the kernel's
 * uapi header: TEE_IOC_VERSION, TEE_IOC_SHM_ALLOC + mmap, TEE_IOC_SHM_REGISTER of user memory (what
 * libteec does for every temporary memref, REG_MEM being set), OP-TEE's TEE_IOC_SHM_REGISTER_FD,
 * TEE_IOC_OPEN_SESSION, TEE_IOC_INVOKE, TEE_IOC_CLOSE_SESSION; then the secure data path of OP-TEE's
 * sdp_basic test and of libsmaf's test: a secure buffer from the smaf-optee allocator (/dev/smaf)
 * and one from a protected dma-heap, each registered by fd and the fd closed, 1000 rounds of inject /
 * transform / dump at offsets 0..255 checked byte for byte; the normal world's mmap of the buffer
 * refused; out-of-bounds memrefs refused (EINVAL) before any TA runs.
 *
 * Usage: tee-sdp [ROUNDS] (run with smaf exec --heaps all).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/tee.h>

#include "../smaf-wire.h"
#include "check.h"

#ifndef TEE_IOC_SHM_REGISTER_FD
/* OP-TEE's (libteec's linux/tee.h); not every linux-libc-dev has it */
struct tee_ioctl_shm_register_fd_data {
	__s64 fd;
	__u64 size;
	__u32 flags;
	__s32 id;
} __attribute__((aligned(8)));
#define TEE_IOC_SHM_REGISTER_FD _IOWR(TEE_IOC_MAGIC, TEE_IOC_BASE + 8, struct tee_ioctl_shm_register_fd_data)
#endif

#define NUM_PARAMS 4 /* TEEC_CONFIG_PAYLOAD_REF_COUNT: libteec always sends four */
#define BUF_SIZE (16 * 1024)
#define TEEC_SUCCESS 0x00000000u
#define TEEC_ERROR_ITEM_NOT_FOUND 0xFFFF0008u
#define TEEC_ORIGIN_TEE 3u
#define TEEC_ORIGIN_TRUSTED_APP 4u

struct ta {
	const char *name;
	uint8_t uuid[TEE_IOCTL_UUID_LEN];
	uint32_t inject, transform, dump;
	int alloc_input; /* the input travels in TEE_IOC_SHM_ALLOC'd memory (else a registered temporary memref) */
};

/* uuid_to_octets of 12345678-5b69-11e4-9dbb-101f74f000XX */
#define SDP_UUID(last) { 0x12, 0x34, 0x56, 0x78, 0x5b, 0x69, 0x11, 0xe4, 0x9d, 0xbb, 0x10, 0x1f, 0x74, 0xf0, 0x00, last }
static const struct ta TAS[] = {
	{ "OP-TEE sdp_basic", SDP_UUID(0x99), 0, 1, 2, 0 },
	{ "libsmaf SDP test", SDP_UUID(0x01), 1, 2, 3, 1 },
};

/* ---- what libteec does ------------------------------------------------------------------------ */

/* TEEC_InitializeContext: the first /dev/teeN whose TEE_IOC_VERSION says GP (and OP-TEE for "optee-tz") */
static int tee_open(struct tee_ioctl_version_data *vers)
{
	for (int n = 0; n < 10; n++) {
		char path[32];
		snprintf(path, sizeof path, "/dev/tee%d", n);
		int fd = open(path, O_RDWR);
		if (fd < 0)
			continue;
		memset(vers, 0, sizeof *vers);
		if (ioctl(fd, TEE_IOC_VERSION, vers) == 0 && (vers->gen_caps & TEE_GEN_CAP_GP))
			return fd;
		close(fd);
	}
	return -1;
}

/* TEEC_RegisterSharedMemory with REG_MEM: TEE_IOC_SHM_REGISTER of the caller's memory; returns the shm fd */
static int shm_register(int tee, void *buf, size_t size, int *id)
{
	struct tee_ioctl_shm_register_data d = { .addr = (uintptr_t)buf, .length = size };
	int fd = ioctl(tee, TEE_IOC_SHM_REGISTER, &d);
	if (fd >= 0)
		*id = d.id;
	return fd;
}

/* TEEC_RegisterSharedMemoryFileDescriptor */
static int shm_register_fd(int tee, int dmabuf, struct tee_ioctl_shm_register_fd_data *d)
{
	memset(d, 0, sizeof *d);
	d->fd = dmabuf;
	return ioctl(tee, TEE_IOC_SHM_REGISTER_FD, d);
}

struct call {
	union {
		struct tee_ioctl_open_session_arg open;
		struct tee_ioctl_invoke_arg invoke;
		uint8_t bytes[sizeof(struct tee_ioctl_open_session_arg) + NUM_PARAMS * sizeof(struct tee_ioctl_param)];
	} u;
};

static struct tee_ioctl_param *params_of(struct call *c, int open)
{
	return open ? (struct tee_ioctl_param *)(&c->u.open + 1) : (struct tee_ioctl_param *)(&c->u.invoke + 1);
}

/* TEEC_OpenSession, login PUBLIC, no operation: four NONE parameters */
static int open_session(int tee, const uint8_t uuid[TEE_IOCTL_UUID_LEN], uint32_t *session, uint32_t *ret, uint32_t *origin)
{
	struct call c;
	memset(&c, 0, sizeof c);
	memcpy(c.u.open.uuid, uuid, TEE_IOCTL_UUID_LEN);
	c.u.open.clnt_login = TEE_IOCTL_LOGIN_PUBLIC;
	c.u.open.num_params = NUM_PARAMS;
	struct tee_ioctl_buf_data b = { .buf_ptr = (uintptr_t)&c, .buf_len = sizeof(struct tee_ioctl_open_session_arg) + NUM_PARAMS * sizeof(struct tee_ioctl_param) };
	int r = ioctl(tee, TEE_IOC_OPEN_SESSION, &b);
	*session = c.u.open.session;
	*ret = c.u.open.ret;
	*origin = c.u.open.ret_origin;
	return r;
}

/* TEEC_InvokeCommand with four parameters already filled in */
static int invoke(int tee, uint32_t session, uint32_t func, struct tee_ioctl_param p[NUM_PARAMS], uint32_t *ret, uint32_t *origin)
{
	struct call c;
	memset(&c, 0, sizeof c);
	c.u.invoke.session = session;
	c.u.invoke.func = func;
	c.u.invoke.num_params = NUM_PARAMS;
	memcpy(params_of(&c, 0), p, NUM_PARAMS * sizeof *p);
	struct tee_ioctl_buf_data b = { .buf_ptr = (uintptr_t)&c, .buf_len = sizeof(struct tee_ioctl_invoke_arg) + NUM_PARAMS * sizeof(struct tee_ioctl_param) };
	int r = ioctl(tee, TEE_IOC_INVOKE, &b);
	memcpy(p, params_of(&c, 0), NUM_PARAMS * sizeof *p);
	*ret = c.u.invoke.ret;
	*origin = c.u.invoke.ret_origin;
	return r;
}

static int close_session(int tee, uint32_t session)
{
	struct tee_ioctl_close_session_arg a = { .session = session };
	return ioctl(tee, TEE_IOC_CLOSE_SESSION, &a);
}

static struct tee_ioctl_param memref(uint64_t attr, int shm, uint64_t offset, uint64_t size)
{
	struct tee_ioctl_param p = { .attr = attr, .a = offset, .b = size, .c = (uint64_t)(int64_t)shm };
	return p;
}

/* ---- the buffers ------------------------------------------------------------------------------- */

/* libsmaf's smaf_create_buffer(len, SMAF_CLOEXEC | SMAF_RDWR, "smaf-optee") then smaf_set_secure(fd, 1) */
static int smaf_optee_buffer(size_t len)
{
	int dev = open("/dev/smaf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -1;
	struct smaf_create_data c;
	memset(&c, 0, sizeof c);
	c.length = len;
	c.flags = SMAF_RDWR | SMAF_CLOEXEC;
	strcpy(c.name, "smaf-optee");
	int fd = ioctl(dev, SMAF_IOC_CREATE, &c) == 0 ? c.fd : -1;
	struct smaf_secure_flag s = { .fd = fd, .secure = 1 };
	if (fd >= 0 && ioctl(dev, SMAF_IOC_SET_SECURE_FLAG, &s) != 0) {
		close(fd);
		fd = -1;
	}
	close(dev);
	return fd;
}

static int protected_heap_buffer(size_t len)
{
	int heap = open("/dev/dma_heap/protected,secure-carveout", O_RDONLY | O_CLOEXEC);
	if (heap < 0)
		return -1;
	struct smaf_dma_heap_allocation_data d = { .len = len, .fd_flags = O_RDWR | O_CLOEXEC };
	int fd = ioctl(heap, SMAF_DMA_HEAP_IOCTL_ALLOC, &d) == 0 ? (int)d.fd : -1;
	close(heap);
	return fd;
}

/* ---- the secure data path -------------------------------------------------------------------- */

static uint32_t rng = 0x2545F491u;
static uint8_t next_byte(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return (uint8_t)rng;
}

struct flow {
	int tee;
	uint32_t session;
	int shm;           /* the registered dma-buf */
	uint8_t *alloced;  /* TEE_IOC_SHM_ALLOC'd, mmapped: the input of the TA that uses it */
	int alloced_id;
};

/* INJECT `len` bytes of `in` at `offset`, TRANSFORM them, DUMP them into `out`: 0 when every call succeeded */
static int round_trip(const struct ta *ta, struct flow *f, const uint8_t *in, uint8_t *out, uint64_t offset, uint64_t len)
{
	struct tee_ioctl_param p[NUM_PARAMS];
	uint32_t ret = 1, origin = 0;
	int tmp = -1, tmp_id = -1, failed = 0;

	memset(p, 0, sizeof p);
	if (ta->alloc_input) {
		memcpy(f->alloced, in, len);
		p[0] = memref(TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT, f->alloced_id, 0, len);
	} else {
		tmp = shm_register(f->tee, (void *)in, len, &tmp_id);
		p[0] = memref(TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT, tmp_id, 0, len);
	}
	p[1] = memref(TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_OUTPUT, f->shm, offset, len);
	failed |= invoke(f->tee, f->session, ta->inject, p, &ret, &origin) != 0 || ret != TEEC_SUCCESS;
	if (tmp >= 0)
		close(tmp);

	memset(p, 0, sizeof p);
	p[0] = memref(TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT, f->shm, offset, len);
	failed |= invoke(f->tee, f->session, ta->transform, p, &ret, &origin) != 0 || ret != TEEC_SUCCESS;

	memset(p, 0, sizeof p);
	memset(out, 0, len);
	tmp = shm_register(f->tee, out, len, &tmp_id);
	p[0] = memref(TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT, f->shm, offset, len);
	p[1] = memref(TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_OUTPUT, tmp_id, 0, len);
	failed |= tmp < 0 || invoke(f->tee, f->session, ta->dump, p, &ret, &origin) != 0 || ret != TEEC_SUCCESS;
	if (tmp >= 0)
		close(tmp);
	return failed;
}

static void sdp_rounds(const struct ta *ta, struct flow *f, const char *what, int rounds)
{
	static uint8_t in[BUF_SIZE], out[BUF_SIZE];
	int failed_calls = 0;
	size_t wrong = 0;
	for (int r = 0; r < rounds; r++) {
		uint64_t offset = (uint64_t)r % 256;
		uint64_t len = 1 + (uint64_t)(r * 97) % 2048;
		for (uint64_t i = 0; i < len; i++)
			in[i] = next_byte();
		failed_calls += round_trip(ta, f, in, out, offset, len) != 0;
		for (uint64_t i = 0; i < len; i++)
			wrong += out[i] != (uint8_t)(~in[i] + 1);
	}
	CHECK(failed_calls == 0, "%s on %s: %d rounds of INJECT / TRANSFORM / DUMP at offsets 0..255 (%d failed)", ta->name, what, rounds, failed_calls);
	CHECK(wrong == 0, "%s on %s: every byte b came back as (~b + 1) & 0xff (%zu wrong)", ta->name, what, wrong);
}

/* Memrefs off the end of the shared memory: EINVAL from the driver, the TA never runs (the bytes stay). */
static void out_of_bounds(const struct ta *ta, struct flow *f, const char *what)
{
	static uint8_t in[BUF_SIZE], out[BUF_SIZE];
	for (size_t i = 0; i < BUF_SIZE; i++)
		in[i] = next_byte();
	int ok = round_trip(ta, f, in, out, 0, BUF_SIZE) == 0;
	CHECK(ok, "%s on %s: the whole buffer injected", ta->name, what);
	const struct { uint64_t offset, size; const char *why; } bad[] = {
		{ BUF_SIZE, 1, "offset = size" },
		{ 0, BUF_SIZE + 1, "size + 1" },
		{ 1, UINT64_MAX, "offset + size overflowing" },
		{ UINT64_MAX, 2, "offset at 2^64-1" },
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		struct tee_ioctl_param p[NUM_PARAMS];
		uint32_t ret = 0, origin = 0;
		memset(p, 0, sizeof p);
		p[0] = memref(TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT, f->shm, bad[k].offset, bad[k].size);
		CHECK_ERRNO(invoke(f->tee, f->session, ta->transform, p, &ret, &origin), EINVAL,
			    "%s on %s: TRANSFORM at %s is EINVAL (libteec: TEEC_ERROR_BAD_PARAMETERS, origin COMMS)", ta->name, what, bad[k].why);
	}
	/* had any of them run, the bytes would have been negated: a plain DUMP shows them as injected, transformed once */
	struct tee_ioctl_param p[NUM_PARAMS];
	uint32_t ret = 1, origin = 0;
	int id = -1;
	int tmp = shm_register(f->tee, out, BUF_SIZE, &id);
	memset(p, 0, sizeof p);
	p[0] = memref(TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT, f->shm, 0, BUF_SIZE);
	p[1] = memref(TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_OUTPUT, id, 0, BUF_SIZE);
	CHECK(invoke(f->tee, f->session, ta->dump, p, &ret, &origin) == 0 && ret == TEEC_SUCCESS, "%s on %s: DUMP of the whole buffer", ta->name, what);
	close(tmp);
	size_t wrong = 0;
	for (size_t i = 0; i < BUF_SIZE; i++)
		wrong += out[i] != (uint8_t)(~in[i] + 1);
	CHECK(wrong == 0, "%s on %s: no TA ran for the refused memrefs (%zu bytes differ)", ta->name, what, wrong);
}

/* mmap_errno: EPERM for a secure /dev/smaf buffer (SMAF's secure module refuses it), EINVAL for a
 * protected heap's (the kernel's TEE heap has no mmap at all) */
static void sdp_flow(int tee, int dmabuf, const char *what, int rounds, int mmap_errno)
{
	errno = 0;
	void *m = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, dmabuf, 0);
	CHECK(m == MAP_FAILED && errno == mmap_errno, "%s: the normal world's mmap of the secure buffer is refused (%s)", what, mmap_errno == EPERM ? "EPERM" : "EINVAL");
	struct tee_ioctl_shm_register_fd_data d;
	int shm_fd = shm_register_fd(tee, dmabuf, &d);
	CHECK(shm_fd >= 0 && d.size == BUF_SIZE && d.id > 0, "%s: TEE_IOC_SHM_REGISTER_FD: shm %d of %llu bytes, flags 0x%x", what, d.id, (unsigned long long)d.size, d.flags);
	CHECK(close(dmabuf) == 0, "%s: the dma-buf fd closed (the shared memory holds its own reference)", what);
	errno = 0;
	CHECK(mmap(NULL, BUF_SIZE, PROT_READ, MAP_SHARED, shm_fd, 0) == MAP_FAILED && errno == EINVAL, "%s: the shm fd of a dma-buf cannot be mapped (EINVAL)", what);

	struct flow f = { .tee = tee, .shm = d.id };
	int alloced_fd = -1;
	{
		struct tee_ioctl_shm_alloc_data a = { .size = BUF_SIZE };
		alloced_fd = ioctl(tee, TEE_IOC_SHM_ALLOC, &a);
		f.alloced_id = a.id;
		f.alloced = alloced_fd < 0 ? MAP_FAILED : mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, alloced_fd, 0);
		CHECK(alloced_fd >= 0 && f.alloced != MAP_FAILED && a.size == BUF_SIZE, "%s: TEE_IOC_SHM_ALLOC of %d bytes, mmapped", what, BUF_SIZE);
	}
	for (size_t t = 0; t < sizeof TAS / sizeof TAS[0]; t++) {
		uint32_t ret = 1, origin = 0;
		int r = open_session(tee, TAS[t].uuid, &f.session, &ret, &origin);
		CHECK(r == 0 && ret == TEEC_SUCCESS, "%s: a session to %s (ret 0x%x, origin %u)", what, TAS[t].name, ret, origin);
		if (r != 0 || ret != TEEC_SUCCESS || f.alloced == MAP_FAILED)
			continue;
		sdp_rounds(&TAS[t], &f, what, rounds);
		out_of_bounds(&TAS[t], &f, what);
		CHECK(close_session(tee, f.session) == 0, "%s: session to %s closed", what, TAS[t].name);
	}
	if (f.alloced != MAP_FAILED)
		munmap(f.alloced, BUF_SIZE);
	if (alloced_fd >= 0)
		close(alloced_fd);
	CHECK(close(shm_fd) == 0, "%s: the shm fd closed: the buffer goes with it", what);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 1000;
	struct tee_ioctl_version_data v;
	int tee = tee_open(&v);
	CHECK(tee >= 0, "TEEC_InitializeContext: /dev/tee0 opens and TEE_IOC_VERSION says GlobalPlatform");
	if (tee < 0)
		return check_done();
	CHECK(v.impl_id == TEE_IMPL_ID_OPTEE && (v.impl_caps & TEE_OPTEE_CAP_TZ), "TEE_IOC_VERSION: OP-TEE, TrustZone (impl_id %u, impl_caps 0x%x)", v.impl_id, v.impl_caps);
	CHECK((v.gen_caps & (TEE_GEN_CAP_GP | TEE_GEN_CAP_REG_MEM | TEE_GEN_CAP_MEMREF_NULL)) == (TEE_GEN_CAP_GP | TEE_GEN_CAP_REG_MEM | TEE_GEN_CAP_MEMREF_NULL),
	      "TEE_IOC_VERSION: GP | REG_MEM | MEMREF_NULL (gen_caps 0x%x)", v.gen_caps);

	uint32_t session = 0, ret = 0, origin = 0;
	static const uint8_t nobody[TEE_IOCTL_UUID_LEN] = { 0x0b, 0xad };
	CHECK(open_session(tee, nobody, &session, &ret, &origin) == 0 && ret == TEEC_ERROR_ITEM_NOT_FOUND && origin == TEEC_ORIGIN_TEE,
	      "an unknown UUID: TEEC_ERROR_ITEM_NOT_FOUND from the TEE (ret 0x%x, origin %u)", ret, origin);
	int devnull = open("/dev/null", O_RDONLY);
	struct tee_ioctl_shm_register_fd_data d;
	CHECK_ERRNO(shm_register_fd(tee, devnull, &d), EINVAL, "TEE_IOC_SHM_REGISTER_FD of something that is not a dma-buf: EINVAL");
	close(devnull);

	int a = smaf_optee_buffer(BUF_SIZE);
	CHECK(a >= 0, "/dev/smaf: a secure buffer of %d bytes from smaf-optee", BUF_SIZE);
	if (a >= 0)
		sdp_flow(tee, a, "smaf-optee", rounds, EPERM);
	int b = protected_heap_buffer(BUF_SIZE);
	CHECK(b >= 0, "/dev/dma_heap/protected,secure-carveout: a secure buffer of %d bytes", BUF_SIZE);
	if (b >= 0)
		sdp_flow(tee, b, "the protected heap", rounds, EINVAL);
	CHECK(close(tee) == 0, "TEEC_FinalizeContext");
	return check_done();
}
