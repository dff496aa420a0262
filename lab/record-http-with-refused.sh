#!/usr/bin/env bash
# Records captures/http-with-refused.pcapng: plain HTTP calls that all succeed, plus one connect to a
# closed port (refused), between real programs in two network namespaces.
#
#   client ns fl-c (fl-c0, 198.18.0.1/24)  <-- veth -->  server ns fl-s (fl-s0, 198.18.0.2/24)
#                 curl, dumpcap                             nginx :80 (nothing on :81)
#
# Traffic (5 GETs, 4 TCP connections):
#   stream 0: curl GET /api/status.json x3 on one keep-alive connection
#   stream 1: curl GET /api/status.json
#   stream 2: curl GET /api/items.json
#   stream 3: curl to port 81 -> SYN answered by RST (connection refused)
#
# Needs root. Re-runnable: stale namespaces from an interrupted run are removed first, and
# everything this run creates is removed on exit. Usage: sudo lab/record-http-with-refused.sh [OUT]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=lab/lib.sh
source "$here/lib.sh"

out=${1:-$repo/captures/http-with-refused.pcapng}
CNS=fl-c SNS=fl-s CIF=fl-c0 SIF=fl-s0
CLIENT=198.18.0.1 SERVER=198.18.0.2
EXPECT_STREAMS=4 EXPECT_REQUESTS=5

require_root
require_cmds ip nginx curl dumpcap tshark ss

tmp=$(mktemp -d /tmp/faultline-lab.XXXXXX)
chmod 755 "$tmp" # nginx workers (user nobody) must reach the doc root
cleanup() {
  lab_cleanup
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

remove_stale_netns "$CNS" "$SNS"

log "namespaces $CNS <-> $SNS"
netns_pair "$CNS" "$SNS" "$CIF" "$SIF" "$CLIENT/24" "$SERVER/24"

log "nginx in $SNS on $SERVER:80"
write_nginx_conf "$tmp/nginx" "$SERVER:80" "access_log $tmp/nginx/logs/access.log;"
mkdir -p "$tmp/nginx/www/api"
printf '{"status":"ok","service":"inventory","version":"1.4.2"}\n' >"$tmp/nginx/www/api/status.json"
printf '{"items":[{"id":1,"name":"bolt","qty":40},{"id":2,"name":"nut","qty":75}]}\n' \
  >"$tmp/nginx/www/api/items.json"
chmod -R a+rX "$tmp/nginx/www"
start_nginx "$SNS" "$tmp/nginx"
wait_listen "$SNS" 80

log "capturing on $CIF in $CNS"
# dumpcap writes pcapng natively; -f keeps only the lab's IPv4 traffic and ARP.
ip netns exec "$CNS" dumpcap -i "$CIF" -f "arp or host $SERVER" -w "$tmp/capture.pcapng" \
  >"$tmp/dumpcap.log" 2>&1 &
cap_pid=$!
LAB_PIDS+=("$cap_pid")
wait_for_log "$tmp/dumpcap.log" "Capturing on"
sleep 0.5 # let the capture socket settle before the first packet

base="http://$SERVER"
# curl runs in the client namespace; every call is bounded in time.
ccurl() { ip netns exec "$CNS" curl --silent --show-error --max-time 5 "$@"; }

log "3 GETs on one keep-alive connection"
res=$(ccurl -w '%{http_code} %{num_connects}\n' \
  -o /dev/null "$base/api/status.json" \
  -o /dev/null "$base/api/status.json?page=2" \
  -o /dev/null "$base/api/status.json?page=3")
while read -r line; do printf '    status, new connections: %s\n' "$line" >&2; done <<<"$res"
[ "$res" = $'200 1\n200 0\n200 0' ] || die "keep-alive requests did not go as planned: $res"
sleep 0.2

log "2 GETs on their own connections"
for path in /api/status.json /api/items.json; do
  code=$(ccurl -w '%{http_code}' -o /dev/null "$base$path")
  [ "$code" = 200 ] || die "GET $path returned $code"
  sleep 0.2
done

log "1 connect to closed port 81 (expect connection refused)"
rc=0
ccurl -o /dev/null "$base:81/api/status.json" 2>/dev/null || rc=$?
[ "$rc" -eq 7 ] || die "expected curl exit 7 (couldn't connect), got $rc"

sleep 0.5 # let the last FIN/ACKs arrive before stopping the capture
stop_capture "$cap_pid"

log "verifying the capture with tshark"
# tshark on the capture, without its "running as root" notice (other errors still show).
tsh() {
  local rc=0
  tshark -r "$tmp/capture.pcapng" "$@" 2>"$tmp/tshark.err" || rc=$?
  grep -v '^Running as user' "$tmp/tshark.err" >&2 || true
  return "$rc"
}
count() { tsh -Y "$1" -T fields -e frame.number | wc -l; }
frames=$(tsh -T fields -e frame.number | wc -l)
streams=$(tsh -Y tcp -T fields -e tcp.stream | sort -u | wc -l)
requests=$(count 'http.request')
ok=$(count 'http.response.code == 200')
refused=$(count 'tcp.flags.reset == 1 && tcp.srcport == 81')
bad_sum=$(tsh -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
  -Y 'tcp.checksum.status == 0 || ip.checksum.status == 0' -T fields -e frame.number | wc -l)
printf '    frames=%s tcp_streams=%s http_requests=%s http_200=%s refused_rst=%s bad_checksums=%s\n' \
  "$frames" "$streams" "$requests" "$ok" "$refused" "$bad_sum" >&2
[ "$streams" -eq "$EXPECT_STREAMS" ] || die "expected $EXPECT_STREAMS TCP streams, found $streams"
[ "$requests" -eq "$EXPECT_REQUESTS" ] || die "expected $EXPECT_REQUESTS HTTP requests, found $requests"
[ "$ok" -eq "$EXPECT_REQUESTS" ] || die "expected $EXPECT_REQUESTS HTTP 200 responses, found $ok"
[ "$refused" -eq 1 ] || die "expected 1 RST from port 81, found $refused"
[ "$bad_sum" -eq 0 ] || die "$bad_sum frames have bad checksums (offloads still on?)"

mkdir -p "$(dirname "$out")"
cp "$tmp/capture.pcapng" "$out"
chmod 644 "$out"
log "wrote $out ($(stat -c %s "$out") bytes, $frames frames, $streams TCP streams)"

# The expected findings: only the refused connect failed (frames from tshark, not faultline).
syn=$(tsh -Y 'tcp.dstport == 81 && tcp.flags.syn == 1' -T fields -e frame.number | head -n1)
rst=$(tsh -Y 'tcp.srcport == 81 && tcp.flags.reset == 1' -T fields -e frame.number | head -n1)
stream=$(tsh -Y "frame.number == $syn" -T fields -e tcp.stream)
expected="${out%.*}.expected.json"
cat >"$expected" <<JSON
{
  "capture": "$(basename "$out")",
  "made_by": "lab/record-http-with-refused.sh",
  "description": "Five GETs to nginx in three connections (one keep-alive), then a connect to port 81 (no listener) refused by the server's stack",
  "findings": [
    {"code": "server.refused", "category": "server", "stream": $stream, "evidence_frames": [$syn,$rst]}
  ]
}
JSON
log "wrote $expected"
