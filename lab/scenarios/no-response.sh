#!/usr/bin/env bash
# server.no_response: the server's stack accepts the connection and ACKs the request, but the
# application never answers; the client gives up and closes. Three connections to
# lab/servers/misbehave.py in "silent" mode: curl --max-time 5 over IPv4 (exit 28), Python
# http.client with timeout=4 over IPv4 (socket timeout), curl --max-time 5 over IPv6 (exit 28).
# Makes captures/no-response.pcapng (dumpcap on c0, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-norsp 20
start_bg "$TOPO_S" "$LAB_TMP/server.log" python3 "$lab_dir/servers/misbehave.py" silent :: 8080 120
wait_listen "$TOPO_S" 8080

# pyget HOST — GET /api/report with http.client, timeout 4 s; prints what happened.
pyget() {
  in_c timeout 15 python3 - "$1" <<'PY'
import http.client, socket, sys
conn = http.client.HTTPConnection(sys.argv[1], 8080, timeout=4)
try:
    conn.request("GET", "/api/report", headers={"Accept": "application/json"})
    r = conn.getresponse()
    print("response", r.status)
except (socket.timeout, TimeoutError) as e:
    print("timeout", e)
finally:
    conn.close()
PY
}

cap="$LAB_TMP/no-response.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
rc=$(CURL_MAX_TIME=5 ccurl "http://$SERVER4:8080/api/report")
[ "$rc" = 28 ] || die "expected curl exit 28 (timeout) over IPv4, got $rc"
out=$(pyget "$SERVER4")
case $out in timeout*) ;; *) die "expected a Python socket timeout, got: $out" ;; esac
rc=$(CURL_MAX_TIME=5 ccurl "http://[$SERVER6]:8080/api/report")
[ "$rc" = 28 ] || die "expected curl exit 28 (timeout) over IPv6, got $rc"
capture_stop 1

expect_begin "GET /api/report to a server that ACKs the request but never answers; the client gives up: curl --max-time 5 (exit 28) over IPv4, Python http.client timeout=4 over IPv4, curl --max-time 5 over IPv6"
streams=$(tsh "$cap" -Y "tcp.port == 8080 && tcp.flags.syn == 1 && tcp.flags.ack == 0" -T fields -e tcp.stream | sort -n -u)
[ "$(printf '%s\n' "$streams" | wc -l)" -eq 3 ] || die "expected 3 connections, got: $streams"
for stream in $streams; do
  s="tcp.stream == $stream && tcp.port == 8080"
  data=$(first_frame "$cap" "$s && tcp.dstport == 8080 && tcp.len > 0")
  must "$cap" "$s && tcp.srcport == 8080 && tcp.ack > 1 && frame.number > $data" "the server's stack ACKing the request (stream $stream)"
  must_not "$cap" "$s && tcp.srcport == 8080 && (tcp.len > 0 || tcp.flags.fin == 1 || tcp.flags.reset == 1)" \
    "any byte, FIN or RST from the server (stream $stream)"
  close=$(first_frame "$cap" "$s && tcp.dstport == 8080 && (tcp.flags.fin == 1 || tcp.flags.reset == 1) && frame.number > $data")
  t=$(field "$cap" "frame.number == $close" tcp.time_relative)
  log "stream $stream: request frame $data, client closes at frame $close, ${t}s into the connection"
  expect_finding server.no_response "$stream" "$data" "$close"
done
publish "$cap" no-response.pcapng
expect_write no-response.pcapng
