#!/usr/bin/env bash
# npm run bench [-- full] [ARGS...]
#
# Builds, then benchmarks sockskit-proxy with the shared harness:
#   npm run bench                  quick.sh: < 60 s, sockskit vs direct and microsocks
#   npm run bench -- full [ARGS]   run.sh: the full benchmark, sockskit vs all peers
#                                  of servers.list (BENCH_PEERS="a b" to choose);
#                                  ARGS go to run.sh (e.g. --reps 3 --tests up1,cN)
# The harness is not part of the repository: $SOCKSKIT_BENCH_DIR names its
# folder (docs/bench.md says what it must hold); there is no default.
# quick.sh takes no options; set BENCH_REF / BENCH_OUT in the environment instead.
# SOCKSKIT_BENCH_DRY_RUN=1 prints the command instead of running it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BENCH_DIR="${SOCKSKIT_BENCH_DIR:-}"
if [ ! -x "$BENCH_DIR/quick.sh" ] || [ ! -x "$BENCH_DIR/run.sh" ]; then
  cat >&2 <<EOF
bench: no benchmark harness in ${BENCH_DIR:-(SOCKSKIT_BENCH_DIR is not set)}
  npm run bench needs the external SOCKS benchmark harness: a folder with the
  executables quick.sh (a run under a minute) and run.sh (the full run) and
  the peer list servers.list. It is not part of this repository.
  Point SOCKSKIT_BENCH_DIR at it, e.g.
    SOCKSKIT_BENCH_DIR=/path/to/bench npm run bench
  See docs/bench.md.
EOF
  exit 1
fi

mode=quick
case "${1:-}" in
  quick | full) mode=$1; shift ;;
esac

# A candidate given as NAME='COMMAND {PORT}': no-auth SOCKS5 on 127.0.0.1:{PORT}, in the foreground.
SERVER="sockskit=node $ROOT/dist/examples/proxy.js --listen 127.0.0.1:{PORT}"

if [ "$mode" = full ]; then
  # The peers of servers.list run beside sockskit (set BENCH_PEERS="" for
  # sockskit alone, or to a space-separated list of names).
  if [ -z "${BENCH_PEERS+x}" ]; then
    BENCH_PEERS=$(awk '!/^[[:space:]]*(#|$)/ && $1 != "direct" && $1 != "candidate" && $2 !~ /^@/ {print $1}' "$BENCH_DIR/servers.list" | tr '\n' ' ')
  fi
  # shellcheck disable=SC2206
  peers=($BENCH_PEERS)
  cmd=("$BENCH_DIR/run.sh" "$@" "${peers[@]}" "$SERVER")
else
  if [ $# -gt 0 ]; then echo "bench: quick.sh takes no options (ignored: $*); use 'npm run bench -- full ...'" >&2; fi
  cmd=("$BENCH_DIR/quick.sh" "$SERVER")
fi

if [ "${SOCKSKIT_BENCH_DRY_RUN:-}" = 1 ]; then
  printf '%q ' "${cmd[@]}"; echo
  exit 0
fi
npm run -s build
exec "${cmd[@]}"
