#!/usr/bin/env bash
# What ACLs cost: KV GET and PUT with a non-management token on a default-deny server,
# against the same on a server without ACLs. Two durable single servers: plain on
# 127.0.0.43, ACLs on 127.0.0.44 (token with `key_prefix "bench/" { policy = "write" }`).
# ROUNDS interleaved `wrk -t1 -c64` runs of each (the plain server also with the token
# header it ignores); prints every run, then the medians and the ratios. Needs: a release build, curl, wrk.
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
H="X-Consul-Token: $TOKEN"
for round in $(seq "$ROUNDS"); do
  # The plain server runs twice: without a token, and with the same header the ACL run
  # sends (which it ignores), so the enforcement is told apart from the extra bytes.
  gp=$(wrk -t1 -c64 -d"$DUR" http://127.0.0.43:8500/v1/kv/bench/key | rps)
  gh=$(wrk -t1 -c64 -d"$DUR" -H "$H" http://127.0.0.43:8500/v1/kv/bench/key | rps)
  ga=$(wrk -t1 -c64 -d"$DUR" -H "$H" http://127.0.0.44:8500/v1/kv/bench/key | rps)
  pp=$(wrk -t1 -c64 -d"$DUR" -s bench/wrk/kv-put.lua http://127.0.0.43:8500 | rps)
  ph=$(wrk -t1 -c64 -d"$DUR" -H "$H" -s bench/wrk/kv-put.lua http://127.0.0.43:8500 | rps)
  pa=$(wrk -t1 -c64 -d"$DUR" -H "$H" -s bench/wrk/kv-put.lua http://127.0.0.44:8500 | rps)
  echo "round $round: GET plain $gp/s, plain+header $gh/s, ACL $ga/s; PUT plain $pp/s, plain+header $ph/s, ACL $pa/s"
  echo "$gp $gh $ga $pp $ph $pa" >>"$DIR/results"
done
col() { awk -v c="$1" '{print $c}' "$DIR/results" | median; }
ratio() { echo "scale=3; $1 / $2" | bc; }
gp=$(col 1); gh=$(col 2); ga=$(col 3); pp=$(col 4); ph=$(col 5); pa=$(col 6)
echo "median KV GET: plain $gp/s, plain+header $gh/s, ACL $ga/s; ACL/plain $(ratio "$ga" "$gp"), ACL/plain+header $(ratio "$ga" "$gh")"
echo "median KV PUT: plain $pp/s, plain+header $ph/s, ACL $pa/s; ACL/plain $(ratio "$pa" "$pp"), ACL/plain+header $(ratio "$pa" "$ph")"
