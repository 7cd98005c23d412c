/*
 * Zero-copy isolation, tried as an attacker would from C (run as the same user as smafd, not root):
 * a process reaches the pages of the buffers it holds and nothing else.
 *   - mapping past the end of a buffer's file (raw syscalls, around the library), or growing a
 *     mapping with mremap, reaches nothing: the file is the buffer's size and sealed, so the
 *     extra pages are SIGBUS, never another buffer's bytes;
 *   - smafd's /proc/PID/mem, /proc/PID/fd/N and /proc/PID/map_files, ptrace and process_vm_readv
 *     of smafd are all refused (smafd is not dumpable);
 *   - a file kept after the buffer is gone (an O_PATH fd, reopened later) holds zeros and is cut
 *     off: writes through it never reach the memory's next owner;
 *   - a secure buffer's file never holds its secure bytes;
 *   - a read-only buffer (fd_flags O_RDONLY) stays read-only: its file reopened through
 *     /proc/self/fd with O_RDWR (which a memfd allows and a dma-buf does not) cannot write it.
 * Usage: isolation SMAFD_PID
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../smaf-wire.h"
#include "check.h"
#include "heap.h"
#include "driver.h"

#define SIZE (64 * 1024)

/* mmap as the kernel sees it, around the library's checks */
static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

/* In a child: touch one byte at p; how the child ended (SIGBUS, or exit 0 with the byte in *byte). */
static int touch(const volatile unsigned char *p)
{
	pid_t c = fork();
	if (c == 0)
		_exit(p[0] == 0 ? 0 : 1);
	int st = 0;
	waitpid(c, &st, 0);
	return WIFSIGNALED(st) ? WTERMSIG(st) : -WEXITSTATUS(st);
}

static void past_the_end(void)
{
	int a = heap_alloc("system", SIZE, O_RDWR | O_CLOEXEC), b = heap_alloc("system", SIZE, O_RDWR | O_CLOEXEC);
	unsigned char *pb = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, b, 0);
	CHECK(a >= 0 && pb != MAP_FAILED, "two buffers; the second holds a secret");
	if (pb != MAP_FAILED)
		memset(pb, 0x5e, SIZE);
	errno = 0;
	CHECK(mmap(NULL, 2 * SIZE, PROT_READ, MAP_SHARED, a, 0) == MAP_FAILED && errno == EINVAL, "mmap of twice the buffer through the library: EINVAL");
	unsigned char *raw = raw_mmap(NULL, 2 * SIZE, PROT_READ, MAP_SHARED, a, 0);
	CHECK(raw != MAP_FAILED, "the same with a raw system call: the kernel maps it (the file is the buffer)");
	if (raw != MAP_FAILED) {
		CHECK(touch(raw + SIZE - 1) == 0, "the buffer's last byte reads");
		CHECK(touch(raw + SIZE) == SIGBUS, "the byte after it is SIGBUS, not another buffer's byte");
		unsigned char *grown = mremap(raw, 2 * SIZE, 16 * SIZE, MREMAP_MAYMOVE);
		CHECK(grown != MAP_FAILED && touch(grown + 8 * SIZE) == SIGBUS, "mremap to 16 times the size: the new pages are SIGBUS too");
		munmap(grown != MAP_FAILED ? grown : raw, grown != MAP_FAILED ? 16 * SIZE : 2 * SIZE);
	}
	unsigned char *after = raw_mmap(NULL, SIZE, PROT_READ, MAP_SHARED, a, SIZE);
	CHECK(after == MAP_FAILED || touch(after) == SIGBUS, "a mapping at an offset past the end reads nothing: SIGBUS");
	CHECK(ftruncate(a, 1 << 30) != 0 && errno == EPERM, "and the file cannot grow (sealed): EPERM");
	munmap(pb, SIZE);
	close(a);
	close(b);
}

static void smafd_memory(pid_t smafd)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/mem", (int)smafd);
	CHECK_ERRNO(open(path, O_RDONLY), EACCES, "open %s: EACCES", path);
	snprintf(path, sizeof path, "/proc/%d/fd", (int)smafd);
	CHECK_ERRNO(open(path, O_RDONLY | O_DIRECTORY), EACCES, "open %s: EACCES", path);
	snprintf(path, sizeof path, "/proc/%d/fd/0", (int)smafd);
	CHECK_ERRNO(open(path, O_RDONLY), EACCES, "open %s: EACCES", path);
	snprintf(path, sizeof path, "/proc/%d/map_files", (int)smafd);
	CHECK_ERRNO(open(path, O_RDONLY | O_DIRECTORY), EACCES, "open %s: EACCES", path);
	char byte;
	struct iovec local = { &byte, 1 }, remote = { (void *)0x10000, 1 };
	CHECK_ERRNO(process_vm_readv(smafd, &local, 1, &remote, 1, 0), EPERM, "process_vm_readv of smafd: EPERM");
	CHECK_ERRNO(ptrace(PTRACE_ATTACH, smafd, NULL, NULL), EPERM, "ptrace(PTRACE_ATTACH) of smafd: EPERM");
	int pidfd = (int)syscall(SYS_pidfd_open, smafd, 0);
	CHECK_ERRNO(pidfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pidfd, 3, 0), EPERM, "pidfd_getfd of smafd's fds: EPERM");
	if (pidfd >= 0)
		close(pidfd);
}

