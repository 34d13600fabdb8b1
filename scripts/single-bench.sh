#!/usr/bin/env bash
# Measures a durable single server (issue 2's figures): time from start to leader, idle RSS,
# and ROUNDS interleaved `wrk -t1 -c64` runs of KV GET and KV PUT against it, each GET run
# followed by the same wrk against the trivial responder (`rconsul-bench serve-trivial`),
# the ceiling of the generator on this machine. Server on 127.0.0.41, responder on 127.0.0.42.
# Needs: a release build (target/release/rconsul, target/release/rconsul-bench), curl, wrk.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
DUR=${DUR:-8s}
ROUNDS=${ROUNDS:-3}

rps() { awk '/Requests\/sec/ {printf "%.0f", $2}'; }

t0=$(now)
"$BIN" agent -server -bootstrap-expect=1 -data-dir="$DIR/data" -node=bench -bind=127.0.0.41 \
  -client=127.0.0.41 >"$DIR/agent.log" 2>&1 &
PID=$!
wait_leader 127.0.0.41 0.002
echo "leader $(echo "$(now) - $t0" | bc) s after start"
sleep 2
echo "idle RSS $(rss_mib "$PID") MiB"

# The responder gets as many workers as the agent's runtime has (one per core less one).
"$BENCH" serve-trivial --listen 127.0.0.42:8500 --threads "$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))" \
  >/dev/null 2>&1 &
CLEANUP_PIDS=$!
until curl -sf http://127.0.0.42:8500/ >/dev/null 2>&1; do sleep 0.01; done
curl -sf -X PUT --data-binary 'hello-world-value' http://127.0.0.41:8500/v1/kv/bench/key >/dev/null

for round in $(seq "$ROUNDS"); do
  get=$(wrk -t1 -c64 -d"$DUR" http://127.0.0.41:8500/v1/kv/bench/key | rps)
  trivial=$(wrk -t1 -c64 -d"$DUR" http://127.0.0.42:8500/v1/kv/bench/key | rps)
  put=$(wrk -t1 -c64 -d"$DUR" -s bench/wrk/kv-put.lua http://127.0.0.41:8500 | rps)
  echo "round $round: KV GET $get/s (trivial responder $trivial/s), KV PUT $put/s"
done
echo "RSS after the load $(rss_mib "$PID") MiB"
