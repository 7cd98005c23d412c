/*
 * The device paths: /dev/smaf and /dev/dma_heap/<heap> open as memfds named after what they are
 * (no secret is needed to open them), /dev/dma_heap lists the heaps smaf exec chose, and stat,
 * access and getxattr see character devices (so that `ls -l /dev/dma_heap` works as on a kernel).
 */
#include "preload.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

bool is_absolute(const char *path) { return path != NULL && path[0] == '/'; }

bool is_empty_path(const char *path) { return path != NULL && path[0] == 0; }

enum path_kind classify_path(const char *path, const char **heap)
{
	if (!path)
		return P_OTHER;
	if (!strcmp(path, "/dev/smaf"))
		return P_SMAF;
	if (!strcmp(path, "/dev/tee0"))
		return P_TEE;
	if (strncmp(path, "/dev/dma_heap", 13) != 0)
		return P_OTHER;
	const char *rest = path + 13;
	if (!strcmp(rest, "") || !strcmp(rest, "/"))
		return P_HEAP_DIR;
	if (rest[0] != '/')
		return P_OTHER;
	*heap = rest + 1;
	return P_HEAP;
}

int device_open(const char *path, int flags, bool *handled)
{
	const char *heap = NULL;
	enum path_kind k = classify_path(path, &heap);
	*handled = k != P_OTHER;
	if (!*handled)
		return -1;
	if (k == P_HEAP_DIR)
		return g_heap_dir ? real_open(g_heap_dir, flags) : fail(ENOENT);
	if (k == P_TEE)
		return tee_open(flags);
	if (flags & O_DIRECTORY)
		return fail(ENOTDIR);
	if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		return fail(EEXIST);
	struct object tmp = { 0 };
	lock();
	if (k == P_HEAP && !read_heap_file(heap, &tmp)) {
		unlock();
		return fail(ENOENT);
	}
	char name[128];
	if (k == P_SMAF)
		snprintf(name, sizeof name, "%s", SMAF_MEMFD_DEVICE);
	else
		snprintf(name, sizeof name, "%s%s", SMAF_MEMFD_HEAP_PREFIX, tmp.heap);
	int fd = memfd_create(name, (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
	int e = errno;
	if (fd >= 0) {
		struct stat st;
		struct object *o = real_fstat(fd, &st) == 0 ? obj_new_locked(k == P_SMAF ? K_DEVICE : K_HEAP, st.st_dev, st.st_ino) : NULL;
		if (!o) {
			real_close(fd);
			unlock();
			return fail(EMFILE);
		}
		memcpy(o->heap, tmp.heap, sizeof o->heap);
		memcpy(o->allocator, tmp.allocator, sizeof o->allocator);
		o->secure_heap = tmp.secure_heap;
		fd_mark(fd);
	}
	debug("open(%s) = %d", path, fd);
	unlock();
	errno = e;
	return fd;
}

/* `name` relative to an fd of the heap directory (ls -l stats each entry that way): its path under
 * /dev/dma_heap, in out. */
bool heap_dir_entry(int dirfd, const char *name, char *out, size_t cap)
{
	struct stat dir, fst;
	if (!g_heap_dir || dirfd < 0 || !name || !*name || name[0] == '/' || strchr(name, '/'))
		return false;
	int saved = errno;
	bool same = real_fstat(dirfd, &fst) == 0 && real_stat(g_heap_dir, &dir) == 0 && fst.st_dev == dir.st_dev && fst.st_ino == dir.st_ino;
	errno = saved;
	if (!same)
		return false;
	snprintf(out, cap, "/dev/dma_heap/%s", name);
	return true;
}

int device_stat(const char *path, struct stat *st, int *ret)
{
	const char *heap = NULL;
	enum path_kind k = classify_path(path, &heap);
	if (k == P_OTHER)
		return 0;
	struct object tmp;
	bool missing = (k == P_HEAP_DIR && !g_heap_dir) || ((k == P_SMAF || k == P_TEE) && !getenv("SMAF_SOCKET"));
	if (!missing && k == P_HEAP) {
		lock();
		missing = !read_heap_file(heap, &tmp);
		unlock();
	}
	if (missing) {
		*ret = fail(ENOENT);
		return 1;
	}
	if (k == P_HEAP_DIR) {
		*ret = real_stat(g_heap_dir, st);
		return 1;
	}
	/* a minor per heap (the kernel numbers them in registration order; a hash of the name here) */
	unsigned minor = 0;
	for (const char *c = k == P_HEAP ? heap : ""; *c; c++)
		minor = minor * 31 + (unsigned char)*c;
	struct stat dir;
	bool dated = g_heap_dir && real_stat(g_heap_dir, &dir) == 0;
	memset(st, 0, sizeof *st);
	st->st_mode = S_IFCHR | 0666;
	st->st_nlink = 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_rdev = k == P_SMAF ? makedev(10, 125) : k == P_TEE ? makedev(248, 0) : makedev(251, minor % 128);
	st->st_ino = k == P_SMAF ? 1 : k == P_TEE ? 2 : 3 + minor % 128;
	st->st_blksize = 4096;
	if (dated) {
		st->st_atim = dir.st_atim;
		st->st_mtim = dir.st_mtim;
		st->st_ctim = dir.st_ctim;
	}
	*ret = 0;
	return 1;
}
