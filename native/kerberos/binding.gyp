{
  "targets": [
    {
      "target_name": "sockskit_gss",
      "sources": [
        "src/addon.c",
        "src/status.c",
        "src/name.c",
        "src/cred.c",
        "src/context.c",
        "src/context_step.c",
        "src/context_message.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(krb5-config --cflags gssapi)"],
      "libraries": ["<!@(krb5-config --libs gssapi)"]
    }
  ]
}
