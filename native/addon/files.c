/*
 * Files smafd shares with C programs, and what it learns from the kernel about them.
 *
 * memfd(name, size, later) -> fd        a sealed memfd (cannot grow, shrink, or take new seals; with
 *                                       `later`, it takes one more: sealWrites)
 * sealWrites(fd)                        no new writable mapping or write() of the memfd, from anyone:
 *                                       only the shared mappings that exist already can write
 * map(fd, size) -> ArrayBuffer          a MAP_SHARED view of it in smafd (freed when collected)
 * detach(ArrayBuffer)                   the view's pages become private zero pages at once: the
 *                                       memfd's memory is no longer reachable through it, and a
 *                                       stale view reads zeros instead of crashing
 * discard(Uint8Array)                  zero the view's bytes: the whole pages inside it are given back
 *                                       to the kernel (MADV_REMOVE: the memfd reads zero there, no
 *                                       page is written), the edges and a sealed memfd's pages memset
 * reopen(fd, access) -> fd              a new open file of the same memfd (O_RDONLY, O_WRONLY, O_RDWR):
 *                                       what a program gets, so that its access mode is the kernel's
 * fstat(fd) -> [dev, ino, size, mode]   close(fd), dup(fd) -> fd
 * syncFile(signalled) -> [read, write]  a sync file: a pipe, readable once signal(write) wrote a byte;
 *                                       held(write): whether any read end is still open anywhere
 * watchStart(onEvents)                  inotify: onEvents(Int32Array [wd, mask, wd, mask, ...])
 * watch(fd) -> wd, unwatch(wd)          IN_OPEN | IN_CLOSE on a memfd: its open files come and go
 * watchDrain() -> Int32Array            the events queued now, read at once (the poll would see them later)
 * lock(fd, type, offset)               an OFD lock of one byte at offset on smafd's own open file
 *                                       (type 0 none, 1 read, 2 write): device work in flight on a
 *                                       buffer, which a program's F_OFD_GETLK sees (its SYNC's fast
 *                                       path); 0, or -errno when someone else's lock is in the way
 * alone(fd) -> bool                     whether smafd's open file is the only one of its memfd (the
 *                                       kernel's count of readers and writers, via a write lease)
 * setDumpable(on), raiseFdLimit() -> n
 */
#include "addon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static napi_value args_n(napi_env env, napi_callback_info info, size_t n, napi_value *argv, bool *ok)
{
	size_t argc = n;
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	*ok = argc >= n;
	return NULL;
}

static bool int_args(napi_env env, napi_callback_info info, size_t n, int64_t *out)
{
	napi_value argv[4];
	bool ok;
	args_n(env, info, n, argv, &ok);
	for (size_t i = 0; ok && i < n; i++)
		ok = arg_int(env, argv[i], &out[i]);
	return ok;
}

static napi_value js_memfd(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	bool ok, later = false;
	size_t argc = 3;
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	ok = argc >= 2 && (argc < 3 || arg_bool(env, argv[2], &later));
	char name[64];
	size_t nlen;
	int64_t size;
	if (!ok || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &nlen) != napi_ok || !arg_int(env, argv[1], &size) || size <= 0)
		return addon_throw_type(env, "memfd(name, size > 0, sealWritesLater?)");
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return addon_throw_errno(env, "memfd_create", errno);
	int seals = F_SEAL_SHRINK | F_SEAL_GROW | (later ? 0 : F_SEAL_SEAL);
	if (ftruncate(fd, (off_t)size) != 0 || fcntl(fd, F_ADD_SEALS, seals) != 0) {
		int e = errno;
		close(fd);
		return addon_throw_errno(env, "memfd: size and seals", e);
	}
	/*
	 * smafd keeps an open file of its own made by open(2), not memfd_create's: the file
	 * memfd_create makes is not counted among the inode's writers, and alone() counts on it.
	 */
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	int own = open(path, O_RDWR | O_CLOEXEC);
	int e = errno;
	close(fd);
	if (own < 0)
		return addon_throw_errno(env, "memfd: its own open file", e);
	return make_int(env, own);
}

static void unmap_finalize(napi_env env, void *data, void *hint)
{
	(void)env;
	munmap(data, (size_t)(uintptr_t)hint);
}

