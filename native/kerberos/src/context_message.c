/* Per-message calls, synchronous (local crypto, no KDC):
 *   wrap(data, confidential) → { token, confidential }        gss_wrap
 *   unwrap(token) → { data, confidential, supplementary }      gss_unwrap
 *   getMic(data) → Buffer                                      gss_get_mic
 *   verifyMic(data, mic) → supplementary                       gss_verify_mic
 *   wrapSizeLimit(confidential, maxToken) → number             gss_wrap_size_limit
 * `supplementary` holds the informational bits (GSS_S_DUPLICATE_TOKEN,
 * GSS_S_OLD_TOKEN, GSS_S_UNSEQ_TOKEN, GSS_S_GAP_TOKEN): the caller decides
 * which of them are errors (all of them on a stream). */
#include "gk.h"

static int arg_bool(napi_env env, napi_value v) {
  bool b = false;
  napi_coerce_to_bool(env, v, &v);
  napi_get_value_bool(env, v, &b);
  return b;
}

napi_value gk_context_wrap_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out, token;
  gk_context *c = gk_context_this(env, info, &argc, argv);
  gss_buffer_desc in, wrapped = GSS_C_EMPTY_BUFFER;
  if (!c || argc < 2 || !gk_arg_buffer(env, argv[0], &in, 0)) return NULL;
  OM_uint32 minor;
  int conf = 0;
  OM_uint32 major = gss_wrap(&minor, c->ctx, arg_bool(env, argv[1]), GSS_C_QOP_DEFAULT, &in, &conf, &wrapped);
  if (GSS_ERROR(major)) {
    gk_throw_gss(env, "gss_wrap", major, minor);
    return NULL;
  }
  token = gk_make_buffer(env, &wrapped);
  if (!token) return NULL;
  GK_CALL(env, napi_create_object(env, &out));
  napi_set_named_property(env, out, "token", token);
  gk_set_bool(env, out, "confidential", conf);
  return out;
}

napi_value gk_context_unwrap_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, data;
  gk_context *c = gk_context_this(env, info, &argc, argv);
  gss_buffer_desc in, plain = GSS_C_EMPTY_BUFFER;
  if (!c || argc < 1 || !gk_arg_buffer(env, argv[0], &in, 0)) return NULL;
  OM_uint32 minor;
  int conf = 0;
  OM_uint32 major = gss_unwrap(&minor, c->ctx, &in, &plain, &conf, NULL);
  if (GSS_ERROR(major)) {
    gk_throw_gss(env, "gss_unwrap", major, minor);
    return NULL;
  }
  data = gk_make_buffer(env, &plain);
  if (!data) return NULL;
  GK_CALL(env, napi_create_object(env, &out));
  napi_set_named_property(env, out, "data", data);
  gk_set_bool(env, out, "confidential", conf);
  gk_set_u32(env, out, "supplementary", GSS_SUPPLEMENTARY_INFO(major));
  return out;
}

napi_value gk_context_get_mic_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  gk_context *c = gk_context_this(env, info, &argc, argv);
  gss_buffer_desc in, mic = GSS_C_EMPTY_BUFFER;
  if (!c || argc < 1 || !gk_arg_buffer(env, argv[0], &in, 0)) return NULL;
  OM_uint32 minor, major = gss_get_mic(&minor, c->ctx, GSS_C_QOP_DEFAULT, &in, &mic);
  if (GSS_ERROR(major)) {
    gk_throw_gss(env, "gss_get_mic", major, minor);
    return NULL;
  }
  return gk_make_buffer(env, &mic);
}

napi_value gk_context_verify_mic_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  gk_context *c = gk_context_this(env, info, &argc, argv);
  gss_buffer_desc in, mic;
  if (!c || argc < 2 || !gk_arg_buffer(env, argv[0], &in, 0) || !gk_arg_buffer(env, argv[1], &mic, 0)) return NULL;
  OM_uint32 minor, major = gss_verify_mic(&minor, c->ctx, &in, &mic, NULL);
  if (GSS_ERROR(major)) {
    gk_throw_gss(env, "gss_verify_mic", major, minor);
    return NULL;
  }
  GK_CALL(env, napi_create_uint32(env, GSS_SUPPLEMENTARY_INFO(major), &out));
  return out;
}

napi_value gk_context_wrap_size_limit_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  uint32_t max = 0;
  gk_context *c = gk_context_this(env, info, &argc, argv);
  if (!c) return NULL;
  if (argc < 2 || napi_get_value_uint32(env, argv[1], &max) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "wrapSizeLimit(confidential, maxToken)");
    return NULL;
  }
  OM_uint32 minor, limit = 0;
  OM_uint32 major = gss_wrap_size_limit(&minor, c->ctx, arg_bool(env, argv[0]), GSS_C_QOP_DEFAULT, max, &limit);
  if (GSS_ERROR(major)) {
    gk_throw_gss(env, "gss_wrap_size_limit", major, minor);
    return NULL;
  }
  GK_CALL(env, napi_create_uint32(env, limit, &out));
  return out;
}
