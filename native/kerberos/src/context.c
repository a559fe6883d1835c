/* SecurityContext: one gss_ctx_id_t. new SecurityContext() is empty
 * (GSS_C_NO_CONTEXT); initSecContext / acceptSecContext (context_step.c)
 * establish it; wrap, unwrap, getMic, verifyMic, wrapSizeLimit
 * (context_message.c) and inquire use it; release() deletes it
 * (gss_delete_sec_context). */
#include <stdlib.h>
#include "gk.h"

void gk_context_release(gk_context *c) {
  OM_uint32 minor;
  c->released = 1;
  if (c->busy) {
    c->release_pending = 1;
    return;
  }
  if (c->ctx != GSS_C_NO_CONTEXT) gss_delete_sec_context(&minor, &c->ctx, GSS_C_NO_BUFFER);
}

static void context_finalize(napi_env env, void *data, void *hint) {
  gk_context *c = data;
  c->busy = 0;
  gk_context_release(c);
  free(c);
}

static napi_value context_new(napi_env env, napi_callback_info info) {
  napi_value self;
  GK_CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  gk_context *c = calloc(1, sizeof *c);
  if (!c) {
    napi_throw_error(env, "ERR_GSS_NOMEM", "out of memory");
    return NULL;
  }
  c->ctx = GSS_C_NO_CONTEXT;
  if (napi_wrap(env, self, c, context_finalize, NULL, NULL) != napi_ok) {
    free(c);
    gk_throw_napi(env, "napi_wrap");
    return NULL;
  }
  return self;
}

/* `this` of a method as a usable context: not released, no step in flight. */
gk_context *gk_context_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  gk_context *c = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok || napi_unwrap(env, self, (void **)&c) != napi_ok || !c) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "not a SecurityContext");
    return NULL;
  }
  if (c->released) {
    napi_throw_error(env, "ERR_GSS_RELEASED", "the SecurityContext was released");
    return NULL;
  }
  if (c->busy) {
    napi_throw_error(env, "ERR_GSS_BUSY", "a context-establishment step is still running");
    return NULL;
  }
  return c;
}

static napi_value context_release_js(napi_env env, napi_callback_info info) {
  napi_value self;
  gk_context *c = NULL;
  GK_CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  GK_CALL(env, napi_unwrap(env, self, (void **)&c));
  gk_context_release(c);
  return NULL;
}

static void set_name(napi_env env, napi_value obj, const char *key, gss_name_t name) {
  OM_uint32 minor;
  napi_value v;
  char *s = name != GSS_C_NO_NAME ? gk_display_name(name) : NULL;
  if (s) napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  else napi_get_null(env, &v);
  napi_set_named_property(env, obj, key, v);
  free(s);
  if (name != GSS_C_NO_NAME) gss_release_name(&minor, &name);
}

/* inquire() → { srcName, targName, lifetime, flags, locallyInitiated, open } (gss_inquire_context). */
static napi_value context_inquire_js(napi_env env, napi_callback_info info) {
  gk_context *c = gk_context_this(env, info, NULL, NULL);
  if (!c) return NULL;
  OM_uint32 major, minor, lifetime = 0, flags = 0;
  int local = 0, open = 0;
  gss_name_t src = GSS_C_NO_NAME, targ = GSS_C_NO_NAME;
  major = gss_inquire_context(&minor, c->ctx, &src, &targ, &lifetime, NULL, &flags, &local, &open);
  if (GSS_ERROR(major)) {
    gk_throw_gss(env, "gss_inquire_context", major, minor);
    return NULL;
  }
  napi_value out;
  GK_CALL(env, napi_create_object(env, &out));
  set_name(env, out, "srcName", src);
  set_name(env, out, "targName", targ);
  gk_set_u32(env, out, "lifetime", lifetime);
  gk_set_u32(env, out, "flags", flags);
  gk_set_bool(env, out, "locallyInitiated", local);
  gk_set_bool(env, out, "open", open);
  return out;
}

napi_value gk_context_class(napi_env env) {
  napi_property_descriptor props[] = {
    { "initSecContext", NULL, gk_context_init_js, NULL, NULL, NULL, napi_default_method, NULL },
    { "acceptSecContext", NULL, gk_context_accept_js, NULL, NULL, NULL, napi_default_method, NULL },
    { "wrap", NULL, gk_context_wrap_js, NULL, NULL, NULL, napi_default_method, NULL },
    { "unwrap", NULL, gk_context_unwrap_js, NULL, NULL, NULL, napi_default_method, NULL },
    { "getMic", NULL, gk_context_get_mic_js, NULL, NULL, NULL, napi_default_method, NULL },
    { "verifyMic", NULL, gk_context_verify_mic_js, NULL, NULL, NULL, napi_default_method, NULL },
    { "wrapSizeLimit", NULL, gk_context_wrap_size_limit_js, NULL, NULL, NULL, napi_default_method, NULL },
    { "inquire", NULL, context_inquire_js, NULL, NULL, NULL, napi_default_method, NULL },
    { "release", NULL, context_release_js, NULL, NULL, NULL, napi_default_method, NULL },
  };
  napi_value cls;
  GK_CALL(env, napi_define_class(env, "SecurityContext", NAPI_AUTO_LENGTH, context_new, NULL, sizeof props / sizeof props[0], props, &cls));
  return cls;
}
