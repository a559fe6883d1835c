/* Errors: GSS major/minor status turned into JS errors with the library's
 * own words (gss_display_status), and display names as C strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gk.h"

/* All messages of one status value (type GSS_C_GSS_CODE or GSS_C_MECH_CODE), joined by "; ". */
static void status_text(OM_uint32 value, int type, char *out, size_t size) {
  OM_uint32 minor, ctx = 0;
  size_t used = 0;
  out[0] = '\0';
  do {
    gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
    if (GSS_ERROR(gss_display_status(&minor, value, type, (gss_OID)gss_mech_krb5, &ctx, &msg))) break;
    int n = snprintf(out + used, size - used, "%s%.*s", used ? "; " : "", (int)msg.length, (const char *)msg.value);
    gss_release_buffer(&minor, &msg);
    if (n < 0 || (size_t)n >= size - used) break;
    used += (size_t)n;
  } while (ctx != 0);
}

/* An Error with code ERR_GSS and the fields major, minor, majorMessage, minorMessage. */
napi_value gk_gss_error(napi_env env, const char *what, OM_uint32 major, OM_uint32 minor) {
  char major_text[512], minor_text[512], message[1200];
  status_text(GSS_ROUTINE_ERROR(major) ? major : major & ~GSS_S_CONTINUE_NEEDED, GSS_C_GSS_CODE, major_text, sizeof major_text);
  minor_text[0] = '\0';
  if (minor != 0) status_text(minor, GSS_C_MECH_CODE, minor_text, sizeof minor_text);
  snprintf(message, sizeof message, "%s: %s%s%s", what, major_text, minor_text[0] ? ": " : "", minor_text);
  napi_value code, msg, err, v;
  napi_create_string_utf8(env, "ERR_GSS", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &err);
  gk_set_u32(env, err, "major", major);
  gk_set_u32(env, err, "minor", minor);
  napi_create_string_utf8(env, major_text, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, err, "majorMessage", v);
  napi_create_string_utf8(env, minor_text, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, err, "minorMessage", v);
  return err;
}

void gk_throw_gss(napi_env env, const char *what, OM_uint32 major, OM_uint32 minor) {
  napi_throw(env, gk_gss_error(env, what, major, minor));
}

/* A Node-API call failed: throw unless an exception is already pending. */
void gk_throw_napi(napi_env env, const char *call) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char message[300];
  snprintf(message, sizeof message, "sockskit_gss: %s failed: %s", call, info && info->error_message ? info->error_message : "unknown");
  napi_throw_error(env, "ERR_GSS_NAPI", message);
}

/* displayStatus(major, minor) → string: what the library says about a status pair. */
napi_value gk_display_status_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  uint32_t major = 0, minor = 0;
  GK_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_uint32(env, argv[0], &major) != napi_ok || napi_get_value_uint32(env, argv[1], &minor) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "displayStatus(major, minor): two unsigned integers");
    return NULL;
  }
  napi_value err = gk_gss_error(env, "GSS-API", major, minor);
  GK_CALL(env, napi_get_named_property(env, err, "message", &out));
  return out;
}

/* gss_display_name as a malloc'd C string (NULL on failure). */
char *gk_display_name(gss_name_t name) {
  OM_uint32 major, minor;
  gss_buffer_desc text = GSS_C_EMPTY_BUFFER;
  major = gss_display_name(&minor, name, &text, NULL);
  if (GSS_ERROR(major)) return NULL;
  char *s = malloc(text.length + 1);
  if (s) {
    memcpy(s, text.value, text.length);
    s[text.length] = '\0';
  }
  gss_release_buffer(&minor, &text);
  return s;
}
