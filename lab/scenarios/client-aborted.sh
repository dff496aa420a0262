#!/usr/bin/env bash
# client.aborted: the server answers, but slowly: headers with Content-Length 1000000 and the first
# 1000 body bytes at once, then 4 bytes a second. curl --max-time 3 gives up first (exit 28) and
# closes the connection mid-response. IPv4 then IPv6, to lab/servers/misbehave.py in "trickle" mode.
# Makes captures/client-aborted.pcap (tcpdump on c0, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-cabort 20
start_bg "$TOPO_S" "$LAB_TMP/server.log" python3 "$lab_dir/servers/misbehave.py" trickle :: 8080 120
wait_listen "$TOPO_S" 8080

cap="$LAB_TMP/client-aborted.pcap"
capture_start "$cap" pcap "tcp or icmp or icmp6"
for host in "$SERVER4" "[$SERVER6]"; do
  rc=$(CURL_MAX_TIME=3 ccurl "http://$host:8080/api/export.bin")
  [ "$rc" = 28 ] || die "expected curl exit 28 (timeout) for $host, got $rc"
  sleep 1.5 # let the server's next trickle chunk meet the closed socket
done
capture_stop 0.5

expect_begin "GET /api/export.bin from a server that sends headers (Content-Length 1000000) and 1000 body bytes, then 4 bytes/s; curl --max-time 3 gives up mid-body (exit 28) and closes; IPv4 then IPv6"
for ip in "$SERVER4" "$SERVER6"; do
  f=$(ipf "$ip")
  syn=$(first_frame "$cap" "$f.dst == $ip && tcp.dstport == 8080 && tcp.flags.syn == 1 && tcp.flags.ack == 0")
  stream=$(field "$cap" "frame.number == $syn" tcp.stream)
  s="tcp.stream == $stream"
  req=$(first_frame "$cap" "$s && $f.dst == $ip && tcp.len > 0")
  resp=$(first_frame "$cap" "$s && $f.src == $ip && tcp.len > 0")
  # (the response never completes, so tshark's HTTP reassembly never shows it as http.response)
  must "$cap" "$s && $f.src == $ip && tcp.payload contains \"HTTP/1.1 200 OK\" && tcp.payload contains \"Content-Length: 1000000\"" "the 200 response announcing 1000000 bytes ($ip)"
  close=$(first_frame "$cap" "$s && $f.dst == $ip && (tcp.flags.fin == 1 || tcp.flags.reset == 1)")
  must_not "$cap" "$s && $f.src == $ip && (tcp.flags.fin == 1 || tcp.flags.reset == 1) && frame.number < $close" \
    "the server closing first ($ip)"
  [ "$resp" -lt "$close" ] || die "the client closed ($close) before any response byte ($resp)"
  sent=$(tsh "$cap" -Y "$s && $f.src == $ip && tcp.len > 0 && frame.number < $close" -T fields -e tcp.len | awk '{ n += $1 } END { print n + 0 }')
  [ "$sent" -lt 1000000 ] || die "the whole body arrived ($sent bytes) ($ip)"
  t=$(field "$cap" "frame.number == $close" tcp.time_relative)
  log "$ip: stream $stream, request $req, first response data $resp, client closes at $close (${t}s), $sent server bytes before"
  expect_finding client.aborted "$stream" "$req" "$resp" "$close"
done
publish "$cap" client-aborted.pcap
expect_write client-aborted.pcap
