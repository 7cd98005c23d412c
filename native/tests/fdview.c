/*
 * A dma-buf fd looks like one, to the program and to /proc: fdinfo, the fd link, maps, the stat
 * family, read/write/llseek, poll and epoll, the sync-file ioctls, the access mode it was made
 * with, EFAULT for bad pointers, and the kernel's errnos (drivers/dma-buf/dma-buf.c, dma-heap.c).
 * Zero-copy mode. Usage: fdview   (run with --heaps all: it uses the protected heap)
 */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../smaf-wire.h"
#include "check.h"
#include "heap.h"

#define SIZE (64 * 1024)

struct sync_file_arg {
	uint32_t flags;
	int32_t fd;
};

static int heap_fd(const char *name)
{
	char path[128];
	snprintf(path, sizeof path, "/dev/dma_heap/%s", name);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* The whole of a small file. */
static char *slurp(const char *path, char *buf, size_t cap)
{
	int f = open(path, O_RDONLY);
	ssize_t n = f >= 0 ? read(f, buf, cap - 1) : -1;
	close(f);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static void proc_views(int fd)
{
	char path[64], text[4096], link[256];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	slurp(path, text, sizeof text);
	CHECK(strstr(text, "pos:\t0\n") && strstr(text, "flags:\t02000002\n") && strstr(text, "mnt_id:\t"), "fdinfo: pos, flags (O_RDWR | O_CLOEXEC, no O_LARGEFILE), mnt_id");
	CHECK(strstr(text, "size:\t65536\n") && strstr(text, "count:\t1\n") && strstr(text, "exp_name:\tsystem\n") && !strstr(text, "name:\tsmaf"), "fdinfo: size, count, exp_name (the heap), no name yet");
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	CHECK(n > 0 && !strcmp(link, "/dmabuf:"), "readlink of the fd: \"%s\"", link);
	CHECK(ioctl(fd, SMAF_DMA_BUF_SET_NAME_B, "camera0") == 0, "DMA_BUF_SET_NAME camera0");
	n = readlink(path, link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	CHECK(!strcmp(link, "/dmabuf:camera0"), "readlink after SET_NAME: \"%s\"", link);
	CHECK(readlink(path, link, 4) == 4 && !memcmp(link, "/dma", 4), "readlink truncates to the buffer it is given, as the kernel");
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	slurp(path, text, sizeof text);
	CHECK(strstr(text, "name:\tcamera0\n") != NULL, "fdinfo: name after SET_NAME");
	void *p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	static char maps[1 << 16];
	slurp("/proc/self/maps", maps, sizeof maps);
	CHECK(p != MAP_FAILED && strstr(maps, "/dmabuf:camera0\n") != NULL && !strstr(maps, "smaf-dmabuf"), "/proc/self/maps names the mapping /dmabuf:camera0");
	munmap(p, SIZE);

	/* another process (under smaf exec) reads this one's /proc: the same */
	pid_t parent = getpid();
	pid_t child = fork();
	if (child == 0) {
		char cpath[64], ctext[4096], clink[256];
		snprintf(cpath, sizeof cpath, "/proc/%d/fdinfo/%d", (int)parent, fd);
		slurp(cpath, ctext, sizeof ctext);
		snprintf(cpath, sizeof cpath, "/proc/%d/fd/%d", (int)parent, fd);
		ssize_t k = readlink(cpath, clink, sizeof clink - 1);
		clink[k > 0 ? k : 0] = 0;
		_exit(strstr(ctext, "size:\t65536\n") && strstr(ctext, "exp_name:\tsystem\n") && strstr(ctext, "name:\tcamera0\n") && !strcmp(clink, "/dmabuf:camera0") ? 0 : 1);
	}
	int st = 0;
	waitpid(child, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another process's view of /proc/PID/fdinfo and /proc/PID/fd agrees");
}

static void stat_family(int fd)
{
	struct stat st;
	struct statx sx;
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	CHECK(fstat(fd, &st) == 0 && st.st_size == SIZE, "fstat: the buffer's size (%lld)", (long long)st.st_size);
	CHECK(fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 && st.st_size == SIZE, "fstatat(AT_EMPTY_PATH): the size");
	CHECK(statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &sx) == 0 && sx.stx_size == SIZE, "statx(AT_EMPTY_PATH): the size");
	CHECK(stat(path, &st) == 0 && st.st_size == SIZE, "stat(/proc/self/fd/N): the size");
	CHECK(lseek(fd, 0, SEEK_END) == SIZE && lseek(fd, 0, SEEK_SET) == 0, "llseek: SEEK_END 0 is the size, SEEK_SET 0 rewinds");
	CHECK_ERRNO(lseek(fd, 0, SEEK_CUR), EINVAL, "llseek SEEK_CUR: EINVAL");
	CHECK_ERRNO(lseek(fd, 4096, SEEK_SET), EINVAL, "llseek to an offset: EINVAL");
}

static void no_read_write(int fd)
{
	char b[16];
	struct iovec iov = { b, sizeof b };
	CHECK_ERRNO(read(fd, b, sizeof b), EINVAL, "read: EINVAL (a dma-buf has no read)");
	CHECK_ERRNO(write(fd, b, sizeof b), EINVAL, "write: EINVAL");
	CHECK_ERRNO(readv(fd, &iov, 1), EINVAL, "readv: EINVAL");
	CHECK_ERRNO(pread(fd, b, sizeof b, 0), ESPIPE, "pread: ESPIPE");
	CHECK_ERRNO(pwrite(fd, b, sizeof b, SIZE), ESPIPE, "pwrite: ESPIPE");
}

static void polling(int fd)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN | POLLOUT };
	CHECK(poll(&pf, 1, 1000) == 1 && (pf.revents & (POLLIN | POLLOUT)) == (POLLIN | POLLOUT), "poll: readable and writable (no device work pending)");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x5eed };
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl ADD of a dma-buf: 0");
	struct epoll_event got;
	CHECK(epoll_wait(ep, &got, 1, 1000) == 1 && got.data.u64 == 0x5eed && (got.events & EPOLLIN), "epoll_wait reports it, with the program's data");
	CHECK_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), EEXIST, "a second ADD of the same fd: EEXIST");
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) == 0, "DEL");
	CHECK(epoll_wait(ep, &got, 1, 0) == 0, "then nothing is reported");
	close(ep);

	struct sync_file_arg a = { .flags = SMAF_DMA_BUF_SYNC_READ, .fd = -1 };
	CHECK(ioctl(fd, SMAF_DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &a) == 0 && a.fd >= 0, "EXPORT_SYNC_FILE: a sync file fd (%d)", a.fd);
	CHECK(fcntl(a.fd, F_GETFD) == FD_CLOEXEC, "close-on-exec, as the kernel's");
	struct pollfd sp = { .fd = a.fd, .events = POLLIN };
	CHECK(poll(&sp, 1, 1000) == 1 && (sp.revents & POLLIN), "it polls signalled: no device work was pending");
	struct sync_file_arg b = { .flags = SMAF_DMA_BUF_SYNC_WRITE, .fd = a.fd };
	CHECK(ioctl(fd, SMAF_DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &b) == 0, "IMPORT_SYNC_FILE of it: 0");
	int pipefd[2];
	CHECK(pipe(pipefd) == 0, "a pipe");
	b.fd = pipefd[0];
	CHECK_ERRNO(ioctl(fd, SMAF_DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &b), EINVAL, "IMPORT_SYNC_FILE of a pipe: EINVAL");
	b.fd = -1;
	CHECK_ERRNO(ioctl(fd, SMAF_DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &b), EINVAL, "IMPORT_SYNC_FILE of fd -1: EINVAL");
	a.flags = 0;
	CHECK_ERRNO(ioctl(fd, SMAF_DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &a), EINVAL, "EXPORT_SYNC_FILE with no flags: EINVAL");
	a.flags = 0x8;
	CHECK_ERRNO(ioctl(fd, SMAF_DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &a), EINVAL, "EXPORT_SYNC_FILE with an unknown flag: EINVAL");
	close(pipefd[0]);
	close(pipefd[1]);
}

