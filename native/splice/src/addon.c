/* Node-API glue: start(fdA, fdB, callback, pipeSize) -> handle,
 * counts(handle) -> [up, down, activity], stop(handle). The callback runs on
 * Node's loop thread (the polls are on Node's loop), as callback(kind, errno). */
#include <stdlib.h>
#include <string.h>
#include "tunnel.h"

#define CALL(env, expr)                                                      \
  do {                                                                       \
    if ((expr) != napi_ok) {                                                 \
      napi_throw_error((env), "ERR_SPLICE_NAPI", "Node-API call failed: " #expr); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

/* Frees the tunnel once nothing refers to it: JS's handle was collected and
 * both polls are closed (their close callbacks run on a later loop turn). */
void sk_free(sk_tunnel *t) {
  if (t->cb) napi_delete_reference(t->env, t->cb);
  if (t->actx) napi_async_destroy(t->env, t->actx);
  free(t);
}

static void finalize(napi_env env, void *data, void *hint) {
  sk_tunnel *t = data;
  sk_stop(t);
  sk_unref(t);
}

/* Calls JS with what happened, as an async callback (microtasks run after it);
 * a throw there becomes an uncaught exception, as from any other I/O callback. */
void sk_emit(sk_tunnel *t, int kind, int err) {
  napi_env env = t->env;
  napi_handle_scope scope;
  napi_value fn, recv, argv[2], result;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  t->refs++;
  if (napi_get_reference_value(env, t->cb, &fn) == napi_ok && napi_get_global(env, &recv) == napi_ok &&
      napi_create_int32(env, kind, &argv[0]) == napi_ok && napi_create_int32(env, err, &argv[1]) == napi_ok) {
    if (napi_make_callback(env, t->actx, recv, fn, 2, argv, &result) == napi_pending_exception) {
      napi_value e;
      if (napi_get_and_clear_last_exception(env, &e) == napi_ok) napi_fatal_exception(env, e);
    }
  }
  napi_close_handle_scope(env, scope);
  sk_unref(t);
}

static sk_tunnel *arg_tunnel(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a splice handle");
    return NULL;
  }
  return data;
}

static napi_value throw_errno(napi_env env, int err) {
  napi_value msg, code, e, no;
  const char *text = uv_strerror(err);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, uv_err_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &e);
  napi_create_int32(env, -err, &no);
  napi_set_named_property(env, e, "errno", no);
  napi_throw(env, e);
  return NULL;
}

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], handle, name;
  int32_t a, b, pipe_size;
  uv_loop_t *loop;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4 || napi_get_value_int32(env, argv[0], &a) != napi_ok || napi_get_value_int32(env, argv[1], &b) != napi_ok ||
      napi_get_value_int32(env, argv[3], &pipe_size) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "start(fdA, fdB, callback, pipeSize)");
    return NULL;
  }
  CALL(env, napi_get_uv_event_loop(env, &loop));
  sk_tunnel *t = calloc(1, sizeof *t);
  if (!t) return throw_errno(env, UV_ENOMEM);
  t->env = env;
  t->refs = 1; /* JS's handle */
  if (napi_create_reference(env, argv[2], 1, &t->cb) != napi_ok ||
      napi_create_string_utf8(env, "sockskit:splice", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &t->actx) != napi_ok) {
    sk_free(t);
    napi_throw_error(env, "ERR_SPLICE_NAPI", "could not set up the callback");
    return NULL;
  }
  int r = sk_open(t, loop, a, b, pipe_size);
  if (r) {
    sk_unref(t); /* freed now, or when the polls it opened have closed */
    return throw_errno(env, r);
  }
  CALL(env, napi_create_external(env, t, finalize, NULL, &handle));
  return handle;
}

static napi_value counts(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, v;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sk_tunnel *t = arg_tunnel(env, argv[0]);
  if (!t) return NULL;
  double values[3] = {t->dir[0].moved, t->dir[1].moved, t->activity};
  CALL(env, napi_create_array_with_length(env, 3, &out));
  for (uint32_t i = 0; i < 3; i++) {
    CALL(env, napi_create_double(env, values[i], &v));
    CALL(env, napi_set_element(env, out, i, v));
  }
  return out;
}

static napi_value stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sk_tunnel *t = arg_tunnel(env, argv[0]);
  if (t) sk_stop(t);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"start", NULL, start, NULL, NULL, NULL, napi_enumerable, NULL},
    {"counts", NULL, counts, NULL, NULL, NULL, napi_enumerable, NULL},
    {"stop", NULL, stop, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
