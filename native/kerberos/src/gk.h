/*
 * sockskit_gss: a Node-API binding to MIT GSS-API (RFC 2743/2744), the part
 * RFC 1961 needs. Shared declarations.
 *
 * Objects: Name (gss_name_t), Credential (gss_cred_id_t) and
 * SecurityContext (gss_ctx_id_t), each a JS object wrapping a C struct.
 * Every handle is released explicitly by release() and, as a fallback, by
 * the object's finalizer. Calls that may talk to a KDC (acquire, init,
 * accept) run as async work on the libuv pool and return Promises; while
 * one runs, its objects are referenced (not collectable) and marked busy.
 */
#ifndef GK_H
#define GK_H

#include <node_api.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <gssapi/gssapi_ext.h>

#define GK_CALL(env, call)                                   \
  do {                                                       \
    if ((call) != napi_ok) {                                 \
      gk_throw_napi((env), #call);                           \
      return NULL;                                           \
    }                                                        \
  } while (0)

typedef struct {
  gss_name_t name;
} gk_name;

typedef struct {
  gss_cred_id_t cred;
  /* Async steps using it right now; release() waits for the last. */
  int busy;
  int release_pending;
  int released;
} gk_cred;

typedef struct {
  gss_ctx_id_t ctx;
  int busy;
  int release_pending;
  int released;
} gk_context;

/* status.c: errors */
napi_value gk_gss_error(napi_env env, const char *what, OM_uint32 major, OM_uint32 minor);
void gk_throw_gss(napi_env env, const char *what, OM_uint32 major, OM_uint32 minor);
void gk_throw_napi(napi_env env, const char *call);
napi_value gk_display_status_js(napi_env env, napi_callback_info info);
char *gk_display_name(gss_name_t name);

/* addon.c: argument helpers */
int gk_arg_buffer(napi_env env, napi_value v, gss_buffer_desc *out, int copy);
char *gk_arg_string(napi_env env, napi_value v);
napi_value gk_make_buffer(napi_env env, gss_buffer_desc *buf);
void gk_set_u32(napi_env env, napi_value obj, const char *key, uint32_t v);
void gk_set_bool(napi_env env, napi_value obj, const char *key, int v);

/* name.c */
napi_value gk_name_class(napi_env env);
gk_name *gk_name_unwrap(napi_env env, napi_value v);

/* cred.c */
napi_value gk_cred_class(napi_env env);
gk_cred *gk_cred_unwrap(napi_env env, napi_value v);
void gk_cred_release(gk_cred *c);
napi_value gk_acquire_js(napi_env env, napi_callback_info info);

/* context.c, context_step.c, context_message.c */
napi_value gk_context_class(napi_env env);
gk_context *gk_context_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv);
void gk_context_release(gk_context *c);
napi_value gk_context_init_js(napi_env env, napi_callback_info info);
napi_value gk_context_accept_js(napi_env env, napi_callback_info info);
napi_value gk_context_wrap_js(napi_env env, napi_callback_info info);
napi_value gk_context_unwrap_js(napi_env env, napi_callback_info info);
napi_value gk_context_get_mic_js(napi_env env, napi_callback_info info);
napi_value gk_context_verify_mic_js(napi_env env, napi_callback_info info);
napi_value gk_context_wrap_size_limit_js(napi_env env, napi_callback_info info);

/* addon.c: the constructors, per environment (instance data), so native
 * code can create Name and Credential objects. */
typedef struct {
  napi_ref name_ctor;
  napi_ref cred_ctor;
} gk_instance;
napi_value gk_new_instance(napi_env env, int cred);

#endif
