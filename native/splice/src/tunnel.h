/* A spliced tunnel: two sockets (dups of Node's descriptors), one pipe per
 * direction, one uv_poll_t per socket on Node's own loop. */
#ifndef SOCKSKIT_SPLICE_TUNNEL_H
#define SOCKSKIT_SPLICE_TUNNEL_H
#include <node_api.h>
#include <uv.h>

/* What the tunnel tells JavaScript (the first argument of its callback). */
enum { SK_FIN_UP = 1, SK_FIN_DOWN = 2, SK_DONE = 3, SK_ERROR = 4 };

/* One direction: from fd[src] through the pipe to fd[dst]. */
typedef struct {
  int src, dst;
  int pipe_r, pipe_w;
  size_t queued; /* bytes in the pipe, not yet written to dst */
  int eof;       /* src returned end of file */
  int shut;      /* shutdown(dst, SHUT_WR) done: the FIN went on */
  int full;      /* the pipe took no more: do not poll src until dst takes some */
  double moved;  /* bytes read from src (the relay's counter for this way) */
} sk_dir;

typedef struct sk_tunnel {
  napi_env env;
  napi_ref cb;
  napi_async_context actx;
  int fd[2];
  uv_poll_t poll[2];
  int mask[2];    /* what each poll watches now (0: stopped) */
  sk_dir dir[2];  /* 0: fd[0] -> fd[1] (up), 1: fd[1] -> fd[0] (down) */
  double activity; /* reads and writes that moved bytes: the idle and linger checks */
  int stopped;
  int refs;        /* the JS handle, the two polls, a callback in progress */
} sk_tunnel;

/* tunnel.c */
int sk_open(sk_tunnel *t, uv_loop_t *loop, int a, int b, int pipe_size);
void sk_stop(sk_tunnel *t);
void sk_unref(sk_tunnel *t);
/* addon.c: calls the JS callback (kind, errno). */
void sk_emit(sk_tunnel *t, int kind, int err);
void sk_free(sk_tunnel *t);
#endif
