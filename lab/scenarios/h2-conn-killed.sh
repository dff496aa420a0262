#!/usr/bin/env bash
# HTTP/2 calls killed by the TCP connection under them, with no HTTP/2 word about it (no GOAWAY,
# no RST_STREAM): lab/servers/h2server.py (hyper-h2, h2c :8082) and lab/servers/h2client.py
# (plan `hold`), one connection each:
#   crash  (IPv4) /hold /hold /crash on streams 1 3 5: the server drops the connection with a TCP
#          RST (SO_LINGER 0) with all three streams open
#   close  (IPv4) /hold /close on streams 1 3: the server closes (FIN) with both open
#   silent (IPv6) /hold /hold on streams 1 3: the server never answers; the client closes (FIN)
#          after 3 s
# One finding per connection naming the streams it killed (h2_streams), with the HTTP/1.x codes
# of the same TCP events: server.reset_after_request (key frames: the requests' HEADERS and the
# server's RST), server.closed_without_response (the requests and the server's FIN),
# server.no_response (the requests and the client's FIN).
# Makes captures/h2-conn-killed.pcapng (dumpcap on c0).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/h2-lib.sh
source "$lab_dir/h2-lib.sh"
python3 -c 'import h2' 2>/dev/null || die "python3 has no h2 module (pip install h2)"

topo_up fl-h2kill 20
start_bg "$TOPO_S" "$LAB_TMP/h2server.log" python3 "$lab_dir/servers/h2server.py" :: 8082 120
wait_listen "$TOPO_S" 8082
cap="$LAB_TMP/h2-conn-killed.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
client() { # client ADDR PATH...
  in_c timeout 20 python3 "$lab_dir/servers/h2client.py" hold "$1" 8082 "${@:2}" >>"$LAB_TMP/client.log" 2>&1 ||
    die "h2client.py hold $*: $(tail -n5 "$LAB_TMP/client.log")"
  sleep 0.3
}
client "$SERVER4" /hold /hold /crash
client "$SERVER4" /hold /close
client "$SERVER6" /hold /hold
capture_stop 0.5
cat "$LAB_TMP/client.log" >&2

TSH_ARGS=(-d tcp.port==8082,http2)
h2_index "$cap" "${TSH_ARGS[@]}"
[ "$(tsh "$cap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e tcp.stream | sort -u | wc -l)" -eq 3 ] ||
  die "expected 3 TCP connections"
[ "$(h2_rows '$6 == 3 || $6 == 7 { print }' | wc -l)" -eq 0 ] || die "an RST_STREAM or GOAWAY: the connection was not killed silently"
[ "$(h2_rows '$3 == 8082 && $6 == 1 { print }' | wc -l)" -eq 0 ] || die "a stream was answered"
conn_of() { h2_rows "\$6 == 1 && \$4 == 8082 && \$12 == \"$1\" { print \$2; exit }"; }
# reqs TCP — the request HEADERS frame of every stream on the connection, and their ids.
reqs() { h2_rows "\$2 == $1 && \$4 == 8082 && \$6 == 1 { print \$1 }" | sort -n -u; }
ids() { h2_rows "\$2 == $1 && \$4 == 8082 && \$6 == 1 { print \$5 }" | sort -n -u | paste -sd' '; }
expect_begin "HTTP/2 calls killed by the TCP connection under them, no GOAWAY or RST_STREAM (h2c, lab/servers/h2server.py and h2client.py): (1) IPv4, streams 1 3 5 open (/hold /hold /crash) when the server drops the connection with a TCP RST; (2) IPv4, streams 1 3 open (/hold /close) when the server closes it (FIN); (3) IPv6, streams 1 3 (/hold /hold) never answered, the client closes after 3 s (FIN). One finding per connection naming the streams it killed; key frames: the requests' HEADERS and the RST or FIN"
t=$(conn_of /crash)
[ "$(ids "$t")" = "1 3 5" ] || die "crash: streams $(ids "$t")"
rst=$(first_frame "$cap" "tcp.stream == $t && tcp.srcport == 8082 && tcp.flags.reset == 1")
must_not "$cap" "tcp.stream == $t && tcp.srcport == 8082 && tcp.flags.fin == 1" "a FIN before the crash's RST"
must_not "$cap" "tcp.stream == $t && tcp.dstport == 8082 && (tcp.flags.fin == 1 || tcp.flags.reset == 1) && frame.number < $rst" "the client closing first"
expect_finding_h2s server.reset_after_request "$t" "1 3 5" $(reqs "$t") "$rst"
t=$(conn_of /close)
[ "$(ids "$t")" = "1 3" ] || die "close: streams $(ids "$t")"
fin=$(first_frame "$cap" "tcp.stream == $t && tcp.srcport == 8082 && tcp.flags.fin == 1")
must_not "$cap" "tcp.stream == $t && tcp.dstport == 8082 && (tcp.flags.fin == 1 || tcp.flags.reset == 1) && frame.number < $fin" "the client closing first"
expect_finding_h2s server.closed_without_response "$t" "1 3" $(reqs "$t") "$fin"
t=$(tsh "$cap" -Y 'ipv6 && tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e tcp.stream | head -n1)
[ "$(ids "$t")" = "1 3" ] || die "silent: streams $(ids "$t")"
fin=$(first_frame "$cap" "tcp.stream == $t && tcp.dstport == 8082 && tcp.flags.fin == 1")
must_not "$cap" "tcp.stream == $t && tcp.srcport == 8082 && (tcp.flags.fin == 1 || tcp.flags.reset == 1) && frame.number < $fin" "the server closing first"
first=$(reqs "$t" | head -n1)
gap=$(awk -v a="$(tsh "$cap" -Y "frame.number == $first" -T fields -e frame.time_epoch)" \
  -v b="$(tsh "$cap" -Y "frame.number == $fin" -T fields -e frame.time_epoch)" 'BEGIN { printf "%.1f", b - a }')
awk -v g="$gap" 'BEGIN { exit !(g >= 2.5) }' || die "silent: the client gave up after only ${gap}s"
expect_finding_h2s server.no_response "$t" "1 3" $(reqs "$t") "$fin"
publish "$cap" h2-conn-killed.pcapng
expect_write h2-conn-killed.pcapng
