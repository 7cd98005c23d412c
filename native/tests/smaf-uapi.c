/*
 * /dev/smaf under smaf exec: the v8 SMAF ioctls byte for byte, dma-buf fds that are real fds
 * (dup, dup2, dup3, F_DUPFD_CLOEXEC), mmap of plain and secure buffers, DMA_BUF_SET_NAME.
 * Where the two modes differ (zero-copy: the mapping is the memory; copy mode: bytes move at
 * munmap, msync and SYNC), each is checked for what it promises.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../smaf-wire.h"
#include "check.h"

static int smaf_fd;
static bool zero_copy;

static int create(uint64_t len, uint32_t flags, const char *name)
{
	struct smaf_create_data c = { .length = len, .flags = flags };
	if (name)
		snprintf(c.name, sizeof c.name, "%s", name);
	if (ioctl(smaf_fd, SMAF_IOC_CREATE, &c) != 0)
		return -1;
	return c.fd;
}

static int set_secure(int fd, uint32_t on)
{
	struct smaf_secure_flag s = { .fd = fd, .secure = on };
	return ioctl(smaf_fd, SMAF_IOC_SET_SECURE_FLAG, &s);
}

static int get_secure(int fd)
{
	struct smaf_secure_flag s = { .fd = fd };
	return ioctl(smaf_fd, SMAF_IOC_GET_SECURE_FLAG, &s) == 0 ? (int)s.secure : -1;
}

int main(void)
{
	zero_copy = getenv("SMAF_NATIVE_SOCKET") != NULL;
	struct stat st;
	CHECK(stat("/dev/smaf", &st) == 0 && S_ISCHR(st.st_mode), "/dev/smaf is a character device");
	smaf_fd = open("/dev/smaf", O_RDWR | O_CLOEXEC);
	CHECK(smaf_fd >= 0, "open /dev/smaf gives a real fd (%d)", smaf_fd);
	CHECK(fcntl(smaf_fd, F_GETFD) == FD_CLOEXEC, "O_CLOEXEC is honoured on /dev/smaf");

	/* GET_INFO enumerates the allocators; one past the last is EINVAL */
	struct smaf_info info = { .index = 0 };
	CHECK(ioctl(smaf_fd, SMAF_IOC_GET_INFO, &info) == 0 && info.count > 0, "GET_INFO: %u allocators, the first is %s", info.count, info.name);
	uint32_t count = info.count;
	char names[16][SMAF_NAME_LEN] = { { 0 } };
	for (uint32_t i = 0; i < count && i < 16; i++) {
		struct smaf_info in = { .index = i };
		CHECK(ioctl(smaf_fd, SMAF_IOC_GET_INFO, &in) == 0 && in.count == count, "GET_INFO %u: %s", i, in.name);
		memcpy(names[i], in.name, SMAF_NAME_LEN);
	}
	struct smaf_info past = { .index = count };
	CHECK_ERRNO(ioctl(smaf_fd, SMAF_IOC_GET_INFO, &past), EINVAL, "GET_INFO past the last index: EINVAL");

	/* create: unnamed, named with every allocator, unknown name */
	int fd = create(4096, SMAF_RDWR, NULL);
	CHECK(fd >= 0 && fd != smaf_fd, "create an unnamed buffer: fd %d", fd);
	CHECK(lseek(fd, 0, SEEK_END) == 4096, "lseek(SEEK_END) gives the buffer size");
	CHECK(fstat(fd, &st) == 0 && st.st_size == 4096, "fstat gives the buffer size");
	CHECK(close(fd) == 0, "close it");
	for (uint32_t i = 0; i < count && i < 16; i++) {
		int nfd = create(8192, SMAF_RDWR, names[i]);
		CHECK(nfd >= 0, "create with name %s", names[i]);
		close(nfd);
	}
	CHECK_ERRNO(create(4096, SMAF_RDWR, "no-such-allocator"), EINVAL, "create with an unknown allocator name: EINVAL");
	CHECK_ERRNO(create(0, SMAF_RDWR, NULL), EINVAL, "create of length 0: EINVAL");
	CHECK_ERRNO(create(4096, 0x1, NULL), EINVAL, "create with flags other than RDWR|CLOEXEC: EINVAL");
	CHECK_ERRNO(create(~0ull, SMAF_RDWR, NULL), ENOMEM, "create of 2^64-1 bytes: ENOMEM");

	/* older and newer struct sizes */
	uint8_t small[32] = { 0 };
	uint64_t len = 4096;
	memcpy(small + 8, &len, 8);
	CHECK(ioctl(smaf_fd, _IOC(_IOC_READ | _IOC_WRITE, 'S', 0, 32), small) == 0, "CREATE with a 32-byte (older) struct");
	int32_t sfd;
	memcpy(&sfd, small + 24, 4);
	CHECK(sfd >= 0 && lseek(sfd, 0, SEEK_END) == 4096, "its fd (%d) is a 4096-byte buffer", sfd);
	close(sfd);
	uint8_t big[160];
	memset(big, 0, sizeof big);
	memset(big + 128, 0xcc, 32);
	memcpy(big + 8, &len, 8);
	CHECK(ioctl(smaf_fd, _IOC(_IOC_READ | _IOC_WRITE, 'S', 0, 160), big) == 0 && big[159] == 0xcc, "CREATE with a 160-byte (newer) struct: extra bytes ignored and untouched");
	memcpy(&sfd, big + 24, 4);
	close(sfd);

	/* secure flag */
	int sec = create(65536, SMAF_RDWR, NULL);
	CHECK(get_secure(sec) == 0, "a new buffer is not secure");
	CHECK(set_secure(sec, 1) == 0 && get_secure(sec) == 1, "SET_SECURE_FLAG 1 then GET gives 1");
	errno = 0;
	void *sp = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, sec, 0);
	CHECK(sp == MAP_FAILED && errno == EPERM, "mmap of a secure buffer: EPERM");
	struct { uint64_t flags; } sync = { SMAF_DMA_BUF_SYNC_READ };
	CHECK_ERRNO(ioctl(sec, SMAF_DMA_BUF_IOCTL_SYNC, &sync), EPERM, "SYNC START on a secure buffer: EPERM");
	int devnull = open("/dev/null", O_RDWR);
	struct smaf_secure_flag bad = { .fd = devnull };
	CHECK_ERRNO(ioctl(smaf_fd, SMAF_IOC_GET_SECURE_FLAG, &bad), EBADF, "GET_SECURE_FLAG of an fd that is not a buffer: EBADF");
	close(sec);

	/* non-page-aligned create, mmap of that length */
	int odd = create(5000, SMAF_RDWR, NULL);
	CHECK(odd >= 0 && lseek(odd, 0, SEEK_END) == 8192, "create 5000 bytes: the buffer has 8192");
	char *op = mmap(NULL, 5000, PROT_READ | PROT_WRITE, MAP_SHARED, odd, 0);
	CHECK(op != MAP_FAILED, "mmap 5000 bytes of it");
	if (op != MAP_FAILED) {
		memset(op, 0x11, 5000);
		CHECK(op[4999] == 0x11 && munmap(op, 5000) == 0, "write all 5000 bytes (no SYNC), munmap");
	}
	/* what munmap left in the buffer: zero-copy, the same pages; copy mode, munmap pushed them
	 * (scribble over a new mapping: SYNC START must bring them back from the emulated memory) */
	op = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, odd, 0);
	if (op != MAP_FAILED) {
		if (!zero_copy)
			memset(op, 0, 8192);
		struct { uint64_t flags; } rd = { SMAF_DMA_BUF_SYNC_READ };
		CHECK(ioctl(odd, SMAF_DMA_BUF_IOCTL_SYNC, &rd) == 0 && op[0] == 0x11 && op[4999] == 0x11 && op[5000] == 0, "the bytes written before munmap are the buffer's");
		rd.flags |= SMAF_DMA_BUF_SYNC_END;
		ioctl(odd, SMAF_DMA_BUF_IOCTL_SYNC, &rd);
		memset(op, 0x22, 100);
		CHECK(msync(op, 8192, MS_SYNC) == 0, "msync");
		if (!zero_copy)
			memset(op, 0, 100);
		rd.flags = SMAF_DMA_BUF_SYNC_READ;
		CHECK(ioctl(odd, SMAF_DMA_BUF_IOCTL_SYNC, &rd) == 0 && op[0] == 0x22 && op[99] == 0x22 && op[100] == 0x11, "and so are those written before msync");
		rd.flags |= SMAF_DMA_BUF_SYNC_END;
		ioctl(odd, SMAF_DMA_BUF_IOCTL_SYNC, &rd);
		munmap(op, 8192);
	}
	CHECK_ERRNO((long)(intptr_t)mmap(NULL, 3 * 4096, PROT_READ, MAP_SHARED, odd, 0) == -1 ? -1 : 0, EINVAL, "mmap past the end of the buffer: EINVAL");
	close(odd);

	/* mmap of a plain buffer; the bytes reach the emulated memory and come back */
	int buf = create(16384, SMAF_RDWR, NULL);
	char *p = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	CHECK(p != MAP_FAILED, "mmap a plain buffer");
	int nonzero = 0;
	for (int i = 0; p != MAP_FAILED && i < 16384; i++)
		nonzero += p[i] != 0;
	CHECK(p != MAP_FAILED && nonzero == 0, "fresh memory reads zero");
	sync.flags = SMAF_DMA_BUF_SYNC_WRITE;
	CHECK(ioctl(buf, SMAF_DMA_BUF_IOCTL_SYNC, &sync) == 0, "SYNC START (write)");
	memset(p, 0x42, 16384);
	sync.flags = SMAF_DMA_BUF_SYNC_WRITE | SMAF_DMA_BUF_SYNC_END;
	CHECK(ioctl(buf, SMAF_DMA_BUF_IOCTL_SYNC, &sync) == 0, "SYNC END (write): the bytes go to the emulated memory");
	sync.flags = SMAF_DMA_BUF_SYNC_READ;
	CHECK(ioctl(buf, SMAF_DMA_BUF_IOCTL_SYNC, &sync) == 0 && p[0] == 0x42 && p[16383] == 0x42, "SYNC START (read): the bytes are there");
	sync.flags = SMAF_DMA_BUF_SYNC_READ | SMAF_DMA_BUF_SYNC_END;
	ioctl(buf, SMAF_DMA_BUF_IOCTL_SYNC, &sync);
	sync.flags = 0x80;
	CHECK_ERRNO(ioctl(buf, SMAF_DMA_BUF_IOCTL_SYNC, &sync), EINVAL, "SYNC with invalid flags: EINVAL");

	/* the fd is a real fd: dup, dup2, dup3, F_DUPFD_CLOEXEC all reach the same buffer */
	int d1 = dup(buf);
	int d2 = dup2(buf, 100);
	int d3 = dup3(buf, 101, O_CLOEXEC);
	int d4 = fcntl(buf, F_DUPFD_CLOEXEC, 200);
	CHECK(d1 >= 0 && d2 == 100 && d3 == 101 && d4 >= 200, "dup, dup2, dup3, F_DUPFD_CLOEXEC");
	CHECK(fcntl(d3, F_GETFD) == FD_CLOEXEC && fcntl(d2, F_GETFD) == 0, "dup3 O_CLOEXEC honoured");
	CHECK(munmap(p, 16384) == 0 && close(buf) == 0, "munmap and close the original fd");
	char *q = mmap(NULL, 16384, PROT_READ, MAP_SHARED, d4, 0);
	CHECK(q != MAP_FAILED && q[100] == 0x42, "the buffer lives on through its dups: mmap of a dup reads the bytes");
	munmap(q, 16384);
	CHECK(ioctl(d2, SMAF_DMA_BUF_SET_NAME_B, "frame-out") == 0, "DMA_BUF_SET_NAME_B names it");
	CHECK(ioctl(d1, SMAF_DMA_BUF_SET_NAME_A, "nv12-frame") == 0, "DMA_BUF_SET_NAME_A names it");
	char longname[40];
	memset(longname, 'x', 32);
	longname[32] = 0;
	CHECK_ERRNO(ioctl(d1, SMAF_DMA_BUF_SET_NAME_B, longname), EINVAL, "a 32-byte name: EINVAL (at most 31 and the NUL)");
	longname[31] = 0;
	CHECK(ioctl(d1, SMAF_DMA_BUF_SET_NAME_B, longname) == 0, "a 31-byte name is fine");
	uint32_t sf[2] = { 0, 0 };
	if (zero_copy) {
		sf[0] = SMAF_DMA_BUF_SYNC_READ;
		CHECK(ioctl(d1, SMAF_DMA_BUF_IOCTL_EXPORT_SYNC_FILE, sf) == 0 && (int)sf[1] >= 0, "EXPORT_SYNC_FILE: a sync file");
		CHECK(ioctl(d1, SMAF_DMA_BUF_IOCTL_IMPORT_SYNC_FILE, sf) == 0, "IMPORT_SYNC_FILE of it");
		close((int)sf[1]);
	} else {
		CHECK_ERRNO(ioctl(d1, SMAF_DMA_BUF_IOCTL_EXPORT_SYNC_FILE, sf), ENOTTY, "copy mode: EXPORT_SYNC_FILE: ENOTTY (no sync files without shared memory)");
		CHECK_ERRNO(ioctl(d1, SMAF_DMA_BUF_IOCTL_IMPORT_SYNC_FILE, sf), ENOTTY, "copy mode: IMPORT_SYNC_FILE: ENOTTY");
	}
	CHECK_ERRNO(ioctl(d1, _IOW('b', 9, uint64_t), sf), ENOTTY, "an unknown dma-buf ioctl: ENOTTY");
	CHECK_ERRNO(ioctl(smaf_fd, _IOWR('S', 9, struct smaf_info), &info), ENOTTY, "an unknown /dev/smaf ioctl: ENOTTY");
	CHECK_ERRNO(ioctl(devnull, SMAF_IOC_CREATE, &info), ENOTTY, "a SMAF ioctl on another fd passes through: the kernel's ENOTTY");
	CHECK_ERRNO(mmap(NULL, 4096, PROT_READ, MAP_SHARED, smaf_fd, 0) == MAP_FAILED ? -1 : 0, ENODEV, "mmap of /dev/smaf: ENODEV");
	/* a program that closes every fd it does not know (daemons do) must not cut the library off */
	for (int i = 3; i < 1200; i++)
		if (i != d4 && i != smaf_fd)
			close(i);
	sync.flags = SMAF_DMA_BUF_SYNC_READ;
	CHECK(ioctl(d4, SMAF_DMA_BUF_IOCTL_SYNC, &sync) == 0, "after closing every other fd from 3 to 1199, the buffer still answers");
	sync.flags |= SMAF_DMA_BUF_SYNC_END;
	ioctl(d4, SMAF_DMA_BUF_IOCTL_SYNC, &sync);
	int lowest = 3;
	while (fcntl(lowest, F_GETFD) != -1)
		lowest++;
	int again = create(4096, SMAF_RDWR, NULL);
	CHECK(again == lowest, "and the next buffer gets the lowest free fd (%d): the library's socket stays out of the way", lowest);
	close(again);
	close(d4);
	close(smaf_fd);
	return check_done();
}
