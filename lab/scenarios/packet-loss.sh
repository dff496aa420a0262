#!/usr/bin/env bash
# network.packet_loss: the router drops 5 % of the transit packets at random, in each direction
# (iptables/ip6tables FORWARD -o dl0 -m statistic --mode random --probability 0.05 -j DROP; the
# rule matches on the way into the delay line, so each packet is tested once). The calls all
# succeed, slowly, with retransmissions (fast retransmits and RTO stalls). Both ends advertise
# MSS 536 (route advmss), so there are more, smaller segments:
#   stream 0: curl GET of a 192 KB file over IPv4
#   stream 1: curl POST of a 128 KB body over IPv4, paced at 48 KB/s (nginx reads it all, then answers 200)
#   stream 2: curl GET of a 128 KB file over IPv6
# Each connection must show at least 3 retransmissions (tcp.analysis.retransmission, either
# direction), and its first retransmission must come before any segment tshark labels
# out-of-order; the run is repeated (at most 10 times) until all three streams qualify.
# Makes captures/packet-loss.pcap (tcpdump -i any, Linux cooked v2).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-ploss 20
# Both ends advertise MSS 536 (route advmss), so a transfer has about three times as many
# segments as with full-size ones: enough losses per connection at 5 %, in a small capture.
in_c ip route change 198.18.0.0/15 via "$ROUTER4_C" advmss 536
in_c ip -6 route change fd0f:a17::/32 via "$ROUTER6_C" advmss 536
in_s ip route change 198.18.0.0/15 via "$ROUTER4_S" advmss 536
in_s ip -6 route change fd0f:a17::/32 via "$ROUTER6_S" advmss 536

ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "80" "access_log off; client_max_body_size 16m;
  server { listen 127.0.0.1:8099; location / { return 200 '{\"ok\":true}\n'; } }"
cat >"$LAB_TMP/locations.conf" <<'CONF'
    listen [::]:80;
    location /api/ { proxy_pass http://127.0.0.1:8099; }
CONF
sed -i "/listen 80;/r $LAB_TMP/locations.conf" "$ngx/nginx.conf"
head -c 196608 /dev/urandom >"$ngx/www/export-192k.bin"
head -c 131072 /dev/urandom >"$ngx/www/export-128k.bin"
head -c 131072 /dev/urandom >"$LAB_TMP/upload.bin"
chmod -R a+rX "$ngx"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 80

for t in iptables ip6tables; do
  in_r "$t" -I FORWARD -o dl0 -m statistic --mode random --probability 0.05 -j DROP
done

cap="$LAB_TMP/packet-loss.pcap"
# tshark with out-of-order reassembly and without HTTP body reassembly, so the HTTP headers of
# a lossy stream are decoded whatever happened to the body segments.
tshr() {
  tsh "$1" -o tcp.reassemble_out_of_order:TRUE -o http.desegment_body:FALSE -Y "$2" -T fields -e frame.number
}
# retrans_in FILE STREAM — retransmissions (either direction) tshark sees in one stream.
retrans_in() { count "$1" "tcp.stream == $2 && tcp.analysis.retransmission"; }
# clean_first FILE STREAM — true when the stream's first retransmission comes before any
# segment tshark calls out-of-order (at the client a hole-filling retransmission from the
# server can be labelled out-of-order; such a run would make "the first retransmission"
# ambiguous, so it is repeated).
clean_first() {
  local r o
  r=$(frames "$1" "tcp.stream == $2 && tcp.analysis.retransmission" | head -n1)
  o=$(frames "$1" "tcp.stream == $2 && tcp.analysis.out_of_order" | head -n1)
  [ -n "$r" ] && { [ -z "$o" ] || [ "$r" -lt "$o" ]; }
}
ok=0
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  rm -f "$cap"
  capture_start "$cap" sll2 "tcp or icmp or icmp6"
  rc1=$(CURL_MAX_TIME=60 ccurl "http://$SERVER4/export-192k.bin")
  rc2=$(CURL_MAX_TIME=60 ccurl --limit-rate 48k -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    --data-binary "@$LAB_TMP/upload.bin" "http://$SERVER4/api/upload")
  rc3=$(CURL_MAX_TIME=60 ccurl "http://[$SERVER6]/export-128k.bin")
  capture_stop 2
  [ "$rc1$rc2$rc3" = 000 ] || die "curl failed under 5 % loss (exit codes $rc1 $rc2 $rc3)"
  n0=$(retrans_in "$cap" 0) n1=$(retrans_in "$cap" 1) n2=$(retrans_in "$cap" 2)
  log "attempt $attempt: retransmissions per stream: $n0 $n1 $n2"
  if [ "$n0" -ge 3 ] && [ "$n1" -ge 3 ] && [ "$n2" -ge 3 ] &&
    clean_first "$cap" 0 && clean_first "$cap" 1 && clean_first "$cap" 2; then
    ok=1
    break
  fi
done
[ "$ok" = 1 ] || die "no run with >= 3 retransmissions on every connection"

# The packets must show three whole calls: 3 streams, 3 responses 200, the full sizes, and no
# ICMP error or reset.
[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 3 ] || die "expected 3 TCP streams"
[ "$(tshr "$cap" "http.response.code == 200" | wc -l)" -eq 3 ] || die "expected 3 responses 200"
[ -n "$(tshr "$cap" "tcp.stream == 0 && http.response.code == 200 && http.content_length == 196608")" ] ||
  die "no complete 192 KB download in stream 0"
[ -n "$(tshr "$cap" "tcp.stream == 1 && http.request.method == \"POST\" && http.content_length == 131072")" ] ||
  die "no complete 128 KB upload in stream 1"
[ -n "$(tshr "$cap" "tcp.stream == 2 && ipv6 && http.response.code == 200 && http.content_length == 131072")" ] ||
  die "no complete IPv6 128 KB download in stream 2"
must_not "$cap" "tcp.flags.reset == 1 || icmp || icmpv6.type < 128" "a reset or ICMP error"

expect_begin "The router drops 5% of transit packets at random in each direction (iptables -m statistic); a 192 KB GET and a 128 KB POST over IPv4 and a 128 KB GET over IPv6 all succeed, slowly, after retransmissions (fast retransmits and RTO stalls)"
for s in 0 1 2; do
  expect_finding network.packet_loss "$s" "$(first_frame "$cap" "tcp.stream == $s && tcp.analysis.retransmission")"
done
publish "$cap" packet-loss.pcap
expect_write packet-loss.pcap
