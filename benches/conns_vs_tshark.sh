#!/usr/bin/env bash
# Throughput and memory of `faultline conns` against `tshark -z conv,tcp` on the same real capture.
#
#   (a) target/bench/http-1m.pcap: made once, only if missing (needs root): nginx and ApacheBench
#       in two network namespaces, a mix of new connections and keep-alive, small and large
#       responses and 404s; tcpdump -s 200 -c 1000000 on the client veth.
#   (b) cargo build --release; hyperfine, same run, median of RUNS (default 5) for
#         target/release/faultline conns --format json FILE
#         tshark -q -r FILE -z conv,tcp
#   (c) target/bench/http-10x.pcap: the same capture 10 times in a row, each copy shifted in time
#       after the previous one (editcap -t, mergecap -a); peak RSS (/usr/bin/time -v) of
#       faultline conns on the 1x and the 10x file. Memory should follow active flows, not size.
#
# Usage: benches/conns_vs_tshark.sh [--capture-only]
# Environment: PACKETS (1000000), RUNS (5), MODE (conns | analyze), FAULTLINE (binary; set it to skip cargo build),
#              COPY_GAP_S (seconds between copies in the 10x file, default 1).
# Results (hyperfine JSON, time -v output) are kept in target/bench/.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lab/lib.sh
source "$repo/lab/lib.sh"

bench=$repo/target/bench
pcap=$bench/http-1m.pcap
pcap10=$bench/http-10x.pcap
PACKETS=${PACKETS:-1000000}
RUNS=${RUNS:-5}
MODE=${MODE:-conns} # the faultline command timed: conns, or analyze (tracking plus diagnosis)
COPY_GAP_S=${COPY_GAP_S:-1}
capture_only=false
[ "${1:-}" = --capture-only ] && capture_only=true

# Lab layout for the capture (names and addresses distinct from lab/record-*.sh).
CNS=fl-bc SNS=fl-bs CIF=fl-bc0 SIF=fl-bs0
CLIENT=198.18.1.1 SERVER=198.18.1.2
LOAD_MAX_ROUNDS=10   # the load mix below is repeated at most this many times...
LOAD_DEADLINE_S=900  # ...and never for longer than this
AB_TIMEOUT_S=300     # each ab run is killed after this