static void kept_after_release(void)
{
	int a = heap_alloc("linux,cma", SIZE, O_RDWR | O_CLOEXEC);
	unsigned char *pa = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, a, 0);
	if (pa != MAP_FAILED) {
		memset(pa, 0x11, SIZE);
		munmap(pa, SIZE);
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", a);
	int kept = open(path, O_PATH | O_CLOEXEC);
	CHECK(a >= 0 && kept >= 0, "keep an O_PATH fd of a buffer's file, then close the buffer");
	close(a);
	usleep(300 * 1000); /* smafd frees it when it sees the file closed */
	int b = heap_alloc("linux,cma", SIZE, O_RDWR | O_CLOEXEC);
	unsigned char *pb = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, b, 0);
	CHECK(pb != MAP_FAILED, "a new buffer from the same pool (likely the same memory)");
	if (pb == MAP_FAILED)
		return;
	memset(pb, 0x5e, SIZE);
	snprintf(path, sizeof path, "/proc/self/fd/%d", kept);
	int again = open(path, O_RDWR | O_CLOEXEC);
	unsigned char *old = again < 0 ? MAP_FAILED : raw_mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, again, 0);
	CHECK(old != MAP_FAILED, "the kept file reopens and maps (around the library)");
	if (old != MAP_FAILED) {
		size_t nonzero = 0;
		for (size_t i = 0; i < SIZE; i++)
			nonzero += old[i] != 0;
		CHECK(nonzero == 0, "it holds zeros: the old bytes were scrubbed and the new buffer's are not there (%zu non-zero)", nonzero);
		memset(old, 0x99, SIZE);
		size_t changed = 0;
		for (size_t i = 0; i < SIZE; i++)
			changed += pb[i] != 0x5e;
		CHECK(changed == 0, "writes through it never reach the new buffer (%zu bytes changed)", changed);
		munmap(old, SIZE);
	}
	close(again);
	close(kept);
	munmap(pb, SIZE);
	close(b);
}

static void secure_file(void)
{
	int n = heap_alloc("system", SIZE, O_RDWR | O_CLOEXEC);
	int sfd = heap_alloc("protected,secure-carveout", SIZE, O_RDWR | O_CLOEXEC);
	unsigned char *pn = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, n, 0);
	CHECK(n >= 0 && sfd >= 0 && pn != MAP_FAILED, "a plain buffer of ciphertext and a protected one");
	if (pn == MAP_FAILED)
		return;
	memset(pn, 0x21, SIZE);
	int s = drv_connect();
	int hn = drv_handle(s, n), hs = drv_handle(s, sfd);
	int an = drv_attach_map(s, hn, "crypto", 1), as = drv_attach_map(s, hs, "crypto", 2);
	struct smaf_dma_copy_in in = { .dst_attachment = (uint32_t)as, .src_fd = hn, .src_attachment = (uint32_t)an, .transform = 1, .length = SIZE };
	CHECK(drv_call(s, SMAF_OP_DMA_COPY, hs, &in, sizeof in, NULL, 0, -1, NULL) == SIZE, "the crypto engine decrypts into the protected buffer");
	unsigned char *raw = raw_mmap(NULL, SIZE, PROT_READ, MAP_SHARED, sfd, 0);
	size_t nonzero = 0;
	for (size_t i = 0; raw != MAP_FAILED && i < SIZE; i++)
		nonzero += raw[i] != 0;
	CHECK(raw != MAP_FAILED && nonzero == 0, "a raw mapping of the protected buffer's file holds zeros, never the decrypted bytes (%zu non-zero)", nonzero);
	close(s);
	munmap(pn, SIZE);
	close(n);
	close(sfd);
}

static void read_only(void)
{
	int fd = heap_alloc("system", SIZE, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "a read-only buffer");
	if (fd < 0)
		return;
	CHECK(raw_mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EACCES, "a writable mapping of its fd: EACCES");
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	int rw = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC);
	if (rw < 0) {
		CHECK(true, "its file cannot even be reopened for writing (errno %d)", errno);
	} else {
		CHECK(raw_mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0) == MAP_FAILED, "reopened O_RDWR through /proc/self/fd: a writable mapping still fails (errno %d)", errno);
		CHECK(syscall(SYS_pwrite64, rw, "x", 1, 0) == -1, "and pwrite fails (errno %d)", errno);
		void *ro = raw_mmap(NULL, SIZE, PROT_READ, MAP_SHARED, rw, 0);
		CHECK(ro != MAP_FAILED && mprotect(ro, SIZE, PROT_READ | PROT_WRITE) != 0, "and a read mapping of it cannot be made writable with mprotect (errno %d)", errno);
		close(rw);
	}
	close(fd);
}

int main(int argc, char **argv)
{
	pid_t smafd = argc > 1 ? (pid_t)atoi(argv[1]) : 0;
	CHECK(getuid() != 0, "running as a user without privileges (uid %d), as an attacker would", (int)getuid());
	past_the_end();
	if (smafd > 0)
		smafd_memory(smafd);
	kept_after_release();
	secure_file();
	read_only();
	return check_done();
}
