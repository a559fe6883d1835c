/* Credential: gss_acquire_cred_from (async: it may read a keytab or a
 * credentials cache, and for an initiator with a client keytab, talk to the
 * KDC) and gss_release_cred.
 *
 *   acquireCredential({ usage: 'accept' | 'initiate', name?: Name,
 *                       keytab?, ccache?, clientKeytab?, rcache? }) → Promise<Credential>
 *
 * The keytab and credentials cache are passed in the credential store, so
 * nothing depends on KRB5_KTNAME / KRB5CCNAME in the environment. */
#include <stdlib.h>
#include <string.h>
#include "gk.h"

#define STORE_MAX 4

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  gss_name_t name;
  gss_cred_usage_t usage;
  gss_key_value_element_desc elements[STORE_MAX];
  size_t count;
  gss_cred_id_t cred;
  OM_uint32 major, minor;
} acquire_work;

void gk_cred_release(gk_cred *c) {
  OM_uint32 minor;
  c->released = 1;
  if (c->busy > 0) {
    c->release_pending = 1;
    return;
  }
  if (c->cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &c->cred);
}

static void cred_finalize(napi_env env, void *data, void *hint) {
  gk_cred *c = data;
  c->busy = 0;
  gk_cred_release(c);
  free(c);
}

static napi_value cred_new(napi_env env, napi_callback_info info) {
  napi_value self;
  GK_CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  gk_cred *c = calloc(1, sizeof *c);
  if (!c) {
    napi_throw_error(env, "ERR_GSS_NOMEM", "out of memory");
    return NULL;
  }
  c->cred = GSS_C_NO_CREDENTIAL;
  if (napi_wrap(env, self, c, cred_finalize, NULL, NULL) != napi_ok) {
    free(c);
    gk_throw_napi(env, "napi_wrap");
    return NULL;
  }
  return self;
}

gk_cred *gk_cred_unwrap(napi_env env, napi_value v) {
  gk_cred *c = NULL;
  if (napi_unwrap(env, v, (void **)&c) != napi_ok || !c) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a Credential");
    return NULL;
  }
  if (c->released) {
    napi_throw_error(env, "ERR_GSS_RELEASED", "the Credential was released");
    return NULL;
  }
  return c;
}

static napi_value cred_release_js(napi_env env, napi_callback_info info) {
  napi_value self;
  gk_cred *c = NULL;
  GK_CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  GK_CALL(env, napi_unwrap(env, self, (void **)&c));
  gk_cred_release(c);
  return NULL;
}

napi_value gk_cred_class(napi_env env) {
  napi_property_descriptor props[] = {
    { "release", NULL, cred_release_js, NULL, NULL, NULL, napi_default_method, NULL },
  };
  napi_value cls;
  GK_CALL(env, napi_define_class(env, "Credential", NAPI_AUTO_LENGTH, cred_new, NULL, 1, props, &cls));
  return cls;
}

static void acquire_free(acquire_work *w) {
  OM_uint32 minor;
  for (size_t i = 0; i < w->count; i++) {
    free((char *)w->elements[i].key);
    free((char *)w->elements[i].value);
  }
  if (w->name != GSS_C_NO_NAME) gss_release_name(&minor, &w->name);
  if (w->cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &w->cred);
  free(w);
}

static void acquire_execute(napi_env env, void *data) {
  acquire_work *w = data;
  gss_key_value_set_desc store = { (OM_uint32)w->count, w->elements };
  w->major = gss_acquire_cred_from(&w->minor, w->name, GSS_C_INDEFINITE, GSS_C_NO_OID_SET, w->usage,
                                   w->count ? &store : GSS_C_NO_CRED_STORE, &w->cred, NULL, NULL);
}

/* Hands the credential to a new Credential object, or rejects with the GSS error. */
static void acquire_complete(napi_env env, napi_status status, void *data) {
  acquire_work *w = data;
  if (status != napi_ok || GSS_ERROR(w->major)) {
    napi_reject_deferred(env, w->deferred, gk_gss_error(env, "gss_acquire_cred_from", w->major, w->minor));
  } else {
    napi_value obj = gk_new_instance(env, 1);
    gk_cred *c = NULL;
    if (obj && napi_unwrap(env, obj, (void **)&c) == napi_ok && c) {
      c->cred = w->cred;
      w->cred = GSS_C_NO_CREDENTIAL;
      napi_resolve_deferred(env, w->deferred, obj);
    } else {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_reject_deferred(env, w->deferred, err);
    }
  }
  napi_delete_async_work(env, w->work);
  acquire_free(w);
}

/* Adds options[key] (a string, if present) to the credential store under store_key. */
static int store_option(napi_env env, napi_value options, const char *key, const char *store_key, acquire_work *w) {
  bool has = false;
  napi_value v;
  napi_valuetype type;
  if (napi_has_named_property(env, options, key, &has) != napi_ok || !has) return 1;
  if (napi_get_named_property(env, options, key, &v) != napi_ok || napi_typeof(env, v, &type) != napi_ok) return 0;
  if (type == napi_undefined) return 1;
  char *value = gk_arg_string(env, v);
  if (!value) return 0;
  w->elements[w->count].key = strdup(store_key);
  w->elements[w->count].value = value;
  w->count++;
  return 1;
}

/* options.usage and options.name into the work item. */
static int acquire_target(napi_env env, napi_value options, acquire_work *w) {
  napi_value v;
  bool has = false;
  if (napi_get_named_property(env, options, "usage", &v) != napi_ok) return 0;
  char *usage = gk_arg_string(env, v);
  if (!usage) return 0;
  w->usage = strcmp(usage, "accept") == 0 ? GSS_C_ACCEPT : strcmp(usage, "initiate") == 0 ? GSS_C_INITIATE : -1;
  free(usage);
  if (w->usage == (gss_cred_usage_t)-1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "usage must be 'accept' or 'initiate'");
    return 0;
  }
  napi_valuetype type = napi_undefined;
  if (napi_has_named_property(env, options, "name", &has) != napi_ok) return 0;
  if (has && napi_get_named_property(env, options, "name", &v) == napi_ok) napi_typeof(env, v, &type);
  if (type == napi_undefined || type == napi_null) return 1;
  gk_name *n = gk_name_unwrap(env, v);
  if (!n) return 0;
  OM_uint32 minor, major = gss_duplicate_name(&minor, n->name, &w->name);
  if (GSS_ERROR(major)) {
    gk_throw_gss(env, "gss_duplicate_name", major, minor);
    return 0;
  }
  return 1;
}

napi_value gk_acquire_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value options, promise, resource;
  GK_CALL(env, napi_get_cb_info(env, info, &argc, &options, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "acquireCredential(options)");
    return NULL;
  }
  acquire_work *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->name = GSS_C_NO_NAME;
  w->cred = GSS_C_NO_CREDENTIAL;
  if (!acquire_target(env, options, w) || !store_option(env, options, "keytab", "keytab", w) ||
      !store_option(env, options, "ccache", "ccache", w) || !store_option(env, options, "clientKeytab", "client_keytab", w) ||
      !store_option(env, options, "rcache", "rcache", w)) {
    acquire_free(w);
    return NULL;
  }
  napi_create_string_utf8(env, "sockskit:gss_acquire_cred", NAPI_AUTO_LENGTH, &resource);
  if (napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
      napi_create_async_work(env, NULL, resource, acquire_execute, acquire_complete, w, &w->work) != napi_ok ||
      napi_queue_async_work(env, w->work) != napi_ok) {
    acquire_free(w);
    gk_throw_napi(env, "queue acquire");
    return NULL;
  }
  return promise;
}
