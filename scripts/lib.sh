# Setup shared by the benchmark scripts (single-bench.sh, cluster-bench.sh and
# failover-bench.sh), which source it right after `set -euo pipefail`:
#
#   . "$(dirname "$0")/lib.sh"
#
# It moves to the repository root and sets
#   BIN    the agent binary (default target/release/rconsul)
#   BENCH  the load generator (default target/release/rconsul-bench)
#   DIR    where the agents keep their data, logs and pid files: $KEEP when set (it is
#          then kept), otherwise a fresh temporary directory
# and, on exit, kills every agent whose -data-dir is under $DIR and the processes listed
# in $CLEANUP_PIDS (a script adds its helpers' PIDs there), then deletes DIR unless KEEP
# is set.
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/rconsul}
BENCH=${BENCH:-target/release/rconsul-bench}
DIR=${KEEP:-$(mktemp -d)}
CLEANUP_PIDS=""
cleanup() {
  pkill -f -- "-data-dir=$DIR/" || true
  for pid in $CLEANUP_PIDS; do kill "$pid" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT

# Seconds since the epoch with nanoseconds; differences go through bc.
now() { date +%s.%N; }
# The leader (ip:port) that the agent on address $1 reports; empty while there is none.
leader_of() { curl -s -m 1 "http://$1:8500/v1/status/leader" | tr -d '"' || true; }
# Waits until the agent on address $1 reports a leader, polling every $2 seconds.
wait_leader() { until [ -n "$(leader_of "$1")" ]; do sleep "$2"; done; }
# The resident set size of process $1, in MiB.
rss_mib() { awk '/VmRSS/ {print $2/1024}' "/proc/$1/status"; }
