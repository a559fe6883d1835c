/* Module entry: the classes, the free functions and small argument helpers. */
#include <stdlib.h>
#include <string.h>
#include "gk.h"

/* A Buffer argument as a gss_buffer_desc: a view (copy = 0, valid during the
 * call) or a malloc'd copy (copy = 1, for async work; free with free()). */
int gk_arg_buffer(napi_env env, napi_value v, gss_buffer_desc *out, int copy) {
  bool is_buffer = false;
  void *data = NULL;
  size_t len = 0;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, v, &data, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a Buffer");
    return 0;
  }
  out->length = len;
  out->value = data;
  if (copy) {
    out->value = malloc(len ? len : 1);
    if (!out->value) {
      napi_throw_error(env, "ERR_GSS_NOMEM", "out of memory");
      return 0;
    }
    if (len) memcpy(out->value, data, len);
  }
  return 1;
}

/* A string argument as a malloc'd UTF-8 C string (NULL and a TypeError if it is not a string). */
char *gk_arg_string(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a string");
    return NULL;
  }
  char *s = malloc(len + 1);
  if (!s) {
    napi_throw_error(env, "ERR_GSS_NOMEM", "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "string contains a NUL character");
    return NULL;
  }
  return s;
}

/* Copies a GSS buffer into a new JS Buffer and releases the GSS buffer. */
napi_value gk_make_buffer(napi_env env, gss_buffer_desc *buf) {
  OM_uint32 minor;
  napi_value out = NULL;
  napi_status st = napi_create_buffer_copy(env, buf->length, buf->length ? buf->value : "", NULL, &out);
  gss_release_buffer(&minor, buf);
  if (st != napi_ok) {
    gk_throw_napi(env, "napi_create_buffer_copy");
    return NULL;
  }
  return out;
}

void gk_set_u32(napi_env env, napi_value obj, const char *key, uint32_t v) {
  napi_value n;
  if (napi_create_uint32(env, v, &n) == napi_ok) napi_set_named_property(env, obj, key, n);
}

void gk_set_bool(napi_env env, napi_value obj, const char *key, int v) {
  napi_value b;
  if (napi_get_boolean(env, v != 0, &b) == napi_ok) napi_set_named_property(env, obj, key, b);
}

napi_value gk_new_instance(napi_env env, int cred) {
  gk_instance *inst = NULL;
  napi_value ctor, obj;
  GK_CALL(env, napi_get_instance_data(env, (void **)&inst));
  GK_CALL(env, napi_get_reference_value(env, cred ? inst->cred_ctor : inst->name_ctor, &ctor));
  GK_CALL(env, napi_new_instance(env, ctor, 0, NULL, &obj));
  return obj;
}

static void instance_free(napi_env env, void *data, void *hint) {
  gk_instance *inst = data;
  napi_delete_reference(env, inst->name_ctor);
  napi_delete_reference(env, inst->cred_ctor);
  free(inst);
}

static napi_value export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  GK_CALL(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn));
  GK_CALL(env, napi_set_named_property(env, exports, name, fn));
  return fn;
}

static napi_value init(napi_env env, napi_value exports) {
  gk_instance *inst = calloc(1, sizeof *inst);
  if (!inst) return NULL;
  napi_value name = gk_name_class(env), cred = gk_cred_class(env), context = gk_context_class(env);
  if (!name || !cred || !context) return NULL;
  GK_CALL(env, napi_create_reference(env, name, 1, &inst->name_ctor));
  GK_CALL(env, napi_create_reference(env, cred, 1, &inst->cred_ctor));
  GK_CALL(env, napi_set_instance_data(env, inst, instance_free, NULL));
  GK_CALL(env, napi_set_named_property(env, exports, "Name", name));
  GK_CALL(env, napi_set_named_property(env, exports, "Credential", cred));
  GK_CALL(env, napi_set_named_property(env, exports, "SecurityContext", context));
  if (!export_fn(env, exports, "acquireCredential", gk_acquire_js)) return NULL;
  if (!export_fn(env, exports, "displayStatus", gk_display_status_js)) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
