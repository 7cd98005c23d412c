/* smaf-addon: module initialisation and the helpers every part shares (addon.h). */
#include "addon.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *errno_name(int err)
{
	switch (err) {
#define E(x) case x: return #x;
	E(EPERM) E(ENOENT) E(EINTR) E(EIO) E(EBADF) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY)
	E(EEXIST) E(ENODEV) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOSPC) E(EPIPE) E(ENAMETOOLONG) E(ENOSYS)
	E(ENOTSOCK) E(EADDRINUSE) E(ECONNRESET) E(ENOTCONN) E(ECONNREFUSED) E(EOVERFLOW) E(ENXIO)
#undef E
	default: return "EIO";
	}
}

napi_value addon_throw_errno(napi_env env, const char *what, int err)
{
	char msg[256];
	snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
	napi_value m, code, error, no;
	napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
	napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
	napi_create_error(env, code, m, &error);
	napi_create_int32(env, err, &no);
	napi_set_named_property(env, error, "errno", no);
	napi_throw(env, error);
	return NULL;
}

napi_value addon_throw_type(napi_env env, const char *what)
{
	napi_throw_type_error(env, "EINVAL", what);
	return NULL;
}

bool arg_int(napi_env env, napi_value v, int64_t *out)
{
	napi_valuetype t;
	if (napi_typeof(env, v, &t) != napi_ok || t != napi_number)
		return false;
	double d;
	napi_get_value_double(env, v, &d);
	if (d != (double)(int64_t)d)
		return false;
	*out = (int64_t)d;
	return true;
}

bool arg_bool(napi_env env, napi_value v, bool *out)
{
	napi_valuetype t;
	if (napi_typeof(env, v, &t) != napi_ok || t != napi_boolean)
		return false;
	napi_get_value_bool(env, v, out);
	return true;
}

napi_value make_int(napi_env env, int64_t v)
{
	napi_value r;
	napi_create_int64(env, v, &r);
	return r;
}

napi_value make_undefined(napi_env env)
{
	napi_value r;
	napi_get_undefined(env, &r);
	return r;
}

bool addon_env_closing;

void call_js(napi_env env, napi_async_context ctx, napi_ref fn, size_t argc, napi_value *argv)
{
	if (addon_env_closing)
		return;
	napi_value f, recv, result;
	napi_get_reference_value(env, fn, &f);
	napi_get_global(env, &recv); /* make_callback needs an object as `this` */
	napi_status s = napi_make_callback(env, ctx, recv, f, argc, argv, &result);
	if (s == napi_pending_exception) {
		napi_value err;
		napi_get_and_clear_last_exception(env, &err);
		napi_fatal_exception(env, err);
	}
}

static void cleanup(void *arg)
{
	(void)arg;
	addon_env_closing = true;
	transport_shutdown();
	files_shutdown();
}

static napi_value init(napi_env env, napi_value exports)
{
	napi_add_env_cleanup_hook(env, cleanup, NULL);
	transport_register(env, exports);
	files_register(env, exports);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
