#!/usr/bin/env bash
# network.peer_unresponsive_midstream: an upload is under way (curl POSTs a 2 MB body to nginx,
# paced with --limit-rate 32k) when the router starts to DROP every packet of the flow in both
# directions. The client retransmits its oldest unacknowledged segment with exponential backoff
# until its stack gives up (net.ipv4.tcp_retries2 = 5 in the client namespace, about 13 s; it
# applies to IPv6 too) and curl fails with "Connection timed out" (exit 56, "Recv failure", or 55).
#   stream 0: IPv4 (iptables)     stream 1: IPv6 (ip6tables)
# Makes captures/peer-unresponsive.pcap (tcpdump on c0, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-peerun 20
in_c sysctl -qw net.ipv4.tcp_retries2=5

# nginx reads the whole body (proxy_pass to a loopback-only block) before it would answer.
ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "80" "access_log off; client_max_body_size 16m;
  server { listen 127.0.0.1:8099; location / { return 200 '{\"ok\":true}\n'; } }"
cat >"$LAB_TMP/locations.conf" <<'CONF'
    listen [::]:80;
    location /api/ { proxy_pass http://127.0.0.1:8099; }
CONF
sed -i "/listen 80;/r $LAB_TMP/locations.conf" "$ngx/nginx.conf"
chmod -R a+rX "$ngx"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 80
head -c 2097152 /dev/urandom >"$LAB_TMP/upload.bin"
chmod 644 "$LAB_TMP/upload.bin"

# upload_then_blackhole TABLES HOST CLIENT_ADDR — start the paced upload, let it run 1.5 s, then
# DROP the flow in the router; wait (bounded) for curl and check its exit code.
upload_then_blackhole() {
  local t=$1 host=$2 caddr=$3 i rc=0
  start_bg "$TOPO_C" "$LAB_TMP/curl-$t.log" curl --silent --show-error --max-time 40 \
    --limit-rate 32k -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    --data-binary "@$LAB_TMP/upload.bin" "http://$host/api/upload"
  local pid=$BG_PID
  sleep 1.5
  kill -0 "$pid" 2>/dev/null || die "the upload to $host ended before the fault"
  in_r "$t" -I FORWARD -p tcp -s "$caddr" --dport 80 -j DROP
  in_r "$t" -I FORWARD -p tcp -d "$caddr" --sport 80 -j DROP
  for ((i = 0; i < 450; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  wait "$pid" || rc=$?
  log "curl to $host: exit $rc ($(tr '\n' ' ' <"$LAB_TMP/curl-$t.log"))"
  # The socket error is ETIMEDOUT; curl reports it as a send (55) or receive (56) failure.
  case $rc in 55 | 56) ;; *) die "expected curl to fail with 55/56 (timed out), got $rc" ;; esac
  grep -q "Connection timed out" "$LAB_TMP/curl-$t.log" || die "curl did not report a timeout"
}

cap="$LAB_TMP/peer-unresponsive.pcap"
capture_start "$cap" pcap "tcp or icmp or icmp6"
upload_then_blackhole iptables "$SERVER4" "$CLIENT4"
upload_then_blackhole ip6tables "[$SERVER6]" "$CLIENT6"
capture_stop 0.5

expect_begin "A 2 MB POST to nginx (curl --limit-rate 32k) is under way when the router starts to drop every packet of the flow; the client retransmits with exponential backoff until its stack gives up (tcp_retries2=5) and curl fails with 'Connection timed out'; IPv4 then IPv6"
[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 2 ] || die "expected 2 TCP streams"
must_not "$cap" "tcp.flags.reset == 1 || icmp || icmpv6.type < 128 || http.response" \
  "a reset, an ICMP error or an HTTP response"
for s in 0 1; do
  case $s in 0) c=$CLIENT4 ;; 1) c=$CLIENT6 ;; esac
  f=$(ipf "$c")
  from_c="tcp.stream == $s && $f.src == $c"
  from_s="tcp.stream == $s && $f.dst == $c"
  # The upload really flowed first: over 30 KB acknowledged by the server.
  [ "$(tsh "$cap" -Y "$from_s" -T fields -e tcp.ack | sort -n | tail -n1)" -gt 30000 ] ||
    die "stream $s: the server acknowledged less than 30 KB before the fault"
  first=$(first_frame "$cap" "$from_c && tcp.analysis.retransmission")
  last=$(last_frame "$cap" "$from_c && tcp.analysis.retransmission")
  last_srv=$(last_frame "$cap" "$from_s")
  # The stall is final and clean: nothing from the server after the first retransmission, no
  # retransmission before the stall, at least 5 retransmissions spread over > 5 s, and the gaps
  # between them (after the first, often a tail-loss probe) grow by exponential backoff.
  [ "$last_srv" -lt "$first" ] || die "stream $s: the server still answered after the stall began"
  n=$(count "$cap" "$from_c && tcp.analysis.retransmission")
  [ "$n" -ge 5 ] || die "stream $s: only $n retransmissions in the stall"
  t1=$(field "$cap" "frame.number == $first" frame.time_relative)
  t2=$(field "$cap" "frame.number == $last" frame.time_relative)
  awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b - a > 5) }' ||
    die "stream $s: the retransmissions span only $t1..$t2 s"
  tsh "$cap" -Y "$from_c && tcp.analysis.retransmission" -T fields -e frame.time_relative |
    awk 'NR > 1 { gap = $1 - prev; if (NR > 2 && gap < 1.5 * last) bad = 1; last = gap }
         { prev = $1 } END { exit bad }' || die "stream $s: no exponential backoff"
  log "stream $s: $n retransmissions, frames $first..$last, $t1..$t2 s"
  expect_finding network.peer_unresponsive_midstream "$s" "$first" "$last"
done
publish "$cap" peer-unresponsive.pcap
expect_write peer-unresponsive.pcap
