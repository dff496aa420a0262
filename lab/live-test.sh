#!/usr/bin/env bash
# End-to-end check of `faultline live` (run by tests/live.rs as root; needs the binary built with
# --features live in $FAULTLINE). In the lab topology (client — router — server, prefix fl-live):
# `faultline live -i c0 --format ndjson --write` runs in the client namespace while the client
# makes, one after another:
#   healthy      GET /v1/ok on lab/servers/api.py :8080            -> 200, no finding
#   refused      GET to :8081, where nothing listens              -> server.refused
#   dropped      GET to :8443, SYNs dropped by the router (DROP)  -> firewall.syn_unanswered
#   unavailable  GET /v1/maintenance                              -> server.http_503
#   unanswered   GET to lab/servers/misbehave.py silent :8090 (accepts, reads, never answers;
#                curl --max-time 3 gives up and closes)             -> server.no_response
# After each failing call the script waits (at most 20 s) for its code on faultline's standard
# output and records when the call ended and when the code appeared. Then SIGINT, and the
# written pcapng is analysed with `faultline analyze --format json`.
#
# Writes into OUT_DIR: live.ndjson (faultline's stdout), live.err, exit (faultline's exit code),
# calls.txt ("NAME CURL_RC ENDED_MS"), decided.txt ("CODE ENDED_MS SEEN_MS|never"),
# analyze.json, live.pcapng. Everything it starts is killed by PID and the namespaces removed.
set -euo pipefail
lab_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab/lib.sh
source "$lab_dir/lib.sh"
# shellcheck source=lab/topo.sh
source "$lab_dir/topo.sh"

require_root
require_cmds ip iptables curl python3 ss
FAULTLINE=${FAULTLINE:?set FAULTLINE to a faultline binary built with --features live}
OUT=${1:?usage: live-test.sh OUT_DIR}
mkdir -p "$OUT"
LAB_TMP=$(mktemp -d /tmp/faultline-live.XXXXXX)
chmod 755 "$LAB_TMP"
live_exit() {
  lab_cleanup
  rm -rf "$LAB_TMP"
}
trap live_exit EXIT
trap 'exit 130' INT TERM

topo_up fl-live 10
start_bg "$TOPO_S" "$LAB_TMP/api.log" python3 "$lab_dir/servers/api.py" 0.0.0.0 8080 180
wait_listen "$TOPO_S" 8080
start_bg "$TOPO_S" "$LAB_TMP/silent.log" python3 "$lab_dir/servers/misbehave.py" silent 0.0.0.0 8090 180
wait_listen "$TOPO_S" 8090
# The fault for the dropped call: SYNs to :8443 vanish in the router.
in_r iptables -A FORWARD -o r1 -p tcp --syn --dport 8443 -j DROP

# faultline opens the --write file as root, then drops root to nobody: a directory only root may
# write to (nobody could not create the file there).
write_dir="$LAB_TMP/write"
mkdir -m 700 "$write_dir"
: >"$OUT/calls.txt"
: >"$OUT/decided.txt"
ip netns exec "$TOPO_C" "$FAULTLINE" live -i c0 --format ndjson --write "$write_dir/live.pcapng" \
  >"$OUT/live.ndjson" 2>"$OUT/live.err" &
live_pid=$!
LAB_PIDS+=("$live_pid")
wait_for_log "$OUT/live.err" "capturing on c0"

now_ms() { date +%s%3N; }

# call NAME CODE CURL_ARGS... — one curl call from the client; then, unless CODE is "none",
# wait (at most 20 s) until CODE is on faultline's output.
call() {
  local name=$1 code=$2 rc=0 ended i
  shift 2
  in_c curl --silent --output /dev/null --max-time "${CURL_MAX_TIME:-10}" "$@" || rc=$?
  ended=$(now_ms)
  echo "$name $rc $ended" >>"$OUT/calls.txt"
  [ "$code" != none ] || return 0
  for ((i = 0; i < 200; i++)); do
    if grep -qF "$code" "$OUT/live.ndjson"; then
      echo "$code $ended $(now_ms)" >>"$OUT/decided.txt"
      return 0
    fi
    sleep 0.1
  done
  echo "$code $ended never" >>"$OUT/decided.txt"
}

call healthy none "http://$SERVER4:8080/v1/ok"
call refused server.refused "http://$SERVER4:8081/"
call dropped firewall.syn_unanswered --connect-timeout 3 "http://$SERVER4:8443/"
call unavailable server.http_503 "http://$SERVER4:8080/v1/maintenance"
CURL_MAX_TIME=3 call unanswered server.no_response "http://$SERVER4:8090/"

# Ctrl-C: the summary, then exit (bounded wait, then the test fails on a missing exit file).
kill -INT "$live_pid"
for ((i = 0; i < 100; i++)); do
  kill -0 "$live_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$live_pid" 2>/dev/null; then
  log "faultline live did not exit within 10 s of SIGINT"
  echo "timeout" >"$OUT/exit"
else
  rc=0
  wait "$live_pid" || rc=$?
  echo "$rc" >"$OUT/exit"
fi

cp "$write_dir/live.pcapng" "$OUT/live.pcapng"
"$FAULTLINE" analyze --format json "$OUT/live.pcapng" >"$OUT/analyze.json"
log "live test done: $(wc -l <"$OUT/live.ndjson") lines of output"
