#!/usr/bin/env bash
# Failover times of the seed topology (3 servers + 1 client on 127.0.0.31-34): ROUNDS
# times, kill -9 the leader, time until the client reports a new leader, then restart
# the killed server and wait until it is a voter again. Prints each time and the spread.
# AGENT_ARGS (word-split) is added to every agent's flags, e.g. AGENT_ARGS=-encrypt=<key>.
# Needs: a release build (target/release/rconsul) and curl.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-10}

start() { # ip name args...
  local ip=$1 name=$2; shift 2
  "$BIN" agent -bind="$ip" -client="$ip" -node="$name" -data-dir="$DIR/$name" -retry-join=127.0.0.31 "$@" ${AGENT_ARGS:-} \
    >>"$DIR/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
}
declare -A IP=([s1]=127.0.0.31 [s2]=127.0.0.32 [s3]=127.0.0.33)
for n in s1 s2 s3; do start "${IP[$n]}" "$n" -server -bootstrap-expect=3; done
start 127.0.0.34 c1
wait_leader 127.0.0.34 0.01

times=()
for round in $(seq "$ROUNDS"); do
  # Wait for three voters and a stable leader before each kill.
  until [ "$(curl -s -m 1 http://127.0.0.34:8500/v1/status/peers | tr ',' '\n' | grep -c 8300)" = 3 ]; do sleep 0.05; done
  sleep 1
  leader=$(leader_of 127.0.0.34)
  victim=""
  for n in s1 s2 s3; do [ "${IP[$n]}:8300" = "$leader" ] && victim=$n; done
  kill -9 "$(cat "$DIR/$victim.pid")"
  t0=$(now)
  until nl=$(leader_of 127.0.0.34) && [ -n "$nl" ] && [ "$nl" != "$leader" ]; do sleep 0.005; done
  t=$(echo "$(now) - $t0" | bc)
  times+=("$t")
  echo "round $round: killed $victim, new leader $nl after ${t}s"
  start "${IP[$victim]}" "$victim" -server -bootstrap-expect=3
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "failover over %d rounds: min %.3fs median %.3fs max %.3fs\n", NR, a[1], a[int((NR+1)/2)], a[NR]}'
