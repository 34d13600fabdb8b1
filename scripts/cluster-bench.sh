#!/usr/bin/env bash
# Measures the seed topology (3 servers + 1 client on 127.0.0.21-24, default ports):
# time to first leader, failover after kill -9 of the leader, failed-node detection,
# KV PUT/GET throughput through the client and a follower, and RSS after the load.
# AGENT_ARGS (word-split) is added to every agent's flags, e.g. AGENT_ARGS=-encrypt=<key>.
# Needs: a release build (target/release/rconsul, target/release/rconsul-bench) and curl.
# GEN=wrk drives the load with `wrk -t1 -c64` (bench/wrk/kv-put.lua, kv-get.lua), as real
# Consul's reference figures were measured; the default is rconsul-bench --clients 64.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
DUR=${DUR:-10s}
GEN=${GEN:-rconsul-bench}

load() { # addr workload(kv-put|kv-get): prints ops/s and latency lines
  if [ "$GEN" = wrk ]; then
    wrk -t1 -c64 -d"$DUR" --latency -s "bench/wrk/$2.lua" "$1" |
      awk '/Requests\/sec/ {printf "ops/s:      %s\n", $2} / 50%/ {p50=$2} / 99%/ {printf "latency: p50 %s  p99 %s\n", p50, $2}'
  else
    "$BENCH" --addr "$1" --clients 64 --duration "$DUR" "$2" | grep -E "ops/s|latency"
  fi
}
start() { # ip name args...
  local ip=$1 name=$2; shift 2
  "$BIN" agent -bind="$ip" -client="$ip" -node="$name" -data-dir="$DIR/$name" -retry-join=127.0.0.21 "$@" ${AGENT_ARGS:-} \
    >"$DIR/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
}

start 127.0.0.24 c1
start 127.0.0.23 s3 -server -bootstrap-expect=3
start 127.0.0.22 s2 -server -bootstrap-expect=3
start 127.0.0.21 s1 -server -bootstrap-expect=3
t0=$(now)
wait_leader 127.0.0.24 0.01
echo "first leader (seen by the client) $(echo "$(now) - $t0" | bc) s after the last server started"

for w in kv-put kv-get; do
  echo "--- $w through the client (64 clients, $DUR, $GEN)"
  load http://127.0.0.24:8500 $w
done
leader=$(leader_of 127.0.0.24); leader_ip=${leader%:*}
follower=127.0.0.21; [ "$leader_ip" = 127.0.0.21 ] && follower=127.0.0.22
for w in kv-put kv-get; do
  echo "--- $w through follower $follower"
  load "http://$follower:8500" $w
done
echo "--- kv-put through the leader $leader_ip"
load "http://$leader_ip:8500" kv-put
for n in s1 s2 s3 c1; do echo "RSS $n: $(rss_mib "$(cat "$DIR/$n.pid")") MiB"; done

leader_name=""
for n in s1 s2 s3; do
  if tr '\0' ' ' <"/proc/$(cat "$DIR/$n.pid")/cmdline" | grep -q -- "-bind=$leader_ip "; then leader_name=$n; fi
done
kill -9 "$(cat "$DIR/$leader_name.pid")"
t0=$(now)
until nl=$(leader_of 127.0.0.24) && [ -n "$nl" ] && [ "$nl" != "$leader" ]; do sleep 0.01; done
echo "failover: new leader $nl seen by the client $(echo "$(now) - $t0" | bc) s after kill -9 of $leader_name"
until "$BIN" members -http-addr=127.0.0.24:8500 | grep -q "$leader_name .* failed"; do sleep 0.05; done
echo "failed-node detection: $(echo "$(now) - $t0" | bc) s"
