/* The splice(2) relay itself: socket -> pipe -> socket for each direction,
 * driven by uv_poll_t on Node's loop. No byte crosses into user space; the
 * pipe is the only buffer (backpressure: a full pipe stops reading). */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tunnel.h"

#define SK_FLAGS (SPLICE_F_NONBLOCK | SPLICE_F_MOVE)
/* Bytes asked of one splice call; the pipe bounds what it takes. */
#define SK_CHUNK (1 << 20)
/* Round trips per direction before yielding to the loop (fairness with the
 * other tunnels and Node's own work: a poll that is still ready fires again). */
#define SK_ROUNDS 16

static void on_poll(uv_poll_t *h, int status, int events);

/* Moves what it can one way. Returns 1 when the FIN went on just now, 0, or -errno. */
static int pump(sk_tunnel *t, sk_dir *d) {
  for (int round = 0; round < SK_ROUNDS; round++) {
    int progress = 0;
    if (!d->eof && !d->full) {
      ssize_t n = splice(t->fd[d->src], NULL, d->pipe_w, NULL, SK_CHUNK, SK_FLAGS);
      if (n > 0) {
        d->queued += (size_t)n;
        d->moved += (double)n;
        t->activity++;
        progress = 1;
      } else if (n == 0) {
        d->eof = 1;
      } else if (errno == EAGAIN) {
        /* Either src is empty or the pipe is full; with bytes in the pipe,
         * assume full (polling src would spin): writing some clears it. */
        if (d->queued > 0) d->full = 1;
      } else if (errno != EINTR) {
        return -errno;
      }
    }
    if (d->queued > 0) {
      ssize_t m = splice(d->pipe_r, NULL, t->fd[d->dst], NULL, d->queued, SK_FLAGS);
      if (m > 0) {
        d->queued -= (size_t)m;
        d->full = 0;
        t->activity++;
        progress = 1;
      } else if (m < 0 && errno != EAGAIN && errno != EINTR) {
        return -errno;
      }
    }
    if (!progress) break;
  }
  if (d->eof && d->queued == 0 && !d->shut) {
    /* Everything src sent is written: pass its FIN on (half-close). */
    d->shut = 1;
    if (shutdown(t->fd[d->dst], SHUT_WR) != 0 && errno != ENOTCONN) return -errno;
    return 1;
  }
  return 0;
}

/* What fd[i] must be polled for now: readable while its direction can take
 * more, writable while the other direction has bytes waiting for it. */
static int wanted(sk_tunnel *t, int i) {
  sk_dir *out = &t->dir[i], *in = &t->dir[1 - i];
  int m = 0;
  if (!out->eof && !out->full) m |= UV_READABLE;
  if (in->queued > 0) m |= UV_WRITABLE;
  return m;
}

static int repoll(sk_tunnel *t) {
  for (int i = 0; i < 2; i++) {
    int m = wanted(t, i);
    if (m == t->mask[i]) continue;
    int r = m ? uv_poll_start(&t->poll[i], m, on_poll) : uv_poll_stop(&t->poll[i]);
    if (r != 0) return r;
    t->mask[i] = m;
  }
  return 0;
}

/* Both directions, then tell JS what happened. JS may stop the tunnel from
 * any callback, so every step after one checks `stopped`. */
static void run(sk_tunnel *t) {
  for (int k = 0; k < 2 && !t->stopped; k++) {
    int r = pump(t, &t->dir[k]);
    if (r < 0) {
      sk_stop(t);
      sk_emit(t, SK_ERROR, -r);
      return;
    }
    if (r == 1) sk_emit(t, k == 0 ? SK_FIN_UP : SK_FIN_DOWN, 0);
  }
  if (t->stopped) return;
  if (t->dir[0].shut && t->dir[1].shut) {
    sk_stop(t);
    sk_emit(t, SK_DONE, 0);
    return;
  }
  int r = repoll(t);
  if (r != 0) {
    sk_stop(t);
    sk_emit(t, SK_ERROR, -r);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  sk_tunnel *t = h->data;
  if (t->stopped) return;
  t->refs++;
  if (status < 0) {
    /* libuv reports POLLERR as an error status: the socket failed (reset). */
    sk_stop(t);
    sk_emit(t, SK_ERROR, -status);
  } else {
    run(t);
  }
  sk_unref(t);
}

static void on_closed(uv_handle_t *h) {
  sk_unref(h->data);
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* A pipe for one direction, non-blocking, as large as asked when allowed
 * (F_SETPIPE_SZ fails past the user's pipe quota: the default size then). */
static int open_pipe(sk_dir *d, int pipe_size) {
  int p[2];
  if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) return -errno;
  d->pipe_r = p[0];
  d->pipe_w = p[1];
  if (pipe_size > 0) (void)fcntl(p[1], F_SETPIPE_SZ, pipe_size);
  return 0;
}

/* Dups Node's descriptors (Node keeps its own and its handle; libuv keys its
 * watchers by descriptor number, so ours do not clash with Node's), opens the
 * pipes and starts polling. On failure everything opened is closed. */
int sk_open(sk_tunnel *t, uv_loop_t *loop, int a, int b, int pipe_size) {
  int r = 0;
  t->fd[0] = t->fd[1] = -1;
  for (int k = 0; k < 2; k++) {
    t->dir[k].pipe_r = t->dir[k].pipe_w = -1;
    t->dir[k].src = k;
    t->dir[k].dst = 1 - k;
  }
  t->fd[0] = fcntl(a, F_DUPFD_CLOEXEC, 0);
  if (t->fd[0] < 0) r = -errno;
  if (!r && (t->fd[1] = fcntl(b, F_DUPFD_CLOEXEC, 0)) < 0) r = -errno;
  for (int k = 0; k < 2 && !r; k++) r = open_pipe(&t->dir[k], pipe_size);
  for (int k = 0; k < 2 && !r; k++) {
    r = uv_poll_init(loop, &t->poll[k], t->fd[k]);
    if (r) break;
    t->poll[k].data = t; /* from now on its close callback holds a reference */
    t->refs++;
  }
  if (!r) r = repoll(t);
  if (r) sk_stop(t);
  return r;
}

/* Stops polling and closes our descriptors at once: a dup would otherwise
 * keep the TCP connection open after Node closed its own. Idempotent. */
void sk_stop(sk_tunnel *t) {
  if (t->stopped) return;
  t->stopped = 1;
  for (int k = 0; k < 2; k++) {
    if (t->poll[k].data == t && !uv_is_closing((uv_handle_t *)&t->poll[k])) uv_close((uv_handle_t *)&t->poll[k], on_closed);
  }
  for (int k = 0; k < 2; k++) {
    close_fd(&t->fd[k]);
    close_fd(&t->dir[k].pipe_r);
    close_fd(&t->dir[k].pipe_w);
  }
}

void sk_unref(sk_tunnel *t) {
  if (--t->refs == 0) sk_free(t);
}
