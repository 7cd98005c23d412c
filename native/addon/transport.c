/*
 * A Unix stream socket server whose messages may carry file descriptors (SCM_RIGHTS), polled by
 * libuv on Node's own loop. Node's net module reads with read(2), which drops the descriptors of
 * an SCM_RIGHTS message; smafd needs them to hand C programs their dma-buf files and to take files
 * back (a forged memfd is only recognised as a dma-buf if smafd sees the file itself).
 *
 * listen(path, mode, backlog, onConnection, onData, onDrain, onClose) -> listener
 *   onConnection(conn, id, pid, uid, gid): a new peer (conn: the handle the functions below take;
 *     id: a number naming it in the other callbacks), with SO_PEERCRED's kernel-verified identity
 *   onData(id, Buffer, fds | null): bytes read, and the descriptors that came with them
 *   onDrain(id): everything queued has been written
 *   onClose(id, errno): the connection is gone (0: the peer closed it or destroy() was called)
 * write(conn, bytes, fd) -> bytes still queued (fd -1: none; a descriptor, taken over, rides on the first byte)
 * pause(conn), resume(conn), destroy(conn), queued(conn), closeListener(listener)
 *
 * A connection is a napi external; its memory is freed once both libuv has closed its handle and
 * JavaScript has dropped the external, so a stale handle in JavaScript is harmless (EBADF).
 */
#include "addon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
#define MAX_FDS_IN 8
#define ACCEPTS_PER_EVENT 64

struct listener {
	uv_poll_t poll;
	struct listener *next_live;
	int fd;
	bool closing;
	int refs; /* libuv handle + JavaScript external */
	napi_env env;
	napi_async_context ctx;
	napi_ref on_conn, on_data, on_drain, on_close;
};

struct outbuf {
	struct outbuf *next;
	size_t len, off;
	int fd; /* to send with the first byte still unsent, or -1 */
	char data[];
};

struct conn {
	uv_poll_t poll;
	struct conn *next_live, *prev_live;
	int fd;
	int events;
	bool reading;
	bool closing;
	bool closed; /* libuv handle closed */
	int close_err;
	int refs;
	uint32_t id;
	struct outbuf *head, *tail;
	size_t queued;
	struct listener *l;
};

static char g_read_buf[READ_CHUNK];
static struct listener *g_listeners;
static struct conn *g_conns;

void transport_shutdown(void)
{
	for (struct listener *l = g_listeners; l; l = l->next_live)
		if (!l->closing)
			uv_poll_stop(&l->poll);
	for (struct conn *c = g_conns; c; c = c->next_live)
		if (!c->closing)
			uv_poll_stop(&c->poll);
}
static uint32_t g_next_id = 1;

static void listener_unref(struct listener *l)
{
	if (--l->refs > 0)
		return;
	napi_delete_reference(l->env, l->on_conn);
	napi_delete_reference(l->env, l->on_data);
	napi_delete_reference(l->env, l->on_drain);
	napi_delete_reference(l->env, l->on_close);
	napi_async_destroy(l->env, l->ctx);
	free(l);
}

static void conn_unref(struct conn *c)
{
	if (--c->refs > 0)
		return;
	for (struct outbuf *b = c->head, *n; b; b = n) {
		n = b->next;
		if (b->fd >= 0)
			close(b->fd);
		free(b);
	}
	struct listener *l = c->l;
	free(c);
	listener_unref(l);
}

static void conn_finalize(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)hint;
	conn_unref(data);
}

static void conn_closed(uv_handle_t *h)
{
	struct conn *c = (struct conn *)h;
	if (c->prev_live)
		c->prev_live->next_live = c->next_live;
	else if (g_conns == c)
		g_conns = c->next_live;
	if (c->next_live)
		c->next_live->prev_live = c->prev_live;
	close(c->fd);
	c->closed = true;
	struct listener *l = c->l;
	napi_handle_scope scope;
	napi_open_handle_scope(l->env, &scope);
	napi_value args[2];
	args[0] = make_int(l->env, c->id);
	args[1] = make_int(l->env, c->close_err);
	call_js(l->env, l->ctx, l->on_close, 2, args);
	napi_close_handle_scope(l->env, scope);
	conn_unref(c);
}

static void conn_close(struct conn *c, int err)
{
	if (c->closing)
		return;
	c->closing = true;
	c->close_err = err;
	uv_poll_stop(&c->poll);
	uv_close((uv_handle_t *)&c->poll, conn_closed);
}

static void conn_poll_cb(uv_poll_t *h, int status, int events);

