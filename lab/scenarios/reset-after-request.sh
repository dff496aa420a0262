#!/usr/bin/env bash
# server.reset_after_request: the server reads the whole request, then closes with SO_LINGER {1, 0},
# so its kernel answers with RST and not a single response byte. curl: "Connection reset by peer"
# (exit 56). IPv4 then IPv6, one connection each, to lab/servers/misbehave.py in "reset" mode.
# Makes captures/reset-after-request.pcap (tcpdump on c0, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-rstreq 20
start_bg "$TOPO_S" "$LAB_TMP/server.log" python3 "$lab_dir/servers/misbehave.py" reset :: 8080 120
wait_listen "$TOPO_S" 8080

cap="$LAB_TMP/reset-after-request.pcap"
capture_start "$cap" pcap "tcp or icmp or icmp6"
for host in "$SERVER4" "[$SERVER6]"; do
  rc=$(ccurl "http://$host:8080/api/orders")
  [ "$rc" = 56 ] || die "expected curl exit 56 (connection reset) for $host, got $rc"
done
capture_stop 0.5
grep -q 'reset by peer' "$LAB_TMP/curl.err" || die "curl did not report a reset: $(cat "$LAB_TMP/curl.err")"

expect_begin "GET /api/orders to a server that reads the request and closes with SO_LINGER {1,0}: RST instead of a response (curl exit 56); IPv4 then IPv6"
for ip in "$SERVER4" "$SERVER6"; do
  f=$(ipf "$ip")
  conn="tcp.port == 8080 && ($f.src == $ip || $f.dst == $ip)"
  data=$(first_frame "$cap" "$conn && $f.dst == $ip && tcp.len > 0")
  stream=$(field "$cap" "frame.number == $data" tcp.stream)
  s="tcp.stream == $stream"
  rst=$(first_frame "$cap" "$s && $f.src == $ip && tcp.flags.reset == 1")
  must_not "$cap" "$s && $f.src == $ip && tcp.len > 0" "a response byte from the server ($ip)"
  must_not "$cap" "$s && $f.dst == $ip && (tcp.flags.reset == 1 || tcp.flags.fin == 1) && frame.number < $rst" \
    "the client closing before the server's RST ($ip)"
  [ "$rst" -gt "$data" ] || die "the RST ($rst) is not after the request ($data)"
  expect_finding server.reset_after_request "$stream" "$data" "$rst"
done
publish "$cap" reset-after-request.pcap
expect_write reset-after-request.pcap
