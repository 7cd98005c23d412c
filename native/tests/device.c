/*
 * A C program and an emulated device share a buffer through smafd. Driven by test/native.test.ts:
 *   device          allocate from linux,cma, write a pattern, name the buffer, print its export
 *                   token; on "check" from stdin, SYNC START and verify what a device wrote at 4096
 *   device --hold   allocate from every heap given after --hold and from /dev/smaf, map them all,
 *                   print "ready", then wait (the test kills it with SIGKILL)
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../smaf-wire.h"
#include "check.h"
#include "heap.h"
#include "driver.h"

#define SIZE (64 * 1024)

static int sync_buf(int fd, uint64_t flags) { return ioctl(fd, SMAF_DMA_BUF_IOCTL_SYNC, &flags); }

static int hold(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		for (int k = 0; k < 3; k++) {
			int fd = heap_alloc(argv[i], (size_t)(k + 1) * 256 * 1024, O_RDWR | O_CLOEXEC);
			void *p = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			CHECK(p != MAP_FAILED, "hold: %s buffer %d mapped", argv[i], k);
			if (p != MAP_FAILED)
				memset(p, 0x77, 4096);
			if (k == 2 && fd >= 0)
				dup(fd);
		}
	}
	int smaf = open("/dev/smaf", O_RDWR);
	struct smaf_create_data c = { .length = 1 << 20, .flags = SMAF_RDWR };
	CHECK(smaf >= 0 && ioctl(smaf, SMAF_IOC_CREATE, &c) == 0, "hold: a /dev/smaf buffer");
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	char line[16];
	while (fgets(line, sizeof line, stdin))
		;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--hold"))
		return hold(argc, argv);
	int fd = heap_alloc("linux,cma", SIZE, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0, "allocate 64 KiB from linux,cma");
	unsigned char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap it");
	if (fd < 0 || p == MAP_FAILED)
		return check_done();
	CHECK(sync_buf(fd, SMAF_DMA_BUF_SYNC_WRITE) == 0, "SYNC START");
	for (size_t i = 0; i < SIZE; i++)
		p[i] = (unsigned char)(i * 3);
	memcpy(p, "hello from C", 12);
	CHECK(sync_buf(fd, SMAF_DMA_BUF_SYNC_WRITE | SMAF_DMA_BUF_SYNC_END) == 0, "write a pattern, SYNC END");
	CHECK(ioctl(fd, SMAF_DMA_BUF_SET_NAME_B, "c-frame") == 0, "name it c-frame");

	/* an export token, for the Node side to import the buffer: zero-copy, a driver of the tests
	 * hands smafd the file and asks (driver.h); copy mode, the memfd's token page carries it */
	bool zero_copy = getenv("SMAF_NATIVE_SOCKET") != NULL;
	uint8_t token[SMAF_TOKEN_LEN] = { 0 };
	if (zero_copy) {
		int s = drv_connect();
		int h = drv_handle(s, fd);
		CHECK(h >= 0 && drv_call(s, SMAF_OP_EXPORT, h, NULL, 0, token, sizeof token, -1, NULL) == 0, "a driver exports it (zero-copy)");
	} else {
		struct smaf_token_page tp;
		CHECK(pread(fd, &tp, sizeof tp, SIZE) == (ssize_t)sizeof tp && !memcmp(tp.magic, SMAF_TOKEN_MAGIC, 8), "the memfd carries its token page (copy mode)");
		memcpy(token, tp.token, sizeof token);
	}
	printf("token ");
	for (unsigned i = 0; i < SMAF_TOKEN_LEN; i++)
		printf("%02x", token[i]);
	printf("\n");
	fflush(stdout);

	char line[64];
	if (fgets(line, sizeof line, stdin) && !strncmp(line, "stop", 4)) {
		munmap(p, SIZE);
		close(fd);
		return check_done();
	}
	CHECK(!strncmp(line, "check", 5), "the test says check");
	if (zero_copy) {
		CHECK(!memcmp(p + 4096, "hello from the GPU", 18), "the CPU sees what the device wrote at 4096, with no SYNC: \"%.18s\"", (const char *)p + 4096);
		CHECK(p[0] == 'h' && p[SIZE - 1] == (unsigned char)((SIZE - 1) * 3), "and its own bytes around it");
		munmap(p, SIZE);
		close(fd);
		return check_done();
	}
	memset(p + 4096, 0, 32); /* stale CPU bytes: SYNC START must replace them with the device's */
	/* a write-only bracket after a device wrote: START must still copy in, or END would push the
	 * stale bytes over the device's */
	CHECK(sync_buf(fd, SMAF_DMA_BUF_SYNC_WRITE) == 0, "SYNC START (write only) after the device wrote");
	memcpy(p + 8000, "CPU", 3);
	CHECK(sync_buf(fd, SMAF_DMA_BUF_SYNC_WRITE | SMAF_DMA_BUF_SYNC_END) == 0, "write 3 bytes at 8000, SYNC END");
	memset(p + 4096, 0, 32);
	CHECK(sync_buf(fd, SMAF_DMA_BUF_SYNC_READ) == 0, "SYNC START (read)");
	CHECK(!memcmp(p + 8000, "CPU", 3), "the CPU's own bytes reached smafd");
	CHECK(!memcmp(p + 4096, "hello from the GPU", 18), "the CPU sees what the device wrote at 4096: \"%.18s\"", (const char *)p + 4096);
	CHECK(p[0] == 'h' && p[SIZE - 1] == (unsigned char)((SIZE - 1) * 3), "and its own bytes around it");
	sync_buf(fd, SMAF_DMA_BUF_SYNC_READ | SMAF_DMA_BUF_SYNC_END);
	munmap(p, SIZE);
	close(fd);
	return check_done();
}