static void conn_update(struct conn *c)
{
	if (c->closing)
		return;
	int want = (c->reading ? UV_READABLE : 0) | (c->head ? UV_WRITABLE : 0);
	if (want == c->events)
		return;
	c->events = want;
	if (want)
		uv_poll_start(&c->poll, want, conn_poll_cb);
	else
		uv_poll_stop(&c->poll);
}

/* One sendmsg of what the head buffer holds (with its fd on the first byte). -errno, or bytes. */
static ssize_t send_some(int fd, const char *data, size_t len, int pass_fd)
{
	struct iovec iov = { (void *)data, len };
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (pass_fd >= 0) {
		memset(cbuf, 0, sizeof cbuf);
		m.msg_control = cbuf;
		m.msg_controllen = sizeof cbuf;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	}
	for (;;) {
		ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

/* Write queued buffers until the socket is full. Returns false when the connection failed. */
static bool flush(struct conn *c)
{
	while (c->head) {
		struct outbuf *b = c->head;
		ssize_t n = send_some(c->fd, b->data + b->off, b->len - b->off, b->fd);
		if (n == -EAGAIN)
			return true;
		if (n < 0) {
			conn_close(c, (int)-n);
			return false;
		}
		if (b->fd >= 0 && n > 0) {
			close(b->fd); /* the peer has its own copy now */
			b->fd = -1;
		}
		b->off += (size_t)n;
		c->queued -= (size_t)n;
		if (b->off < b->len)
			return true;
		c->head = b->next;
		if (!c->head)
			c->tail = NULL;
		free(b);
	}
	return true;
}

static void deliver(struct conn *c, ssize_t n, struct msghdr *m)
{
	struct listener *l = c->l;
	napi_env env = l->env;
	napi_handle_scope scope;
	napi_open_handle_scope(env, &scope);
	napi_value args[3];
	args[0] = make_int(env, c->id);
	if (napi_create_buffer_copy(env, (size_t)n, g_read_buf, NULL, &args[1]) != napi_ok) {
		napi_close_handle_scope(env, scope); /* Node is tearing down: no JavaScript runs any more */
		return;
	}
	napi_get_null(env, &args[2]);
	int count = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		if (count == 0)
			napi_create_array(env, &args[2]);
		for (int i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + (size_t)i * sizeof(int), sizeof fd);
			napi_set_element(env, args[2], (uint32_t)count++, make_int(env, fd));
		}
	}
	call_js(env, l->ctx, l->on_data, 3, args);
	napi_close_handle_scope(env, scope);
}

static void on_readable(struct conn *c)
{
	struct iovec iov = { g_read_buf, sizeof g_read_buf };
	char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS_IN)];
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	ssize_t n;
	do
		n = recvmsg(c->fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN)
			conn_close(c, errno);
		return;
	}
	if (n == 0) {
		/* descriptors sent with no bytes cannot happen on a stream socket; EOF */
		conn_close(c, 0);
		return;
	}
	c->refs++; /* JavaScript may destroy the connection while it handles the bytes */
	deliver(c, n, &m);
	conn_unref(c);
}

static void conn_poll_cb(uv_poll_t *h, int status, int events)
{
	struct conn *c = (struct conn *)h;
	if (c->closing || addon_env_closing)
		return;
	if (status < 0) {
		conn_close(c, -status);
		return;
	}
	if ((events & UV_WRITABLE) && c->head) {
		if (!flush(c))
			return;
		if (!c->head) {
			conn_update(c);
			napi_handle_scope scope;
			napi_open_handle_scope(c->l->env, &scope);
			napi_value arg = make_int(c->l->env, c->id);
			c->refs++;
			call_js(c->l->env, c->l->ctx, c->l->on_drain, 1, &arg);
			napi_close_handle_scope(c->l->env, scope);
			bool gone = c->closing;
			conn_unref(c);
			if (gone)
				return;
		}
	}
	if ((events & UV_READABLE) && c->reading && !c->closing)
		on_readable(c);
}

