#!/usr/bin/env bash
# Costs at scale (issue 19) for any Consul-compatible agent binary, rconsul or real Consul
# (BIN=/path/to/consul): a durable single server on 127.0.0.47, then
#   1. the catalog in batches of 10,000 registrations, in two shapes: 10,000 services x 5
#      instances on 5 nodes (five batches) and 2 services x 5,000 instances on 5,000 nodes
#      (four batches); time per batch and RSS after each shape;
#   2. /v1/health/service/<s>?passing at that size (wrk, ops/s);
#   3. kill -9 and restart on the same data dir: time until a leader is known and until the
#      last registered service answers all its instances;
#   4. WATCHERS parked blocking queries on health/service (rconsul-bench watch-latency):
#      the server's RSS while they are all parked and its peak, and the cost per watcher;
#   5. KV_KEYS keys of 64-byte values (rconsul-bench kv-put cycling over them): RSS,
#      ?keys and ?recurse on the 11,111-key prefix big/12, restart time.
# Needs: a release build of rconsul-bench, curl, wrk. Takes a few minutes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
IP=127.0.0.47
URL=http://$IP:8500
WATCHERS=${WATCHERS:-10000}
KV_KEYS=${KV_KEYS:-1000000}
BIN=$(realpath "$BIN")

rps() { awk '/Requests\/sec/ {printf "%.0f", $2}'; }
elapsed() { echo "$(now) - $1" | bc; }
pid_of() { pgrep -f -- "-data-dir=$DIR/data" | head -1; }
peak_mib() { awk '/VmHWM/ {print $2/1024}' "/proc/$1/status"; }

start() {
  # Consul's 200 connections per client IP would refuse the watchers, all from one address.
  "$BIN" agent -server -bootstrap-expect=1 -data-dir="$DIR/data" -node=scale -bind=$IP \
    -client=$IP -hcl 'limits { http_max_conns_per_client = 30000 }' >>"$DIR/agent.log" 2>&1 &
}
start
wait_leader $IP 0.01

populate() { # services instances prefix
  "$BENCH" --addr $IP:8500 --clients 32 populate-catalog --services "$1" --instances "$2" \
    --prefix "$3" --timeout 10m >"$DIR/populate.txt" 2>&1 || { cat "$DIR/populate.txt"; exit 1; }
}

echo "== catalog: 10,000 services x 5 instances (5 nodes), batches of 10,000"
for b in 1 2 3 4 5; do
  t=$(now); populate 2000 5 "s$b-"; echo "batch $b: $(elapsed "$t") s"
done
echo "RSS at 50,000 instances: $(rss_mib "$(pid_of)") MiB"
echo "== catalog: 2 services x 5,000 instances (5,000 nodes), batches of 10,000"
for b in 1 2 3 4; do
  t=$(now); populate 2 5000 "w$b-"; echo "batch $b: $(elapsed "$t") s"
done
echo "RSS at 90,000 instances: $(rss_mib "$(pid_of)") MiB"
echo "health/service/s5-1?passing: $(wrk -t1 -c64 -d5s "$URL/v1/health/service/s5-1?passing" | rps) /s"

echo "== restart on the same data dir"
kill -9 "$(pid_of)"; wait "$(pid_of)" 2>/dev/null || true; sleep 0.2
t=$(now); start
wait_leader $IP 0.005; leader=$(elapsed "$t")
until [ "$(curl -sf "$URL/v1/health/service/w4-1?passing" | grep -o '"Node":{' | wc -l)" -ge 5000 ]; do
  sleep 0.005
done
echo "leader after $leader s, every instance of the last service after $(elapsed "$t") s"

echo "== $WATCHERS parked blocking queries"
base=$(rss_mib "$(pid_of)")
"$BENCH" --addr $IP:8500 --clients 16 watch-latency --watchers "$WATCHERS" --services 2000 \
  --prefix s1- --rounds 5 --timeout 5m 2>"$DIR/watch.err" | tail -3 &
watch_job=$!
# Sampled in the half second between "every watcher waiting" and the first flip: what
# parked queries hold, allocator slack from their setup included.
until grep -q "watchers waiting after" "$DIR/watch.err"; do sleep 0.01; done
parked=$(rss_mib "$(pid_of)")
wait "$watch_job"
peak=$(peak_mib "$(pid_of)")
echo "RSS before $base MiB, with every watcher parked $parked MiB: $(echo "($parked - $base) * 1024 / $WATCHERS" | bc) KiB per watcher"
echo "peak $peak MiB (setup and wakes included): $(echo "($peak - $base) * 1024 / $WATCHERS" | bc) KiB per watcher at most"

echo "== $KV_KEYS KV keys of 64 bytes"
rate=$("$BENCH" --addr $IP:8500 --clients 64 --keys "$KV_KEYS" --key-prefix big/ --duration 60s \
  kv-put | awk '/ops\/s|req\/s/ {print; exit}')
echo "kv-put over $KV_KEYS keys for 60 s: $rate"
echo "keys stored: $(curl -sf "$URL/v1/kv/big/?keys" | tr ',' '\n' | wc -l), RSS $(rss_mib "$(pid_of)") MiB"
t=$(now); n=$(curl -sf "$URL/v1/kv/big/12?keys" | tr ',' '\n' | wc -l); echo "?keys on big/12 ($n keys): $(elapsed "$t") s"
t=$(now); curl -sf "$URL/v1/kv/big/12?recurse" >/dev/null; echo "?recurse on big/12: $(elapsed "$t") s"
kill -9 "$(pid_of)"; wait "$(pid_of)" 2>/dev/null || true; sleep 0.2
t=$(now); start
wait_leader $IP 0.005
until curl -sf "$URL/v1/kv/big/1" >/dev/null; do sleep 0.005; done
echo "restart with the KV and the catalog: $(elapsed "$t") s, RSS $(rss_mib "$(pid_of)") MiB"
