#!/usr/bin/env bash
# network.pmtu_blackhole: the router's delay line has MTU 1400, so transit packets larger than
# 1400 bytes cannot pass, and the router drops the ICMP it would send about it (iptables OUTPUT
# fragmentation-needed, ip6tables OUTPUT packet-too-big). The handshake and small segments pass;
# the client's full-size segments (1500-byte packets, MSS 1460/1440) die silently, so the
# client retransmits them with backoff until curl gives up (--max-time 15, exit 28).
#   stream 0: curl POST of 200 KB over IPv4     stream 1: the same over IPv6
# Makes captures/pmtu-blackhole.pcapng (dumpcap on c0, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-pmtu 20 1400
in_r iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP
in_r ip6tables -A OUTPUT -p icmpv6 --icmpv6-type packet-too-big -j DROP

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
head -c 204800 /dev/urandom >"$LAB_TMP/upload.bin"

cap="$LAB_TMP/pmtu-blackhole.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
for host in "$SERVER4" "[$SERVER6]"; do
  rc=$(CURL_MAX_TIME=15 ccurl -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    --data-binary "@$LAB_TMP/upload.bin" "http://$host/api/upload")
  [ "$rc" = 28 ] || die "expected curl exit 28 (timeout) for $host, got $rc"
done
capture_stop 0.5

# The router really generated the ICMP errors and dropped them.
n4=$(in_r iptables -nvxL OUTPUT | awk '/DROP/ { print $1; exit }')
n6=$(in_r ip6tables -nvxL OUTPUT | awk '/DROP/ { print $1; exit }')
log "router dropped $n4 ICMP fragmentation-needed and $n6 ICMPv6 packet-too-big"
[ "${n4:-0}" -gt 0 ] || die "the router dropped no ICMP fragmentation-needed"
[ "${n6:-0}" -gt 0 ] || die "the router dropped no ICMPv6 packet-too-big"

expect_begin "PMTU black hole: the router's next hop has MTU 1400 and the router drops its own ICMP fragmentation-needed / packet-too-big; a 200 KB POST to nginx completes the handshake, then the client's full-size segments are retransmitted with backoff until curl --max-time 15 gives up (exit 28); IPv4 then IPv6"
[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 2 ] || die "expected 2 TCP streams"
must_not "$cap" "(icmp.type == 3 && icmp.code == 4) || icmpv6.type == 2" \
  "an ICMP fragmentation-needed or packet-too-big at the client"
must_not "$cap" "tcp.flags.reset == 1 || http.response" "a reset or an HTTP response"
for s in 0 1; do
  case $s in 0) c=$CLIENT4 ;; 1) c=$CLIENT6 ;; esac
  f=$(ipf "$c")
  from_c="tcp.stream == $s && $f.src == $c"
  from_s="tcp.stream == $s && $f.dst == $c"
  must "$cap" "$from_s && tcp.flags.syn == 1 && tcp.flags.ack == 1" "the SYN-ACK of stream $s"
  # Every retransmission is of a packet too big for the 1400-byte hop, and nothing the server
  # acknowledges is above the first big segment: only small packets got through.
  must "$cap" "$from_c && tcp.analysis.retransmission" "retransmissions in stream $s"
  must_not "$cap" "$from_c && tcp.analysis.retransmission && frame.len <= 1414" \
    "a retransmitted small packet in stream $s"
  big=$(first_frame "$cap" "$from_c && frame.len > 1414")
  bigseq=$(tsh "$cap" -Y "frame.number == $big" -T fields -e tcp.seq)
  maxack=$(tsh "$cap" -Y "$from_s" -T fields -e tcp.ack | sort -n | tail -n1)
  [ "$maxack" -le "$bigseq" ] || die "stream $s: the server acknowledged data past the first big segment"
  first=$(first_frame "$cap" "$from_c && tcp.analysis.retransmission")
  last=$(last_frame "$cap" "$from_c && tcp.analysis.retransmission")
  n=$(count "$cap" "$from_c && tcp.analysis.retransmission")
  [ "$n" -ge 4 ] || die "stream $s: only $n retransmissions"
  log "stream $s: first big segment frame $big, $n retransmissions, frames $first..$last"
  expect_finding network.pmtu_blackhole "$s" "$first" "$last"
done
publish "$cap" pmtu-blackhole.pcapng
expect_write pmtu-blackhole.pcapng