static void accept_one(struct listener *l, int fd)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return;
	}
	uv_loop_t *loop;
	napi_get_uv_event_loop(l->env, &loop);
	if (uv_poll_init(loop, &c->poll, fd) != 0) {
		free(c);
		close(fd);
		return;
	}
	c->fd = fd;
	c->l = l;
	c->next_live = g_conns;
	if (g_conns)
		g_conns->prev_live = c;
	g_conns = c;
	c->refs = 2; /* libuv handle + the JavaScript external */
	c->id = g_next_id++;
	l->refs++;
	c->reading = true;
	conn_update(c);
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof cred;
	getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
	napi_env env = l->env;
	napi_handle_scope scope;
	napi_open_handle_scope(env, &scope);
	napi_value args[5];
	napi_create_external(env, c, conn_finalize, NULL, &args[0]);
	args[1] = make_int(env, c->id);
	args[2] = make_int(env, cred.pid);
	args[3] = make_int(env, (int64_t)cred.uid);
	args[4] = make_int(env, (int64_t)cred.gid);
	call_js(env, l->ctx, l->on_conn, 5, args);
	napi_close_handle_scope(env, scope);
}

static void listener_closed(uv_handle_t *h)
{
	struct listener *l = (struct listener *)h;
	for (struct listener **p = &g_listeners; *p; p = &(*p)->next_live) {
		if (*p == l) {
			*p = l->next_live;
			break;
		}
	}
	close(l->fd);
	listener_unref(l);
}

static bool refuse_one(struct listener *l);

static void listener_poll_cb(uv_poll_t *h, int status, int events)
{
	struct listener *l = (struct listener *)h;
	(void)events;
	if (l->closing || status < 0 || addon_env_closing)
		return;
	for (int i = 0; i < ACCEPTS_PER_EVENT && !l->closing; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			accept_one(l, fd);
			continue;
		}
		if ((errno != EMFILE && errno != ENFILE) || !refuse_one(l))
			return; /* EAGAIN, or a transient failure: the next event retries */
	}
}

/*
 * smafd is out of descriptors: the connection waiting first is accepted and closed at once (its
 * peer reads EOF), with the descriptor kept in reserve for that, as libuv does. Otherwise it would
 * stay queued and the listener readable, and the loop would spin on it until a descriptor frees.
 */
static int g_reserve_fd = -1;

static bool refuse_one(struct listener *l)
{
	if (g_reserve_fd < 0)
		return false;
	close(g_reserve_fd);
	int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
	g_reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return fd >= 0;
}

static void listener_finalize(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)hint;
	listener_unref(data);
}

static bool get_external(napi_env env, napi_value v, void **out)
{
	napi_valuetype t;
	if (napi_typeof(env, v, &t) != napi_ok || t != napi_external)
		return false;
	return napi_get_value_external(env, v, out) == napi_ok;
}

/* listen(path, mode, backlog, onConnection, onData, onDrain, onClose) */
static napi_value js_listen(napi_env env, napi_callback_info info)
{
	size_t argc = 7;
	napi_value argv[7];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t plen = 0;
	int64_t mode, backlog;
	if (argc < 7 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok || plen == 0 ||
	    !arg_int(env, argv[1], &mode) || !arg_int(env, argv[2], &backlog))
		return addon_throw_type(env, "listen(path, mode, backlog, onConnection, onData, onDrain, onClose)");
	if (plen >= sizeof path - 1)
		return addon_throw_errno(env, "listen: socket path", ENAMETOOLONG);
	if (g_reserve_fd < 0)
		g_reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return addon_throw_errno(env, "socket", errno);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, path, plen + 1);
	/* the socket file is born with its final mode: nobody can connect in between */
	mode_t old = umask((mode_t)(~mode & 0777));
	int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	int e = errno;
	umask(old);
	if (r != 0) {
		close(fd);
		return addon_throw_errno(env, "bind", e);
	}
	if (listen(fd, (int)backlog) != 0) {
		e = errno;
		close(fd);
		unlink(path);
		return addon_throw_errno(env, "listen", e);
	}
	struct listener *l = calloc(1, sizeof *l);
	uv_loop_t *loop;
	napi_get_uv_event_loop(env, &loop);
	if (!l || uv_poll_init(loop, &l->poll, fd) != 0) {
		free(l);
		close(fd);
		unlink(path);
		return addon_throw_errno(env, "uv_poll_init", ENOMEM);
	}
	l->fd = fd;
	l->env = env;
	l->refs = 2;
	l->next_live = g_listeners;
	g_listeners = l;
	napi_create_reference(env, argv[3], 1, &l->on_conn);
	napi_create_reference(env, argv[4], 1, &l->on_data);
	napi_create_reference(env, argv[5], 1, &l->on_drain);
	napi_create_reference(env, argv[6], 1, &l->on_close);
	napi_value name;
	napi_create_string_utf8(env, "smaf-native-socket", NAPI_AUTO_LENGTH, &name);
	napi_async_init(env, NULL, name, &l->ctx);
	uv_poll_start(&l->poll, UV_READABLE, listener_poll_cb);
	napi_value ext;
	napi_create_external(env, l, listener_finalize, NULL, &ext);
	return ext;
}

