/*
 * A dma-buf fd crosses fork, exec and SCM_RIGHTS under smaf exec, and every process that holds it
 * reaches the same buffer in smafd. Usage: share HEAP   (the receiver roles are internal).
 *
 * To prove that bytes are in the emulated memory and not merely in a memfd the processes share:
 * zero-copy, a device reads them (a driver's DMA CRC, driver.h); copy mode, the checking process
 * scribbles over its own mapping without SYNC END and then does SYNC START: what it reads then is
 * what smafd holds.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../smaf-wire.h"
#include "check.h"
#include "heap.h"
#include "driver.h"

#define SIZE (256 * 1024)

static int sync_buf(int fd, uint64_t flags) { return ioctl(fd, SMAF_DMA_BUF_IOCTL_SYNC, &flags); }

static void fill(unsigned char *p, unsigned seed)
{
	for (size_t i = 0; i < SIZE; i++)
		p[i] = (unsigned char)(i * 7 + seed);
}

static size_t mismatches(const unsigned char *p, unsigned seed)
{
	size_t bad = 0;
	for (size_t i = 0; i < SIZE; i++)
		bad += p[i] != (unsigned char)(i * 7 + seed);
	return bad;
}

/* Write a pattern through a fresh mapping of fd, bracketed by SYNC. 0 on success. */
static int write_pattern(int fd, unsigned seed)
{
	unsigned char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	int r = sync_buf(fd, SMAF_DMA_BUF_SYNC_WRITE);
	fill(p, seed);
	r |= sync_buf(fd, SMAF_DMA_BUF_SYNC_WRITE | SMAF_DMA_BUF_SYNC_END);
	munmap(p, SIZE);
	return r;
}

/* What smafd holds: zero-copy, what a device reads; copy mode, what SYNC START brings back over a scribble. */
static size_t daemon_mismatches(int fd, unsigned seed)
{
	if (getenv("SMAF_NATIVE_SOCKET")) {
		static unsigned char expect[SIZE];
		fill(expect, seed);
		int s = drv_connect();
		int h = s >= 0 ? drv_handle(s, fd) : -1;
		int att = h >= 0 ? drv_attach_map(s, h, "gpu", 1) : -1;
		uint32_t crc = 0;
		int r = att >= 0 ? drv_crc(s, h, att, 0, SIZE, &crc) : -1;
		close(s);
		return r == 0 && crc == crc32_of(expect, SIZE) ? 0 : SIZE;
	}
	unsigned char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return SIZE;
	memset(p, 0xee, SIZE);
	size_t bad = sync_buf(fd, SMAF_DMA_BUF_SYNC_READ) == 0 ? mismatches(p, seed) : SIZE;
	sync_buf(fd, SMAF_DMA_BUF_SYNC_READ | SMAF_DMA_BUF_SYNC_END);
	munmap(p, SIZE);
	return bad;
}

/* exec'd with an inherited buffer fd: read the parent's pattern, write ours (seed 3). */
static int role_exec(int fd, int cloexec_fd)
{
	CHECK(fcntl(cloexec_fd, F_GETFD) == -1 && errno == EBADF, "exec: the O_CLOEXEC buffer fd was closed by exec");
	CHECK(lseek(fd, 0, SEEK_END) == SIZE, "exec: the inherited fd %d is a %d-byte dma-buf", fd, SIZE);
	CHECK(daemon_mismatches(fd, 6) == 0, "exec: a new process image reads the pattern written before exec");
	CHECK(write_pattern(fd, 3) == 0, "exec: writes its own pattern");
	return check_done();
}

/* receives a buffer fd it never inherited over SCM_RIGHTS, reads seed 4 and writes seed 5. */
static int role_receive(int sock)
{
	int fd = recv_fd(sock);
	CHECK(fd >= 0, "SCM_RIGHTS: received fd %d", fd);
	CHECK(daemon_mismatches(fd, 4) == 0, "SCM_RIGHTS: the receiver reads the sender's pattern");
	CHECK(write_pattern(fd, 5) == 0, "SCM_RIGHTS: the receiver writes its own pattern");
	char done = 'D';
	CHECK(write(sock, &done, 1) == 1, "SCM_RIGHTS: receiver done");
	close(fd);
	return check_done();
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--exec-child"))
		return role_exec(atoi(argv[2]), atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "--receiver"))
		return role_receive(atoi(argv[2]));
	const char *heap = argc > 1 ? argv[1] : "system";

	/* fork: the child maps the inherited fd itself and writes */
	int fd = heap_alloc(heap, SIZE, O_RDWR);
	CHECK(fd >= 0, "allocate %d bytes from %s", SIZE, heap);
	CHECK(write_pattern(fd, 1) == 0, "parent writes a pattern before fork");
	pid_t pid = fork();
	if (pid == 0) {
		int ok = daemon_mismatches(fd, 1) == 0 && write_pattern(fd, 2) == 0;
		close(fd); /* the child's close drops the child's reference only */
		_exit(ok ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fork: the child read the parent's pattern and wrote its own through its own mapping");
	CHECK(daemon_mismatches(fd, 2) == 0, "fork: after SYNC the parent sees the child's bytes in the emulated memory");

	/* a normal exit is an implicit munmap: writes with no SYNC END still reach the emulated memory */
	pid = fork();
	if (pid == 0) {
		unsigned char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(1);
		fill(p, 6);
		exit(0);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && daemon_mismatches(fd, 6) == 0, "exit: a child's unsynced writes reach the emulated memory when it exits");

	/* exec: the fd (no O_CLOEXEC) survives into a new image; an O_CLOEXEC one does not */
	int cl = heap_alloc(heap, SIZE, O_RDWR | O_CLOEXEC);
	pid = fork();
	if (pid == 0) {
		char a[16], b[16];
		snprintf(a, sizeof a, "%d", fd);
		snprintf(b, sizeof b, "%d", cl);
		execl("/proc/self/exe", argv[0], "--exec-child", a, b, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exec: the new image used the inherited fd (exit %d)", WEXITSTATUS(status));
	CHECK(daemon_mismatches(fd, 3) == 0, "exec: the parent sees what the exec'd process wrote");
	close(cl);

	/* SCM_RIGHTS: a buffer created after the receiver started, passed over a socket */
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		char a[16];
		snprintf(a, sizeof a, "%d", sv[1]);
		execl("/proc/self/exe", argv[0], "--receiver", a, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	int passed = heap_alloc(heap, SIZE, O_RDWR | O_CLOEXEC);
	CHECK(write_pattern(passed, 4) == 0, "a new buffer with a pattern, to pass");
	CHECK(send_fd(sv[0], passed) == 0, "SCM_RIGHTS: sent");
	char done = 0;
	CHECK(read(sv[0], &done, 1) == 1 && done == 'D', "SCM_RIGHTS: the receiver answered");
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SCM_RIGHTS: the receiver passed its checks");
	CHECK(daemon_mismatches(passed, 5) == 0, "SCM_RIGHTS: the sender sees what the receiver wrote");
	close(passed);
	close(fd);
	return check_done();
}
