/* Context establishment as async work (it may talk to the KDC):
 *   ctx.initSecContext(cred | null, target: Name, flags, token | null)
 *   ctx.acceptSecContext(cred | null, token)
 *     → Promise<{ token: Buffer, complete: boolean, flags: number, peer: string | null }>
 * While a step runs, the context and credential objects are referenced and
 * busy: other calls on the context throw ERR_GSS_BUSY, release() waits. */
#include <stdlib.h>
#include "gk.h"

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref self_ref, cred_ref;
  gk_context *ctx;
  gk_cred *cred;
  gss_name_t target;
  int initiate;
  gss_buffer_desc in, out;
  OM_uint32 req_flags, ret_flags, major, minor;
  gss_name_t src;
} step_work;

static void step_free(napi_env env, step_work *w) {
  OM_uint32 minor;
  if (w->self_ref) napi_delete_reference(env, w->self_ref);
  if (w->cred_ref) napi_delete_reference(env, w->cred_ref);
  if (w->target != GSS_C_NO_NAME) gss_release_name(&minor, &w->target);
  if (w->src != GSS_C_NO_NAME) gss_release_name(&minor, &w->src);
  if (w->out.value) gss_release_buffer(&minor, &w->out);
  free(w->in.value);
  free(w);
}

static void step_execute(napi_env env, void *data) {
  step_work *w = data;
  gss_cred_id_t cred = w->cred ? w->cred->cred : GSS_C_NO_CREDENTIAL;
  if (w->initiate) {
    w->major = gss_init_sec_context(&w->minor, cred, &w->ctx->ctx, w->target, (gss_OID)gss_mech_krb5, w->req_flags, 0,
                                    GSS_C_NO_CHANNEL_BINDINGS, w->in.value ? &w->in : GSS_C_NO_BUFFER, NULL, &w->out,
                                    &w->ret_flags, NULL);
  } else {
    w->major = gss_accept_sec_context(&w->minor, &w->ctx->ctx, cred, &w->in, GSS_C_NO_CHANNEL_BINDINGS, &w->src, NULL,
                                      &w->out, &w->ret_flags, NULL, NULL);
  }
}

/* The peer's display name once the context is complete: the client (acceptor) or the target (initiator). */
static napi_value step_peer(napi_env env, step_work *w) {
  OM_uint32 minor;
  napi_value v;
  gss_name_t name = GSS_C_NO_NAME;
  if (w->initiate) gss_inquire_context(&minor, w->ctx->ctx, NULL, &name, NULL, NULL, NULL, NULL, NULL);
  char *s = gk_display_name(w->initiate ? name : w->src);
  if (name != GSS_C_NO_NAME) gss_release_name(&minor, &name);
  if (s) napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  else napi_get_null(env, &v);
  free(s);
  return v;
}

static napi_value step_result(napi_env env, step_work *w) {
  napi_value out, token, complete;
  int done = !(w->major & GSS_S_CONTINUE_NEEDED);
  if (napi_create_object(env, &out) != napi_ok) return NULL;
  token = gk_make_buffer(env, &w->out);
  if (!token) return NULL;
  napi_set_named_property(env, out, "token", token);
  napi_get_boolean(env, done, &complete);
  napi_set_named_property(env, out, "complete", complete);
  gk_set_u32(env, out, "flags", w->ret_flags);
  if (done) napi_set_named_property(env, out, "peer", step_peer(env, w));
  return out;
}

static void step_complete(napi_env env, napi_status status, void *data) {
  step_work *w = data;
  w->ctx->busy = 0;
  if (w->cred && --w->cred->busy == 0 && w->cred->release_pending) gk_cred_release(w->cred);
  napi_value result = NULL;
  if (status == napi_ok && !GSS_ERROR(w->major)) result = step_result(env, w);
  if (result) {
    napi_resolve_deferred(env, w->deferred, result);
  } else {
    napi_value err;
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) napi_get_and_clear_last_exception(env, &err);
    else err = gk_gss_error(env, w->initiate ? "gss_init_sec_context" : "gss_accept_sec_context", w->major, w->minor);
    napi_reject_deferred(env, w->deferred, err);
  }
  if (w->ctx->release_pending) gk_context_release(w->ctx);
  napi_delete_async_work(env, w->work);
  step_free(env, w);
}

/* Holds the credential argument (or null: the default credentials) for the step. */
static int step_cred(napi_env env, napi_value v, step_work *w) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok) return 0;
  if (type == napi_null || type == napi_undefined) return 1;
  w->cred = gk_cred_unwrap(env, v);
  if (!w->cred || napi_create_reference(env, v, 1, &w->cred_ref) != napi_ok) return 0;
  return 1;
}

static int step_token(napi_env env, napi_value v, step_work *w, int optional) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok) return 0;
  if (optional && (type == napi_null || type == napi_undefined)) return 1;
  return gk_arg_buffer(env, v, &w->in, 1);
}

static int step_target(napi_env env, napi_value name, napi_value flags, step_work *w) {
  gk_name *n = gk_name_unwrap(env, name);
  if (!n) return 0;
  if (napi_get_value_uint32(env, flags, &w->req_flags) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "flags must be an unsigned integer");
    return 0;
  }
  OM_uint32 minor, major = gss_duplicate_name(&minor, n->name, &w->target);
  if (GSS_ERROR(major)) gk_throw_gss(env, "gss_duplicate_name", major, minor);
  return !GSS_ERROR(major);
}

/* Marks everything busy and queues the work; returns the promise. */
static napi_value step_queue(napi_env env, napi_value self, step_work *w) {
  napi_value promise, resource;
  napi_create_string_utf8(env, w->initiate ? "sockskit:gss_init_sec_context" : "sockskit:gss_accept_sec_context", NAPI_AUTO_LENGTH, &resource);
  if (napi_create_reference(env, self, 1, &w->self_ref) != napi_ok || napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
      napi_create_async_work(env, NULL, resource, step_execute, step_complete, w, &w->work) != napi_ok) {
    gk_throw_napi(env, "queue step");
    step_free(env, w);
    return NULL;
  }
  if (napi_queue_async_work(env, w->work) != napi_ok) {
    napi_delete_async_work(env, w->work);
    gk_throw_napi(env, "napi_queue_async_work");
    step_free(env, w);
    return NULL;
  }
  w->ctx->busy = 1;
  if (w->cred) w->cred->busy++;
  return promise;
}

static napi_value step_start(napi_env env, napi_callback_info info, int initiate) {
  size_t argc = 4;
  napi_value argv[4], self, undef;
  gk_context *c = gk_context_this(env, info, &argc, argv);
  if (!c) return NULL;
  napi_get_undefined(env, &undef);
  for (size_t i = argc; i < 4; i++) argv[i] = undef;
  GK_CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  step_work *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->ctx = c;
  w->initiate = initiate;
  w->target = w->src = GSS_C_NO_NAME;
  int ok = step_cred(env, argv[0], w) &&
           (initiate ? step_target(env, argv[1], argv[2], w) && step_token(env, argv[3], w, 1) : step_token(env, argv[1], w, 0));
  if (!ok) {
    step_free(env, w);
    return NULL;
  }
  return step_queue(env, self, w);
}

napi_value gk_context_init_js(napi_env env, napi_callback_info info) {
  return step_start(env, info, 1);
}

napi_value gk_context_accept_js(napi_env env, napi_callback_info info) {
  return step_start(env, info, 0);
}