tmp=$(mktemp -d /tmp/faultline-bench.XXXXXX)
chmod 755 "$tmp" # nginx workers (user nobody) must reach the doc root
cleanup() {
  lab_cleanup
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

packets_in() { capinfos -T -r -M -c "$1" 2>/dev/null | cut -f2; }

# ---------------------------------------------------------------------------------------------
# (a) the capture
# ---------------------------------------------------------------------------------------------

# run_ab NAME AB_ARGS... — one ab run in the client namespace, in the background; returns
# when ab finishes or when tcpdump has its packets (then ab is stopped).
run_ab() {
  local name=$1; shift
  kill -0 "$cap_pid" 2>/dev/null || return 0
  log "  load: $name (ab $*)"
  ip netns exec "$CNS" timeout "$AB_TIMEOUT_S" ab -q -r -s 10 "$@" >"$tmp/ab.log" 2>&1 &
  local ab_pid=$!
  LAB_PIDS+=("$ab_pid")
  while kill -0 "$ab_pid" 2>/dev/null && kill -0 "$cap_pid" 2>/dev/null; do sleep 0.2; done
  if kill -0 "$ab_pid" 2>/dev/null; then
    kill_pid "$ab_pid" # capture complete: stop the load mid-run
  elif ! wait "$ab_pid"; then
    log "  warning: ab exited non-zero: $(tail -n 2 "$tmp/ab.log" | tr '\n' ' ')"
  fi
}

make_capture() {
  require_root
  require_cmds ip nginx ab tcpdump capinfos ss
  remove_stale_netns "$CNS" "$SNS"
  mkdir -p "$bench"
  local started=$SECONDS

  log "making $pcap ($PACKETS packets): namespaces $CNS <-> $SNS"
  netns_pair "$CNS" "$SNS" "$CIF" "$SIF" "$CLIENT/24" "$SERVER/24"

  # nginx: no access log (disk I/O would slow the load), long keep-alive.
  write_nginx_conf "$tmp/nginx" "$SERVER:80" \
    "access_log off; keepalive_requests 100000; keepalive_timeout 60s; sendfile on;"
  local www=$tmp/nginx/www
  mkdir -p "$www/api"
  printf '{"status":"ok","service":"inventory","version":"1.4.2"}\n' >"$www/api/status.json"
  # ~8 KB and ~64 KB JSON bodies: multi-segment responses.
  { printf '{"items":['; for i in $(seq 1 120); do printf '{"id":%d,"name":"item-%04d","qty":%d},' "$i" "$i" $((i * 7 % 101)); done; printf '{"id":0}]}\n'; } >"$www/api/items.json"
  { printf '{"rows":['; for i in $(seq 1 1000); do printf '{"id":%d,"sku":"SKU-%06d","price":%d.%02d},' "$i" "$i" $((i % 500)) $((i % 100)); done; printf '{"id":0}]}\n'; } >"$www/api/export.json"
  chmod -R a+rX "$www"
  start_nginx "$SNS" "$tmp/nginx"
  wait_listen "$SNS" 80

  # tcpdump writes pcap; -s 200 keeps headers and the start of HTTP, -B 64 MiB avoids drops.
  local part=$bench/.http-1m.pcap.part
  rm -f "$part"
  ip netns exec "$CNS" tcpdump -n -i "$CIF" -s 200 -B 65536 -c "$PACKETS" -w "$part" \
    "host $SERVER" >"$tmp/tcpdump.log" 2>&1 &
  cap_pid=$!
  LAB_PIDS+=("$cap_pid")
  wait_for_log "$tmp/tcpdump.log" "listening on"

  # The load mix, repeated until tcpdump has its packets (bounded in rounds and time).
  local url=http://$SERVER round
  for ((round = 1; round <= LOAD_MAX_ROUNDS; round++)); do
    kill -0 "$cap_pid" 2>/dev/null || break
    [ $((SECONDS - started)) -lt "$LOAD_DEADLINE_S" ] || die "load deadline ($LOAD_DEADLINE_S s) reached"
    log " round $round"
    run_ab "new connection per request" -n 10000 -c 16 "$url/api/status.json"
    run_ab "keep-alive, small" -k -n 60000 -c 8 "$url/api/status.json"
    run_ab "keep-alive, 64 KB" -k -n 1000 -c 4 "$url/api/export.json"
    run_ab "new connections, 404" -n 3000 -c 8 "$url/api/missing.json"
    run_ab "keep-alive, 8 KB" -k -n 5000 -c 32 "$url/api/items.json"
  done

  # tcpdump exits by itself after -c packets; if it is still running the load ran out.
  if kill -0 "$cap_pid" 2>/dev/null; then
    stop_capture "$cap_pid"
    die "load ran out after $LOAD_MAX_ROUNDS rounds before $PACKETS packets; raise LOAD_MAX_ROUNDS"
  fi
  wait "$cap_pid" || die "tcpdump failed: $(cat "$tmp/tcpdump.log")"
  sed 's/^/    tcpdump: /' "$tmp/tcpdump.log" >&2
  local got
  got=$(packets_in "$part")
  [ "$got" -eq "$PACKETS" ] || die "capture has $got packets, expected $PACKETS"
  chown "$(id -u):$(id -g)" "$part" # tcpdump drops privileges to its own user
  mv "$part" "$pcap"
  lab_cleanup
  LAB_PIDS=() LAB_NETNS=()
  log "made $pcap: $got packets, $(du -h "$pcap" | cut -f1), in $((SECONDS - started)) s"
}

if [ -s "$pcap" ]; then
  log "using existing $pcap"
else
  make_capture
fi
$capture_only && exit 0

# ---------------------------------------------------------------------------------------------
# (b) throughput: faultline conns vs tshark conv,tcp, same file, same run
# ---------------------------------------------------------------------------------------------
require_cmds hyperfine jq tshark editcap mergecap capinfos
[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install -y time)"

if [ -z "${FAULTLINE:-}" ]; then
  log "cargo build --release"
  (cd "$repo" && cargo build --release)
  FAULTLINE=$repo/target/release/faultline
fi
[ -x "$FAULTLINE" ] || die "no faultline binary at $FAULTLINE"

packets=$(packets_in "$pcap")
json=$bench/conns_vs_tshark.json
log "timing on $pcap ($packets packets, $RUNS runs each)"
hyperfine --shell=none --warmup 1 --runs "$RUNS" --export-json "$json" \
  --command-name faultline "$FAULTLINE $MODE --format json $pcap" \
  --command-name tshark "tshark -q -r $pcap -z conv,tcp"
median() { jq -r --arg c "$1" '.results[] | select(.command == $c) | .median' "$json"; }
fl_s=$(median faultline)
ts_s=$(median tshark)

# ---------------------------------------------------------------------------------------------
# (c) memory: peak RSS on the capture and on the same capture 10 times in a row
# ---------------------------------------------------------------------------------------------
if [ ! -s "$pcap10" ] || [ "$pcap10" -ot "$pcap" ]; then
  log "making $pcap10 (10 time-shifted copies)"
  read -r first last < <(capinfos -T -r -M -a -e -S "$pcap" 2>/dev/null | cut -f2,3)
  # Each copy starts COPY_GAP_S seconds after the previous copy's last packet.
  step=$(awk -v f="$first" -v l="$last" -v g="$COPY_GAP_S" 'BEGIN { printf "%d", int(l - f) + 1 + g }')
  copies=()
  for ((k = 0; k < 10; k++)); do
    editcap -t $((k * step)) "$pcap" "$tmp/copy$k.pcap"
    copies+=("$tmp/copy$k.pcap")
  done
  mergecap -a -F pcap -w "$bench/.http-10x.pcap.part" "${copies[@]}"
  rm -f "${copies[@]}"
  mv "$bench/.http-10x.pcap.part" "$pcap10"
fi
packets10=$(packets_in "$pcap10")

# peak_rss_kb OUTFILE CMD... — runs CMD once under GNU time, prints max RSS in KiB.
peak_rss_kb() {
  local out=$1; shift
  /usr/bin/time -v -o "$out" "$@" >/dev/null 2>"$tmp/rss.stderr" ||
    die "failed: $* ($(tail -n 3 "$tmp/rss.stderr"))"
  awk -F': ' '/Maximum resident set size/ { print $2 }' "$out"
}
log "peak RSS: faultline on 1x and 10x, tshark on 1x"
rss1=$(peak_rss_kb "$bench/rss-faultline-1x.txt" "$FAULTLINE" "$MODE" --format json "$pcap")
rss10=$(peak_rss_kb "$bench/rss-faultline-10x.txt" "$FAULTLINE" "$MODE" --format json "$pcap10")
rss_ts=$(peak_rss_kb "$bench/rss-tshark-1x.txt" tshark -q -r "$pcap" -z conv,tcp)

# ---------------------------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------------------------
awk -v p="$packets" -v p10="$packets10" -v size="$(stat -c %s "$pcap")" \
  -v fl="$fl_s" -v ts="$ts_s" -v r1="$rss1" -v r10="$rss10" -v rts="$rss_ts" -v runs="$RUNS" -v mode="$MODE" '
BEGIN {
  printf "\nfaultline " mode " vs tshark -z conv,tcp (median of %d runs)\n", runs
  printf "  %-34s %s\n", "capture", "target/bench/http-1m.pcap"
  printf "  %-34s %d (%.1f MB)\n", "packets", p, size / 1e6
  printf "  %-34s %.3f s\n", "faultline median", fl
  printf "  %-34s %.0f packets/s\n", "faultline throughput", p / fl
  printf "  %-34s %.3f s\n", "tshark median", ts
  printf "  %-34s %.0f packets/s\n", "tshark throughput", p / ts
  printf "  %-34s %.2fx\n", "ratio tshark/faultline (time)", ts / fl
  printf "  %-34s %.1f MiB\n", "faultline peak RSS, 1x", r1 / 1024
  printf "  %-34s %.1f MiB (%d packets)\n", "faultline peak RSS, 10x", r10 / 1024, p10
  printf "  %-34s %.2f\n", "ratio RSS 10x/1x (ideal ~1)", r10 / r1
  printf "  %-34s %.1f MiB\n", "tshark peak RSS, 1x", rts / 1024
}'
