#!/usr/bin/env bash
# What ACLs cost: KV GET and PUT with a non-management token on a default-deny server,
# against the same on a server without ACLs. Two durable single servers: plain on
# 127.0.0.43, ACLs on 127.0.0.44 (token with `key_prefix "bench/" { policy = "write" }`).
# ROUNDS interleaved `wrk -t1 -c64` runs of each; prints every run, then the medians and
# the ratio ACL/plain. Needs: a release build, curl, wrk.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
DUR=${DUR:-5s}
ROUNDS=${ROUNDS:-5}
ROOT=5e0b8a1c-2d3f-4a5b-8c6d-7e8f9a0b1c2d

rps() { awk '/Requests\/sec/ {printf "%.0f", $2}'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

"$BIN" agent -server -bootstrap-expect=1 -data-dir="$DIR/plain" -node=plain -bind=127.0.0.43 \
  -client=127.0.0.43 >"$DIR/plain.log" 2>&1 &
"$BIN" agent -server -bootstrap-expect=1 -data-dir="$DIR/acl" -node=acl -bind=127.0.0.44 \
  -client=127.0.0.44 -hcl "acl {
  enabled = true
  default_policy = \"deny\"
  tokens {
    initial_management = \"$ROOT\"
  }
}" >"$DIR/acl.log" 2>&1 &
wait_leader 127.0.0.43 0.01
wait_leader 127.0.0.44 0.01
until curl -sf -H "X-Consul-Token: $ROOT" http://127.0.0.44:8500/v1/acl/token/self >/dev/null; do sleep 0.05; done
curl -sf -X PUT -H "X-Consul-Token: $ROOT" http://127.0.0.44:8500/v1/acl/policy \
  -d '{"Name": "bench", "Rules": "key_prefix \"bench/\" { policy = \"write\" }"}' >/dev/null
TOKEN=$(curl -sf -X PUT -H "X-Consul-Token: $ROOT" http://127.0.0.44:8500/v1/acl/token \
  -d '{"Policies": [{"Name": "bench"}]}' | sed -n 's/.*"SecretID": *"\([^"]*\)".*/\1/p')
[ -n "$TOKEN" ] || { echo "no token created" >&2; exit 1; }
for ip in 127.0.0.43 127.0.0.44; do
  curl -sf -X PUT -H "X-Consul-Token: $TOKEN" --data-binary 'hello-world-value' \
    "http://$ip:8500/v1/kv/bench/key" >/dev/null
done

: >"$DIR/results"
for round in $(seq "$ROUNDS"); do
  get_plain=$(wrk -t1 -c64 -d"$DUR" http://127.0.0.43:8500/v1/kv/bench/key | rps)
  get_acl=$(wrk -t1 -c64 -d"$DUR" -H "X-Consul-Token: $TOKEN" http://127.0.0.44:8500/v1/kv/bench/key | rps)
  put_plain=$(wrk -t1 -c64 -d"$DUR" -s bench/wrk/kv-put.lua http://127.0.0.43:8500 | rps)
  put_acl=$(wrk -t1 -c64 -d"$DUR" -H "X-Consul-Token: $TOKEN" -s bench/wrk/kv-put.lua http://127.0.0.44:8500 | rps)
  echo "round $round: GET plain $get_plain/s acl $get_acl/s; PUT plain $put_plain/s acl $put_acl/s"
  echo "$get_plain $get_acl $put_plain $put_acl" >>"$DIR/results"
done
col() { awk -v c="$1" '{print $c}' "$DIR/results" | median; }
gp=$(col 1); ga=$(col 2); pp=$(col 3); pa=$(col 4)
echo "median KV GET: plain $gp/s, ACL $ga/s, ratio $(echo "scale=3; $ga / $gp" | bc)"
echo "median KV PUT: plain $pp/s, ACL $pa/s, ratio $(echo "scale=3; $pa / $pp" | bc)"
