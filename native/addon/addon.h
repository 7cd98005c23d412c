/*
 * smaf-addon: what smafd needs from the host kernel that Node does not offer, as a small N-API
 * addon built by the system's C compiler (src/native/build.ts). docs/architecture.md says why.
 *
 * - transport.c: a Unix stream socket whose messages may carry file descriptors (SCM_RIGHTS), for
 *   the C programs of `smaf exec`, with the peer's kernel-verified credentials (SO_PEERCRED).
 * - files.c: per-buffer memfds mapped into smafd (the emulated memory of a buffer a C program maps
 *   IS the memfd's pages: zero-copy), reopened read-only or read-write for handing out, eventfds
 *   for sync files, inotify on the memfds (a buffer's C-side references are its open files), and
 *   PR_SET_DUMPABLE so that no other process of the same user reads smafd's memory.
 *
 * Every function validates its JavaScript arguments and throws a JavaScript Error naming the
 * errno on failure; nothing here keeps state beyond what its handles own.
 */
#ifndef SMAF_ADDON_H
#define SMAF_ADDON_H
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* Throw "<what>: <strerror(err)>" with .code = "E..." and .errno = err; returns NULL for napi. */
napi_value addon_throw_errno(napi_env env, const char *what, int err);
/* Throw a TypeError for a bad argument; returns NULL. */
napi_value addon_throw_type(napi_env env, const char *what);

bool arg_int(napi_env env, napi_value v, int64_t *out);
bool arg_bool(napi_env env, napi_value v, bool *out);
napi_value make_int(napi_env env, int64_t v);
napi_value make_undefined(napi_env env);

/* Call fn(args) from a libuv callback (a fresh handle scope and callback scope); an exception
 * thrown by fn goes to Node's uncaught-exception path. */
void call_js(napi_env env, napi_async_context ctx, napi_ref fn, size_t argc, napi_value *argv);

void transport_register(napi_env env, napi_value exports);
void files_register(napi_env env, napi_value exports);
/* Node is tearing the environment down: stop every poll, call no JavaScript any more. */
void transport_shutdown(void);
void files_shutdown(void);
extern bool addon_env_closing;

#define EXPORT_FN(env, exports, name, fn)                                                   \
	do {                                                                                \
		napi_value f_;                                                              \
		napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f_);           \
		napi_set_named_property(env, exports, name, f_);                            \
	} while (0)

#endif