static napi_value js_map(napi_env env, napi_callback_info info)
{
	int64_t a[2];
	if (!int_args(env, info, 2, a) || a[0] < 0 || a[1] <= 0)
		return addon_throw_type(env, "map(fd, size > 0)");
	void *p = mmap(NULL, (size_t)a[1], PROT_READ | PROT_WRITE, MAP_SHARED, (int)a[0], 0);
	if (p == MAP_FAILED)
		return addon_throw_errno(env, "mmap", errno);
	napi_value ab;
	napi_status s = napi_create_external_arraybuffer(env, p, (size_t)a[1], unmap_finalize, (void *)(uintptr_t)a[1], &ab);
	if (s != napi_ok) {
		munmap(p, (size_t)a[1]);
		return addon_throw_errno(env, "an external ArrayBuffer (this Node forbids them)", ENOSYS);
	}
	return ab;
}

static napi_value js_detach(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	bool ok, is_ab;
	args_n(env, info, 1, argv, &ok);
	if (!ok || napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab)
		return addon_throw_type(env, "detach(ArrayBuffer)");
	void *data;
	size_t len;
	napi_get_arraybuffer_info(env, argv[0], &data, &len);
	if (len > 0 && mmap(data, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return addon_throw_errno(env, "detach", errno);
	return make_undefined(env);
}

static napi_value js_discard(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	bool ok, is_ta;
	args_n(env, info, 1, argv, &ok);
	napi_typedarray_type type;
	size_t len;
	void *data;
	if (!ok || napi_is_typedarray(env, argv[0], &is_ta) != napi_ok || !is_ta ||
	    napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array)
		return addon_throw_type(env, "discard(Uint8Array)");
	uintptr_t start = (uintptr_t)data, end = start + len;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t first = (start + page - 1) & ~(page - 1), last = end & ~(page - 1);
	if (first < last && madvise((void *)first, last - first, MADV_REMOVE) == 0) {
		memset(data, 0, first - start);
		memset((void *)last, 0, end - last);
	} else if (len > 0) {
		memset(data, 0, len); /* a sealed memfd (EPERM), or less than a page */
	}
	return make_undefined(env);
}

static napi_value js_reopen(napi_env env, napi_callback_info info)
{
	int64_t a[2];
	if (!int_args(env, info, 2, a) || a[0] < 0 || (a[1] != O_RDONLY && a[1] != O_WRONLY && a[1] != O_RDWR))
		return addon_throw_type(env, "reopen(fd, O_RDONLY | O_WRONLY | O_RDWR)");
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", (int)a[0]);
	int r = open(path, (int)a[1] | O_CLOEXEC);
	if (r < 0)
		return addon_throw_errno(env, "reopen", errno);
	return make_int(env, r);
}

static napi_value js_close(napi_env env, napi_callback_info info)
{
	int64_t fd;
	if (!int_args(env, info, 1, &fd) || fd < 0)
		return addon_throw_type(env, "close(fd)");
	if (close((int)fd) != 0 && errno != EINTR)
		return addon_throw_errno(env, "close", errno);
	return make_undefined(env);
}

static napi_value js_dup(napi_env env, napi_callback_info info)
{
	int64_t fd;
	if (!int_args(env, info, 1, &fd) || fd < 0)
		return addon_throw_type(env, "dup(fd)");
	int r = fcntl((int)fd, F_DUPFD_CLOEXEC, 3);
	if (r < 0)
		return addon_throw_errno(env, "dup", errno);
	return make_int(env, r);
}

static napi_value js_fstat(napi_env env, napi_callback_info info)
{
	int64_t fd;
	if (!int_args(env, info, 1, &fd) || fd < 0)
		return addon_throw_type(env, "fstat(fd)");
	struct stat st;
	if (fstat((int)fd, &st) != 0)
		return addon_throw_errno(env, "fstat", errno);
	napi_value arr;
	napi_create_array_with_length(env, 4, &arr);
	napi_set_element(env, arr, 0, make_int(env, (int64_t)st.st_dev));
	napi_set_element(env, arr, 1, make_int(env, (int64_t)st.st_ino));
	napi_set_element(env, arr, 2, make_int(env, (int64_t)st.st_size));
	napi_set_element(env, arr, 3, make_int(env, (int64_t)st.st_mode));
	return arr;
}

/*
 * syncFile(signalled) -> [read, write]: a sync file is a pipe. The program gets its read end,
 * readable (signalled) once smafd writes a byte into the write end, which only smafd holds: the
 * program can neither signal it early nor, through file flags it shares, make smafd block. The
 * pipe is mode 0400, so its read end cannot be reopened for writing (but by root).
 */
static napi_value js_sync_file(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	bool ok, on;
	args_n(env, info, 1, argv, &ok);
	if (!ok || !arg_bool(env, argv[0], &on))
		return addon_throw_type(env, "syncFile(signalled)");
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
		return addon_throw_errno(env, "pipe2", errno);
	/* read-only for everyone: a holder cannot reopen its read end through /proc/PID/fd as a write
	 * end (Linux would hand one back) and signal it early; smafd's write end is open already */
	if (fchmod(p[0], 0400) != 0 || (on && write(p[1], "", 1) != 1)) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return addon_throw_errno(env, "syncFile", e);
	}
	napi_value r;
	napi_create_array_with_length(env, 2, &r);
	napi_set_element(env, r, 0, make_int(env, p[0]));
	napi_set_element(env, r, 1, make_int(env, p[1]));
	return r;
}

/* signal(write end): the sync file becomes readable (never blocks; no reader left is fine). */
static napi_value js_signal(napi_env env, napi_callback_info info)
{
	int64_t a[1];
	if (!int_args(env, info, 1, a) || a[0] < 0)
		return addon_throw_type(env, "signal(fd)");
	if (write((int)a[0], "", 1) != 1 && errno != EAGAIN && errno != EPIPE)
		return addon_throw_errno(env, "signal", errno);
	return make_undefined(env);
}

/* held(write end): whether any read end of the sync file is still open anywhere (POLLERR: none). */
static napi_value js_held(napi_env env, napi_callback_info info)
{
	int64_t a[1];
	if (!int_args(env, info, 1, a) || a[0] < 0)
		return addon_throw_type(env, "held(fd)");
	struct pollfd p = { .fd = (int)a[0], .events = POLLOUT };
	napi_value r;
	napi_get_boolean(env, !(poll(&p, 1, 0) == 1 && (p.revents & POLLERR)), &r);
	return r;
}

/* ---- inotify --------------------------------------------------------------------------------- */

static struct {
	int fd;
	uv_poll_t poll;
	napi_env env;
	napi_ref cb;
	napi_async_context ctx;
} g_watch = { .fd = -1 };

void files_shutdown(void)
{
	if (g_watch.fd >= 0)
		uv_poll_stop(&g_watch.poll);
}

#define WATCH_BUF 16384
#define WATCH_PAIRS (2 * (WATCH_BUF / sizeof(struct inotify_event)))

/* One read of the inotify queue as [wd, mask] pairs: how many int32s, 0 when it is empty. */
static size_t read_events(int32_t *pairs)
{
	char buf[WATCH_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(g_watch.fd, buf, sizeof buf);
	if (n <= 0)
		return 0;
	size_t k = 0;
	for (char *p = buf; p < buf + n;) {
		struct inotify_event *e = (struct inotify_event *)p;
		pairs[k++] = e->wd;
		pairs[k++] = (int32_t)e->mask;
		p += sizeof *e + e->len;
	}
	return k;
}

/* An Int32Array of the pairs, or NULL when Node can no longer make one (it is tearing down: its
 * handles' last callbacks run before the addon's cleanup hook, and JavaScript cannot run then). */
static napi_value int32_array(napi_env env, const int32_t *pairs, size_t k)
{
	napi_value ab, arr;
	void *data = NULL;
	if (napi_create_arraybuffer(env, k * sizeof(int32_t), &data, &ab) != napi_ok || (k && !data))
		return NULL;
	if (k)
		memcpy(data, pairs, k * sizeof(int32_t));
	if (napi_create_typedarray(env, napi_int32_array, k, ab, 0, &arr) != napi_ok)
		return NULL;
	return arr;
}

static void watch_poll_cb(uv_poll_t *h, int status, int events)
{
	(void)h;
	(void)events;
	if (status < 0 || addon_env_closing)
		return;
	int32_t pairs[WATCH_PAIRS];
	for (size_t k; (k = read_events(pairs)) > 0;) {
		napi_env env = g_watch.env;
		napi_handle_scope scope;
		napi_open_handle_scope(env, &scope);
		napi_value arr = int32_array(env, pairs, k);
		if (arr)
			call_js(env, g_watch.ctx, g_watch.cb, 1, &arr);
		napi_close_handle_scope(env, scope);
		if (!arr) { /* Node is tearing down: nobody will read these events */
			uv_poll_stop(&g_watch.poll);
			return;
		}
	}
}

/* The events queued now, at once (the caller handles them as watchStart's callback would); one read of an empty queue when there are none. */
static napi_value js_watch_drain(napi_env env, napi_callback_info info)
{
	(void)info;
	if (g_watch.fd < 0) {
		napi_value arr = int32_array(env, NULL, 0);
		return arr ? arr : make_undefined(env);
	}
	static int32_t all[8 * WATCH_PAIRS];
	int32_t pairs[WATCH_PAIRS];
	size_t total = 0;
	for (size_t k; total + WATCH_PAIRS <= sizeof all / sizeof *all && (k = read_events(pairs)) > 0; total += k)
		memcpy(all + total, pairs, k * sizeof(int32_t));
	napi_value arr = int32_array(env, all, total);
	return arr ? arr : make_undefined(env);
}

static napi_value js_watch_start(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	bool ok;
	args_n(env, info, 1, argv, &ok);
	if (!ok)
		return addon_throw_type(env, "watchStart(onEvents)");
	if (g_watch.fd >= 0)
		return addon_throw_errno(env, "watchStart", EBUSY);
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return addon_throw_errno(env, "inotify_init1", errno);
	uv_loop_t *loop;
	napi_get_uv_event_loop(env, &loop);
	if (uv_poll_init(loop, &g_watch.poll, fd) != 0) {
		close(fd);
		return addon_throw_errno(env, "uv_poll_init", ENOMEM);
	}
	g_watch.fd = fd;
	g_watch.env = env;
	napi_create_reference(env, argv[0], 1, &g_watch.cb);
	napi_value name;
	napi_create_string_utf8(env, "smaf-file-watch", NAPI_AUTO_LENGTH, &name);
	napi_async_init(env, NULL, name, &g_watch.ctx);
	uv_poll_start(&g_watch.poll, UV_READABLE, watch_poll_cb);
	/* the watch must not keep the process alive on its own */
	uv_unref((uv_handle_t *)&g_watch.poll);
	return make_undefined(env);
}

static napi_value js_watch(napi_env env, napi_callback_info info)
{
	int64_t fd;
	if (!int_args(env, info, 1, &fd) || fd < 0)
		return addon_throw_type(env, "watch(fd)");
	if (g_watch.fd < 0)
		return addon_throw_errno(env, "watch before watchStart", EINVAL);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", (int)fd);
	int wd = inotify_add_watch(g_watch.fd, path, IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE);
	if (wd < 0)
		return addon_throw_errno(env, "inotify_add_watch", errno);
	return make_int(env, wd);
}

static napi_value js_unwatch(napi_env env, napi_callback_info info)
{
	int64_t wd;
	if (!int_args(env, info, 1, &wd))
		return addon_throw_type(env, "unwatch(wd)");
	if (g_watch.fd >= 0)
		inotify_rm_watch(g_watch.fd, (int)wd); /* EINVAL when already gone: nothing to do */
	return make_undefined(env);
}

static napi_value js_seal_writes(napi_env env, napi_callback_info info)
{
	int64_t fd;
	if (!int_args(env, info, 1, &fd) || fd < 0)
		return addon_throw_type(env, "sealWrites(fd)");
	if (fcntl((int)fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) != 0)
		return addon_throw_errno(env, "F_ADD_SEALS F_SEAL_FUTURE_WRITE", errno);
	return make_undefined(env);
}

static napi_value js_lock(napi_env env, napi_callback_info info)
{
	int64_t a[3];
	if (!int_args(env, info, 3, a) || a[0] < 0 || a[1] < 0 || a[1] > 2 || a[2] < 0)
		return addon_throw_type(env, "lock(fd, 0 | 1 | 2, offset)");
	static const short types[] = { F_UNLCK, F_RDLCK, F_WRLCK };
	struct flock fl = { .l_type = types[a[1]], .l_whence = SEEK_SET, .l_start = (off_t)a[2], .l_len = 1 };
	return make_int(env, fcntl((int)a[0], F_OFD_SETLK, &fl) == 0 ? 0 : -errno);
}

/*
 * Whether smafd's open file is the only open file of its inode, exactly, as the kernel counts them:
 * a write lease is granted only then (fs/locks.c counts the inode's readers and writers), and an
 * fd of another process, a mapping whose fd was closed, and an fd in flight in an SCM_RIGHTS
 * message each keep a file open. The lease is let go at once; while it is held nobody can open the
 * file anyway (no one else holds it, and smafd is not dumpable: no /proc/PID/fd of it), but a
 * lease break would send SIGIO, so SIGIO is ignored if nothing handles it.
 * Throws when the kernel grants no leases here (fs.leases-enable=0, EINVAL, EACCES).
 */
static napi_value js_alone(napi_env env, napi_callback_info info)
{
	int64_t a[1];
	if (!int_args(env, info, 1, a) || a[0] < 0)
		return addon_throw_type(env, "alone(fd)");
	static bool sigio_set;
	if (!sigio_set) {
		struct sigaction old;
		if (sigaction(SIGIO, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			signal(SIGIO, SIG_IGN);
		sigio_set = true;
	}
	if (fcntl((int)a[0], F_SETLEASE, F_WRLCK) == 0) {
		fcntl((int)a[0], F_SETLEASE, F_UNLCK);
		napi_value t;
		napi_get_boolean(env, true, &t);
		return t;
	}
	if (errno != EAGAIN && errno != EBUSY)
		return addon_throw_errno(env, "a write lease", errno);
	napi_value f;
	napi_get_boolean(env, false, &f);
	return f;
}

static napi_value js_set_dumpable(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	bool ok, on;
	args_n(env, info, 1, argv, &ok);
	if (!ok || !arg_bool(env, argv[0], &on))
		return addon_throw_type(env, "setDumpable(on)");
	if (prctl(PR_SET_DUMPABLE, on ? 1 : 0, 0, 0, 0) != 0)
		return addon_throw_errno(env, "prctl(PR_SET_DUMPABLE)", errno);
	return make_undefined(env);
}

static napi_value js_raise_fd_limit(napi_env env, napi_callback_info info)
{
	(void)info;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return addon_throw_errno(env, "getrlimit", errno);
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return make_int(env, rl.rlim_cur > INT32_MAX ? INT32_MAX : (int64_t)rl.rlim_cur);
}

void files_register(napi_env env, napi_value exports)
{
	EXPORT_FN(env, exports, "memfd", js_memfd);
	EXPORT_FN(env, exports, "map", js_map);
	EXPORT_FN(env, exports, "detach", js_detach);
	EXPORT_FN(env, exports, "discard", js_discard);
	EXPORT_FN(env, exports, "reopen", js_reopen);
	EXPORT_FN(env, exports, "close", js_close);
	EXPORT_FN(env, exports, "dup", js_dup);
	EXPORT_FN(env, exports, "fstat", js_fstat);
	EXPORT_FN(env, exports, "syncFile", js_sync_file);
	EXPORT_FN(env, exports, "signal", js_signal);
	EXPORT_FN(env, exports, "held", js_held);
	EXPORT_FN(env, exports, "watchStart", js_watch_start);
	EXPORT_FN(env, exports, "watch", js_watch);
	EXPORT_FN(env, exports, "watchDrain", js_watch_drain);
	EXPORT_FN(env, exports, "unwatch", js_unwatch);
	EXPORT_FN(env, exports, "sealWrites", js_seal_writes);
	EXPORT_FN(env, exports, "lock", js_lock);
	EXPORT_FN(env, exports, "alone", js_alone);
	EXPORT_FN(env, exports, "setDumpable", js_set_dumpable);
	EXPORT_FN(env, exports, "raiseFdLimit", js_raise_fd_limit);
}
