#!/usr/bin/env bash
# Does a snapshot of a large state stall writes? (issue 19: p99 PUT latency during a
# snapshot at most 2x the p99 without.) Twice, each time on a fresh durable single server
# on 127.0.40.50:
#   1. populate-catalog --services $SERVICES --instances 5 (50,000 instances by default);
#   2. kv-put for $DUR with $CLIENTS clients over $KEYS keys, and its p99;
# once with raft_snapshot_threshold=$QUIET (no snapshot by entry count during the run) and
# once with raft_snapshot_threshold=$BUSY (snapshots again and again during the run).
# Snapshots also come by log size (raft/src/node.rs snapshot_by_log_size: once as many log
# bytes as the last snapshot was big were appended), so the script prints how many
# snapshots completed during each measured run: the quiet run should have none.
# Needs: a release build (target/release/rconsul, target/release/rconsul-bench), curl.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
IP=127.0.40.50
SERVICES=${SERVICES:-10000}
DUR=${DUR:-30s}
CLIENTS=${CLIENTS:-32}
KEYS=${KEYS:-1000}
QUIET=${QUIET:-100000000}
BUSY=${BUSY:-256}

snapshots() { grep -c 'snapshot complete' "$1" || true; }

run() { # label threshold
  local data="$DIR/data-$1" log="$DIR/agent-$1.log" pid before after
  "$BIN" agent -server -bootstrap-expect=1 -data-dir="$data" -node=stall -bind=$IP -client=$IP \
    -hcl "raft_snapshot_threshold = $2" >"$log" 2>&1 &
  pid=$!
  wait_leader $IP 0.01
  "$BENCH" --addr $IP:8500 --clients 32 populate-catalog --services "$SERVICES" --instances 5 \
    --timeout 10m >"$DIR/populate-$1.txt" 2>&1 || { cat "$DIR/populate-$1.txt"; exit 1; }
  before=$(snapshots "$log")
  "$BENCH" --addr $IP:8500 --clients "$CLIENTS" --keys "$KEYS" --duration "$DUR" --warmup 2s \
    kv-put >"$DIR/put-$1.txt" 2>&1 || { cat "$DIR/put-$1.txt"; exit 1; }
  after=$(snapshots "$log")
  echo "== $1 (raft_snapshot_threshold=$2): $((after - before)) snapshots during the run (warmup included), RSS $(rss_mib "$pid") MiB"
  grep -E 'ops/s|latency ms' "$DIR/put-$1.txt"
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
}

run quiet "$QUIET"
run busy "$BUSY"
q=$(awk '/latency ms/ {for (i = 1; i < NF; i++) if ($i == "p99") print $(i + 1)}' "$DIR/put-quiet.txt")
b=$(awk '/latency ms/ {for (i = 1; i < NF; i++) if ($i == "p99") print $(i + 1)}' "$DIR/put-busy.txt")
echo "p99 PUT without snapshots: $q ms, with snapshots: $b ms (ratio $(echo "scale=2; $b / $q" | bc))"
