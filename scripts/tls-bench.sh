#!/usr/bin/env bash
# HTTPS against plain HTTP on the same durable single server: ROUNDS interleaved
# `wrk -t1 -c64` runs of KV GET on the HTTP port (8500) and the HTTPS port (8501), then
# the medians. Certificates come from the binary's own `tls ca create` / `tls cert create`
# (no client certificate: wrk cannot present one, so verify_incoming is off for HTTPS).
# wrk keeps its 64 connections open, so this measures TLS record cost, not handshakes.
# Server on 127.0.0.43. Needs: a release build (target/release/rconsul), curl, wrk.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
DUR=${DUR:-8s}
ROUNDS=${ROUNDS:-5}
IP=127.0.0.43
BIN=$(realpath "$BIN")

rps() { awk '/Requests\/sec/ {printf "%.0f", $2}'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

mkdir -p "$DIR/certs"
(cd "$DIR/certs" && "$BIN" tls ca create >/dev/null && "$BIN" tls cert create -server -dc dc1 \
  -additional-ipaddress "$IP" >/dev/null)
cat >"$DIR/tls.json" <<JSON
{"ca_file": "$DIR/certs/consul-agent-ca.pem", "cert_file": "$DIR/certs/dc1-server-consul-0.pem",
 "key_file": "$DIR/certs/dc1-server-consul-0-key.pem", "ports": {"https": 8501}}
JSON
"$BIN" agent -server -bootstrap-expect=1 -data-dir="$DIR/data" -node=bench -bind=$IP -client=$IP \
  -config-file="$DIR/tls.json" >"$DIR/agent.log" 2>&1 &
wait_leader $IP 0.01
curl -sf -X PUT --data-binary 'hello-world-value' http://$IP:8500/v1/kv/bench/key >/dev/null
curl -sf --cacert "$DIR/certs/consul-agent-ca.pem" https://$IP:8501/v1/kv/bench/key >/dev/null

: >"$DIR/http" && : >"$DIR/https"
for round in $(seq "$ROUNDS"); do
  http=$(wrk -t1 -c64 -d"$DUR" http://$IP:8500/v1/kv/bench/key | rps)
  https=$(wrk -t1 -c64 -d"$DUR" https://$IP:8501/v1/kv/bench/key | rps)
  echo "$http" >>"$DIR/http" && echo "$https" >>"$DIR/https"
  echo "round $round: KV GET over HTTP $http/s, over HTTPS $https/s"
done
echo "medians of $ROUNDS: HTTP $(median <"$DIR/http")/s, HTTPS $(median <"$DIR/https")/s"
