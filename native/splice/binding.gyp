{
  "targets": [
    {
      "target_name": "sockskit_splice",
      "sources": ["src/addon.c", "src/tunnel.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