static void access_modes(void)
{
	int ro = heap_alloc("system", SIZE, O_RDONLY | O_CLOEXEC);
	CHECK(ro >= 0, "ALLOC with fd_flags O_RDONLY");
	int fl = fcntl(ro, F_GETFL);
	CHECK(fl >= 0 && (fl & O_ACCMODE) == O_RDONLY && !(fl & 0100000), "F_GETFL: O_RDONLY (0%o)", fl);
	CHECK_ERRNO(mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED ? -1 : 0, EACCES, "a writable shared mapping of it: EACCES");
	void *p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, ro, 0);
	CHECK(p != MAP_FAILED, "a read-only mapping works");
	munmap(p, SIZE);
	CHECK_ERRNO(write(ro, "x", 1), EBADF, "write on it: EBADF (no FMODE_WRITE)");
	close(ro);
}

static void bad_pointers(int fd)
{
	int heap = heap_fd("system");
	int smaf = open("/dev/smaf", O_RDWR | O_CLOEXEC);
	CHECK_ERRNO(ioctl(fd, SMAF_DMA_BUF_IOCTL_SYNC, (void *)8), EFAULT, "SYNC with a bad pointer: EFAULT");
	CHECK_ERRNO(ioctl(fd, SMAF_DMA_BUF_SET_NAME_B, (void *)8), EFAULT, "SET_NAME with a bad pointer: EFAULT");
	CHECK_ERRNO(ioctl(fd, SMAF_DMA_BUF_IOCTL_EXPORT_SYNC_FILE, (void *)8), EFAULT, "EXPORT_SYNC_FILE with a bad pointer: EFAULT");
	CHECK_ERRNO(ioctl(heap, SMAF_DMA_HEAP_IOCTL_ALLOC, (void *)8), EFAULT, "ALLOC with a bad pointer: EFAULT");
	CHECK_ERRNO(ioctl(smaf, SMAF_IOC_CREATE, (void *)8), EFAULT, "CREATE with a bad pointer: EFAULT");
	CHECK_ERRNO(ioctl(heap, SMAF_DMA_HEAP_IOCTL_ALLOC, NULL), EFAULT, "ALLOC with NULL: EFAULT");
	/* a pointer whose struct runs into an unmapped page */
	char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(two + 4096, 4096);
	CHECK_ERRNO(ioctl(heap, SMAF_DMA_HEAP_IOCTL_ALLOC, two + 4096 - 8), EFAULT, "ALLOC with a struct that ends in an unmapped page: EFAULT");
	memcpy(two + 4096 - 4, "abcd", 4);
	CHECK_ERRNO(ioctl(fd, SMAF_DMA_BUF_SET_NAME_B, two + 4096 - 4), EFAULT, "SET_NAME with no NUL before an unmapped page: EFAULT");
	munmap(two, 4096);
	close(smaf);
	close(heap);
}