static napi_value js_close_listener(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	struct listener *l;
	if (argc < 1 || !get_external(env, argv[0], (void **)&l))
		return addon_throw_type(env, "closeListener(listener)");
	if (!l->closing) {
		l->closing = true;
		uv_poll_stop(&l->poll);
		uv_close((uv_handle_t *)&l->poll, listener_closed);
	}
	return make_undefined(env);
}

static struct conn *conn_arg(napi_env env, napi_callback_info info, size_t want, napi_value *argv)
{
	size_t argc = want;
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	struct conn *c;
	if (argc < want || !get_external(env, argv[0], (void **)&c))
		return NULL;
	return c;
}

/*
 * write(conn, bytes, fd): the fd (>= 0) is the addon's from now on (it rides on the first byte and is
 * closed once sent, or with the connection): no descriptor is needed to pass it. A throw leaves it
 * the caller's.
 */
static napi_value js_write(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	struct conn *c = conn_arg(env, info, 3, argv);
	void *data = NULL;
	size_t len = 0;
	int64_t pass;
	bool typed;
	if (!c || napi_is_typedarray(env, argv[1], &typed) != napi_ok || !typed || !arg_int(env, argv[2], &pass))
		return addon_throw_type(env, "write(conn, Uint8Array, fd)");
	napi_typedarray_type tt;
	napi_value ab;
	size_t boff;
	napi_get_typedarray_info(env, argv[1], &tt, &len, &data, &ab, &boff);
	if (tt != napi_uint8_array)
		return addon_throw_type(env, "write: bytes must be a Uint8Array");
	if (c->closing)
		return addon_throw_errno(env, "write", EPIPE);
	int fd = pass >= 0 ? (int)pass : -1;
	size_t off = 0;
	if (!c->head) {
		ssize_t n = len ? send_some(c->fd, data, len, fd) : 0;
		if (n < 0 && n != -EAGAIN) {
			if (fd >= 0)
				close(fd);
			conn_close(c, (int)-n);
			return make_int(env, 0);
		}
		if (n > 0) {
			off = (size_t)n;
			if (fd >= 0) {
				close(fd);
				fd = -1;
			}
		}
	}
	if (off < len) {
		struct outbuf *b = malloc(sizeof *b + (len - off));
		if (!b) {
			if (fd >= 0)
				close(fd);
			conn_close(c, ENOMEM);
			return make_int(env, 0);
		}
		b->next = NULL;
		b->len = len - off;
		b->off = 0;
		b->fd = fd;
		memcpy(b->data, (char *)data + off, len - off);
		if (c->tail)
			c->tail->next = b;
		else
			c->head = b;
		c->tail = b;
		c->queued += len - off;
		conn_update(c);
	} else if (fd >= 0) {
		close(fd); /* len 0: nothing to carry it */
	}
	return make_int(env, (int64_t)c->queued);
}

static napi_value js_queued(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	struct conn *c = conn_arg(env, info, 1, argv);
	if (!c)
		return addon_throw_type(env, "queued(conn)");
	return make_int(env, (int64_t)c->queued);
}

static napi_value js_pause(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	struct conn *c = conn_arg(env, info, 1, argv);
	if (!c)
		return addon_throw_type(env, "pause(conn)");
	c->reading = false;
	conn_update(c);
	return make_undefined(env);
}

static napi_value js_resume(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	struct conn *c = conn_arg(env, info, 1, argv);
	if (!c)
		return addon_throw_type(env, "resume(conn)");
	c->reading = true;
	conn_update(c);
	return make_undefined(env);
}

static napi_value js_destroy(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	struct conn *c = conn_arg(env, info, 1, argv);
	if (!c)
		return addon_throw_type(env, "destroy(conn)");
	conn_close(c, 0);
	return make_undefined(env);
}

void transport_register(napi_env env, napi_value exports)
{
	EXPORT_FN(env, exports, "listen", js_listen);
	EXPORT_FN(env, exports, "closeListener", js_close_listener);
	EXPORT_FN(env, exports, "write", js_write);
	EXPORT_FN(env, exports, "queued", js_queued);
	EXPORT_FN(env, exports, "pause", js_pause);
	EXPORT_FN(env, exports, "resume", js_resume);
	EXPORT_FN(env, exports, "destroy", js_destroy);
}
