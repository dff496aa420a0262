#!/usr/bin/env bash
# server.not_reading: the server accepts but its application never reads (SO_RCVBUF 4096 set before
# listen). The client POSTs a 3 MB body; the server's receive buffer fills, it advertises a zero
# window and keeps it at zero, the client sends zero-window probes until curl gives up
# (--max-time 8, exit 28). IPv4 then IPv6, to lab/servers/misbehave.py in "notread" mode.
# Makes captures/not-reading.pcap (tcpdump -i any, Linux cooked v2).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-notrd 20
start_bg "$TOPO_S" "$LAB_TMP/server.log" python3 "$lab_dir/servers/misbehave.py" notread :: 8080 120
wait_listen "$TOPO_S" 8080
head -c 3000000 /dev/zero | tr '\0' 'x' >"$LAB_TMP/body.bin"
chmod 644 "$LAB_TMP/body.bin"

cap="$LAB_TMP/not-reading.pcap"
capture_start "$cap" sll2 "tcp or icmp or icmp6"
for host in "$SERVER4" "[$SERVER6]"; do
  # "Expect:" off, so curl sends the body at once instead of waiting for 100-continue.
  rc=$(CURL_MAX_TIME=8 ccurl -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    --data-binary "@$LAB_TMP/body.bin" "http://$host:8080/api/upload")
  [ "$rc" = 28 ] || die "expected curl exit 28 (timeout) for $host, got $rc"
done
capture_stop 1

expect_begin "POST /api/upload with a 3 MB body to a server that never reads (SO_RCVBUF 4096): the server's window goes to zero and stays there, the client probes (bare ACKs with seq-1) until curl --max-time 8 gives up (exit 28); the unsent body keeps the client's FIN queued, so no FIN/RST is on the wire; IPv4 then IPv6"
for ip in "$SERVER4" "$SERVER6"; do
  f=$(ipf "$ip")
  syn=$(first_frame "$cap" "$f.dst == $ip && tcp.dstport == 8080 && tcp.flags.syn == 1 && tcp.flags.ack == 0")
  stream=$(field "$cap" "frame.number == $syn" tcp.stream)
  s="tcp.stream == $stream"
  zw=$(first_frame "$cap" "$s && $f.src == $ip && tcp.analysis.zero_window")
  # The window never opens again: every later packet from the server still advertises zero.
  must_not "$cap" "$s && $f.src == $ip && frame.number > $zw && tcp.window_size > 0" \
    "the server's window opening again ($ip)"
  # Linux probes a zero window with a bare ACK carrying seq snd_una - 1 (tcp_xmit_probe_skb), which
  # tshark labels as a keep-alive, not as a zero-window probe.
  probes=$(count "$cap" "$s && $f.dst == $ip && frame.number > $zw && (tcp.analysis.keep_alive || tcp.analysis.zero_window_probe)")
  [ "$probes" -ge 3 ] || die "expected at least 3 zero-window probes from the client ($ip), got $probes"
  must_not "$cap" "$s && $f.src == $ip && tcp.len > 0" "a response byte from the server ($ip)"
  close=$(frames "$cap" "$s && $f.dst == $ip && (tcp.flags.fin == 1 || tcp.flags.reset == 1)" | head -n1)
  log "$ip: stream $stream, first zero window frame $zw, $probes probes, client FIN/RST: ${close:-none}"
  # shellcheck disable=SC2086 # $close is empty or one frame number
  expect_finding server.not_reading "$stream" "$zw" $close
done
publish "$cap" not-reading.pcap
expect_write not-reading.pcap
