/*
 * A dma-buf lives while any process holds an fd of it, a mapping of it, or an fd of it in flight in
 * an SCM_RIGHTS message, as in the kernel; then it is freed. Driven by test/native.test.ts, which
 * looks at smafd between the steps: at each "wait <step>" line this program waits for a line on
 * stdin, while the test checks which buffers smafd holds.
 *
 *   sent      the sender closed its fd right after sendmsg: the buffer lives (in flight)
 *   received  the receiver mapped it and saw the sender's bytes, then closed it: freed
 *   forked    the parent closed its fd right after fork: the buffer lives (the child's fd)
 *   child     the child mapped it, saw the bytes and exited: freed
 *   unread    an fd sent and never received, the socket then closed: freed
 *   killed    the only holder (a child) killed with SIGKILL: freed
 * Usage: lifetime HEAP
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
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

#define SIZE (128 * 1024)

static const char *g_heap;

static void fill(int fd, unsigned seed)
{
	unsigned char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return;
	for (size_t i = 0; i < SIZE; i++)
		p[i] = (unsigned char)(i * 5 + seed);
	munmap(p, SIZE);
}

static bool holds(int fd, unsigned seed)
{
	unsigned char *p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return false;
	size_t bad = 0;
	for (size_t i = 0; i < SIZE; i++)
		bad += p[i] != (unsigned char)(i * 5 + seed);
	munmap(p, SIZE);
	return bad == 0;
}

/* Print "wait <step>" and block until the test answers a line. */
static void wait_for_test(const char *step)
{
	printf("wait %s\n", step);
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		exit(3);
}

/* The sender closes right after sendmsg; the receiver (started before the buffer existed) maps it later. */
static void sent_then_closed(void)
{
	int sv[2], go[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && pipe(go) == 0, "a socket pair to a receiver");
	pid_t rx = fork();
	if (rx == 0) {
		close(sv[0]);
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		int fd = recv_fd(sv[1]);
		int ok = fd >= 0 && holds(fd, 1);
		close(fd);
		_exit(ok ? 0 : 1);
	}
	int fd = heap_alloc(g_heap, SIZE, O_RDWR | O_CLOEXEC);
	fill(fd, 1);
	CHECK(fd >= 0 && send_fd(sv[0], fd) == 0, "sendmsg the dma-buf fd");
	CHECK(close(fd) == 0, "and close it at once");
	wait_for_test("sent");
	CHECK(write(go[1], "g", 1) == 1, "the receiver may read now");
	int st = 0;
	waitpid(rx, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the receiver mapped it and saw the sender's bytes");
	close(sv[0]);
	close(sv[1]);
	wait_for_test("received");
}

static void forked_then_closed(void)
{
	int go[2];
	CHECK(pipe(go) == 0, "a pipe to the child");
	int fd = heap_alloc(g_heap, SIZE, O_RDWR | O_CLOEXEC);
	fill(fd, 2);
	pid_t child = fork();
	if (child == 0) {
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(holds(fd, 2) ? 0 : 1);
	}
	CHECK(close(fd) == 0, "the parent closes its fd right after fork");
	wait_for_test("forked");
	CHECK(write(go[1], "g", 1) == 1, "the child may map it now");
	int st = 0;
	waitpid(child, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child mapped it and saw the parent's bytes");
	wait_for_test("child");
}

static void never_received(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "a socket pair nobody reads");
	int fd = heap_alloc(g_heap, SIZE, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0 && send_fd(sv[0], fd) == 0 && close(fd) == 0, "send the fd, close it");
	close(sv[0]);
	close(sv[1]);
	wait_for_test("unread");
}

static void holder_killed(void)
{
	int ready[2];
	CHECK(pipe(ready) == 0, "a pipe from the child");
	int fd = heap_alloc(g_heap, SIZE, O_RDWR | O_CLOEXEC);
	pid_t child = fork();
	if (child == 0) {
		void *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (write(ready[1], p == MAP_FAILED ? "n" : "y", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	char c = 0;
	CHECK(read(ready[0], &c, 1) == 1 && c == 'y', "the child maps the buffer");
	CHECK(close(fd) == 0, "the parent closes its fd: the child is the only holder");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	wait_for_test("killed");
}

int main(int argc, char **argv)
{
	g_heap = argc > 1 ? argv[1] : "system";
	sent_then_closed();
	forked_then_closed();
	never_received();
	holder_killed();
	return check_done();
}
