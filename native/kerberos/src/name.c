/* Name: gss_import_name / gss_display_name / gss_release_name.
 *   new Name('rcmd@proxy.example', 'hostbased' | 'user' | 'principal') */
#include <stdlib.h>
#include <string.h>
#include "gk.h"

static void name_release(gk_name *n) {
  OM_uint32 minor;
  if (n->name != GSS_C_NO_NAME) gss_release_name(&minor, &n->name);
}

static void name_finalize(napi_env env, void *data, void *hint) {
  name_release(data);
  free(data);
}

static gss_OID name_type(const char *type) {
  if (strcmp(type, "hostbased") == 0) return GSS_C_NT_HOSTBASED_SERVICE;
  if (strcmp(type, "user") == 0) return GSS_C_NT_USER_NAME;
  if (strcmp(type, "principal") == 0) return (gss_OID)GSS_KRB5_NT_PRINCIPAL_NAME;
  return GSS_C_NO_OID;
}

static napi_value name_new(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  GK_CALL(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "new Name(text, type)");
    return NULL;
  }
  char *text = gk_arg_string(env, argv[0]);
  if (!text) return NULL;
  char *type = gk_arg_string(env, argv[1]);
  if (!type) {
    free(text);
    return NULL;
  }
  gss_OID oid = name_type(type);
  free(type);
  if (oid == GSS_C_NO_OID) {
    free(text);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "name type must be 'hostbased', 'user' or 'principal'");
    return NULL;
  }
  gk_name *n = calloc(1, sizeof *n);
  if (!n) {
    free(text);
    napi_throw_error(env, "ERR_GSS_NOMEM", "out of memory");
    return NULL;
  }
  OM_uint32 major, minor;
  gss_buffer_desc buf = { strlen(text), text };
  major = gss_import_name(&minor, &buf, oid, &n->name);
  free(text);
  if (GSS_ERROR(major)) {
    free(n);
    gk_throw_gss(env, "gss_import_name", major, minor);
    return NULL;
  }
  if (napi_wrap(env, self, n, name_finalize, NULL, NULL) != napi_ok) {
    name_finalize(env, n, NULL);
    gk_throw_napi(env, "napi_wrap");
    return NULL;
  }
  return self;
}

gk_name *gk_name_unwrap(napi_env env, napi_value v) {
  gk_name *n = NULL;
  if (napi_unwrap(env, v, (void **)&n) != napi_ok || !n) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a Name");
    return NULL;
  }
  if (n->name == GSS_C_NO_NAME) {
    napi_throw_error(env, "ERR_GSS_RELEASED", "the Name was released");
    return NULL;
  }
  return n;
}

static napi_value name_display(napi_env env, napi_callback_info info) {
  napi_value self, out;
  GK_CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  gk_name *n = gk_name_unwrap(env, self);
  if (!n) return NULL;
  char *s = gk_display_name(n->name);
  if (!s) {
    napi_throw_error(env, "ERR_GSS", "gss_display_name failed");
    return NULL;
  }
  napi_status st = napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out);
  free(s);
  GK_CALL(env, st);
  return out;
}

static napi_value name_release_js(napi_env env, napi_callback_info info) {
  napi_value self;
  gk_name *n = NULL;
  GK_CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  GK_CALL(env, napi_unwrap(env, self, (void **)&n));
  name_release(n);
  return NULL;
}

napi_value gk_name_class(napi_env env) {
  napi_property_descriptor props[] = {
    { "display", NULL, name_display, NULL, NULL, NULL, napi_default_method, NULL },
    { "release", NULL, name_release_js, NULL, NULL, NULL, napi_default_method, NULL },
  };
  napi_value cls;
  GK_CALL(env, napi_define_class(env, "Name", NAPI_AUTO_LENGTH, name_new, NULL, 2, props, &cls));
  return cls;
}
