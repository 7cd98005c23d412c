/*
 * The preload library cannot hang or crash its host:
 *   robust            a signal handler that closes, dups and fstats while the main loop is inside
 *                     the library never deadlocks; a forged memfd named like a dma-buf (unsealed,
 *                     truncated by its sender) is never mapped, so it cannot SIGBUS the receiver
 *   robust --hung     smafd stops answering (the test stops it after "ready"): the call fails with
 *                     EIO within SMAF_TIMEOUT_MS
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../smaf-wire.h"
#include "check.h"
#include "heap.h"

#define SIZE (64 * 1024)

static volatile sig_atomic_t g_fd = -1;
static volatile sig_atomic_t g_handled;

static void on_alarm(int sig)
{
	(void)sig;
	struct stat st;
	int d = dup(g_fd); /* POSIX allows all three in a signal handler */
	fstat(d, &st);
	close(d);
	g_handled++;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The main loop calls into the library while SIGALRM fires every 200 µs; a child, so a deadlock is seen. */
static void signal_safety(void)
{
	pid_t child = fork();
	if (child == 0) {
		int fd = heap_alloc("system", SIZE, O_RDWR | O_CLOEXEC);
		g_fd = fd;
		struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
		sigaction(SIGALRM, &sa, NULL);
		struct itimerval it = { { 0, 200 }, { 0, 200 } };
		setitimer(ITIMER_REAL, &it, NULL);
		uint64_t flags = SMAF_DMA_BUF_SYNC_READ;
		struct stat st;
		for (double end = now() + 1.0; now() < end;) {
			ioctl(fd, SMAF_DMA_BUF_IOCTL_SYNC, &flags); /* takes the library's lock */
			fstat(fd, &st);
			int d = dup(fd);
			close(d);
		}
		struct itimerval off = { { 0, 0 }, { 0, 0 } };
		setitimer(ITIMER_REAL, &off, NULL);
		_exit(g_handled > 100 ? 0 : 1);
	}
	int st = 0;
	double deadline = now() + 20;
	while (waitpid(child, &st, WNOHANG) == 0 && now() < deadline)
		usleep(10000);
	bool stuck = now() >= deadline;
	if (stuck) {
		kill(child, SIGKILL);
		waitpid(child, &st, 0);
	}
	CHECK(!stuck && WIFEXITED(st) && WEXITSTATUS(st) == 0, "close, dup and fstat in a SIGALRM handler while the main loop is in ioctl: no deadlock%s", stuck ? " (it hung)" : "");
}

/* A peer passes a memfd named like ours (with a copy-mode token page that is a real one's), then truncates it. */
static void forged_memfd(void)
{
	int real = heap_alloc("system", SIZE, O_RDWR | O_CLOEXEC);
	int sv[2];
	CHECK(real >= 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "a real dma-buf and a socket to a peer");
	pid_t peer = fork();
	if (peer == 0) {
		int forged = memfd_create(SMAF_MEMFD_BUFFER, 0); /* unsealed */
		if (ftruncate(forged, SIZE + SMAF_TOKEN_PAGE) != 0)
			_exit(2);
		struct smaf_token_page tp = { .length = SIZE };
		memcpy(tp.magic, SMAF_TOKEN_MAGIC, 8);
		if (pwrite(forged, &tp, sizeof tp, SIZE) != (ssize_t)sizeof tp || send_fd(sv[1], forged) != 0)
			_exit(2);
		char b;
		if (read(sv[1], &b, 1) != 1) /* the victim has it */
			_exit(2);
		if (ftruncate(forged, 0) != 0)
			_exit(2);
		_exit(write(sv[1], "t", 1) == 1 ? 0 : 2);
	}
	int got = recv_fd(sv[0]);
	CHECK(got >= 0, "the victim receives the forged fd");
	errno = 0;
	void *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, got, 0);
	CHECK(p == MAP_FAILED && errno == EINVAL, "mmap of a forged dma-buf: refused (EINVAL), never mapped");
	uint64_t flags = SMAF_DMA_BUF_SYNC_READ;
	CHECK_ERRNO(ioctl(got, SMAF_DMA_BUF_IOCTL_SYNC, &flags), ENOTTY, "a dma-buf ioctl on it: ENOTTY, as on any memfd");
	char b = 0;
	CHECK(write(sv[0], "g", 1) == 1 && read(sv[0], &b, 1) == 1 && b == 't', "the peer truncates it");
	if (p != MAP_FAILED)
		((volatile char *)p)[100] = 1; /* would be SIGBUS */
	CHECK(1, "the victim is alive after the truncation");
	waitpid(peer, NULL, 0);
	close(got);
	close(real);
	close(sv[0]);
	close(sv[1]);
}

/* The test stops smafd (SIGSTOP) after "ready", then answers a line. */
static void hung(void)
{
	printf("ready\n");
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof line, stdin))
		return;
	int smaf = open("/dev/smaf", O_RDWR | O_CLOEXEC);
	struct smaf_create_data c = { .length = 4096, .flags = SMAF_RDWR };
	double t0 = now();
	errno = 0;
	int r = ioctl(smaf, SMAF_IOC_CREATE, &c);
	double took = now() - t0;
	CHECK(r == -1 && errno == EIO, "CREATE while smafd does not answer: EIO (errno %d)", errno);
	CHECK(took < 10, "within the timeout (%.1f s)", took);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--hung")) {
		hung();
		return check_done();
	}
	signal_safety();
	forged_memfd();
	return check_done();
}