static void kernel_errnos(void)
{
	int heap = heap_fd("system");
	struct smaf_dma_heap_allocation_data d = { .len = UINT64_MAX, .fd_flags = O_RDWR };
	CHECK_ERRNO(ioctl(heap, SMAF_DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, "ALLOC of a length that wraps to 0 when page-aligned: EINVAL");
	d.len = 1ull << 62;
	CHECK_ERRNO(ioctl(heap, SMAF_DMA_HEAP_IOCTL_ALLOC, &d), ENOMEM, "ALLOC of 4 EiB: ENOMEM");
	d.len = 4096;
	CHECK_ERRNO(ioctl(heap, _IOWR('H', 1, struct smaf_dma_heap_allocation_data), &d), EINVAL, "a heap ioctl past the kernel's table: EINVAL");
	CHECK_ERRNO(ioctl(heap, _IOWR('X', 7, struct smaf_dma_heap_allocation_data), &d), EINVAL, "any type with nr 7: EINVAL (dma_heap_ioctl does not look at the type)");
	CHECK_ERRNO(ioctl(heap, _IO('X', 0)), EINVAL, "nr 0 of another type and no size: an ALLOC of length 0, EINVAL");
	close(heap);
	int prot = heap_alloc("protected,secure-carveout", SIZE, O_RDWR | O_CLOEXEC);
	CHECK(prot >= 0, "a protected buffer");
	CHECK_ERRNO(mmap(NULL, SIZE, PROT_READ, MAP_SHARED, prot, 0) == MAP_FAILED ? -1 : 0, EINVAL, "mmap of a protected heap's buffer: EINVAL (the TEE heap has no mmap)");
	close(prot);
}

int main(void)
{
	int fd = heap_alloc("system", SIZE, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0, "a 64 KiB buffer from the system heap");
	if (fd < 0)
		return check_done();
	proc_views(fd);
	stat_family(fd);
	no_read_write(fd);
	polling(fd);
	access_modes();
	bad_pointers(fd);
	kernel_errnos();
	close(fd);
	return check_done();
}
