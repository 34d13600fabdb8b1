#!/usr/bin/env bash
# Starts the seed's topology on one machine: servers on 127.0.0.11-13, a client on
# 127.0.0.14, default ports on each address, data under $RCONSUL_CLUSTER_DIR.
#
#   scripts/cluster.sh up       # build (release) and start 3 servers + 1 client
#   scripts/cluster.sh status   # members, leader, peers (through the client)
#   scripts/cluster.sh down     # stop everything (data is kept)
#   scripts/cluster.sh clean    # stop and delete the data
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${RCONSUL_CLUSTER_DIR:-${TMPDIR:-/tmp}/rconsul-cluster}"
BIN="${RCONSUL_BIN:-target/release/rconsul}"

start() {
  local ip=$1 name=$2; shift 2
  mkdir -p "$DIR/$name"
  "$BIN" agent -bind="$ip" -client="$ip" -node="$name" -data-dir="$DIR/$name" -retry-join=127.0.0.11 "$@" \
    >"$DIR/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
  echo "started $name on $ip (log: $DIR/$name.log)"
}

stop_all() {
  for pid in "$DIR"/*.pid; do
    [ -e "$pid" ] || continue
    kill "$(cat "$pid")" 2>/dev/null || true
    rm -f "$pid"
  done
}

case "${1:-}" in
  up)
    [ -x "$BIN" ] || cargo build --release -p rconsul
    mkdir -p "$DIR"
    start 127.0.0.11 s1 -server -bootstrap-expect=3 -ui
    start 127.0.0.12 s2 -server -bootstrap-expect=3
    start 127.0.0.13 s3 -server -bootstrap-expect=3
    start 127.0.0.14 c1
    for _ in $(seq 100); do
      leader=$(curl -s -m 1 http://127.0.0.14:8500/v1/status/leader || true)
      if [ -n "$leader" ] && [ "$leader" != '""' ]; then echo "leader: $leader"; exit 0; fi
      sleep 0.1
    done
    echo "no leader after 10 s; see $DIR/*.log" >&2
    exit 1
    ;;
  status)
    "$BIN" members -http-addr=127.0.0.14:8500
    echo "leader: $(curl -s http://127.0.0.14:8500/v1/status/leader)"
    echo "peers:  $(curl -s http://127.0.0.14:8500/v1/status/peers)"
    ;;
  down) stop_all ;;
  clean) stop_all; rm -rf "$DIR" ;;
  *) echo "usage: $0 up|status|down|clean" >&2; exit 2 ;;
esac
