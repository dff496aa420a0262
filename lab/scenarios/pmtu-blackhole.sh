#!/usr/bin/env bash
# network.pmtu_blackhole: the router's delay line has MTU 1400, so transit packets larger than
# 1400 bytes cannot pass, and the router drops the ICMP it would send about it (iptables OUTPUT
# fragmentation-needed, ip6tables OUTPUT packet-too-big). The handshake and small segments pass;
# the client's full-size segments (1500-byte packets, MSS 1460/1440) die silently, so the
# client retransmits them with backoff until curl gives up (--max-time 15, exit 28).
#   stream 0: curl POST of 200 KB over IPv4     stream 1: the same over IPv6
# Makes captures/pmtu-blackhole.pcapng (dumpcap on c0, Ethernet).
# Then the other direction, captured at both ends at once (dumpcap on the client's c0 and on the
# server's s0): the server's full-size segments die in the same hole.
#   stream 0: curl GET of a 300 KB file from nginx :8080, IPv4    stream 1: the same, IPv6
#   stream 2: curl HTTPS (TLS 1.3) to nginx with a big RSA 4096 certificate chain (long SAN list):
#             the server's Certificate flight is swallowed, the handshake never completes
# curl --max-time 8 gives up on each (exit 28). At the server end the server retransmits its
# big segments with backoff; at the client end only small packets ever arrive, and the server's
# ACK of the client's FIN carries a sequence number past everything the client received.
# Makes captures/pmtu-blackhole-both-ends-client.pcapng and pmtu-blackhole-both-ends-server.pcapng.
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-pmtu 20 1400
in_r iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP
in_r ip6tables -A OUTPUT -p icmpv6 --icmpv6-type packet-too-big -j DROP

# nginx reads the whole body (proxy_pass to a loopback-only block) before it would answer.
ngx=$LAB_TMP/nginx
# A big certificate chain: RSA 4096 CA and leaf, the leaf with a long SAN list.
tls=$LAB_TMP/tls
mkdir -p "$tls"
san="DNS:api.lab.test,IP:$SERVER4"
for i in $(seq -w 1 40); do san="$san,DNS:service-$i.eu-west-1.internal.api.lab.test"; done
openssl req -x509 -newkey rsa:4096 -nodes -days 30 -subj "/CN=faultline lab big CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>>"$LAB_TMP/openssl.log" || die "openssl: CA failed"
openssl req -new -newkey rsa:4096 -nodes -subj "/CN=api.lab.test" -keyout "$tls/leaf.key" \
  -out "$tls/leaf.csr" 2>>"$LAB_TMP/openssl.log" || die "openssl: request failed"
printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" >"$tls/ext.cnf"
openssl x509 -req -in "$tls/leaf.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
  -days 30 -extfile "$tls/ext.cnf" -out "$tls/leaf.pem" 2>>"$LAB_TMP/openssl.log" || die "openssl: leaf failed"
cat "$tls/leaf.pem" "$tls/ca.pem" >"$tls/chain.pem"
log "certificate chain: $(openssl x509 -in "$tls/leaf.pem" -outform der | wc -c) + $(openssl x509 -in "$tls/ca.pem" -outform der | wc -c) bytes (DER)"

write_nginx_conf "$ngx" "80" "access_log off; client_max_body_size 16m;
  server { listen 443 ssl; ssl_certificate $tls/chain.pem; ssl_certificate_key $tls/leaf.key;
           ssl_protocols TLSv1.3; root $ngx/www; }
  server { listen 127.0.0.1:8099; location / { return 200 '{\"ok\":true}\n'; } }"
cat >"$LAB_TMP/locations.conf" <<'CONF'
    listen [::]:80;
    listen 8080;
    listen [::]:8080;
    location /api/ { proxy_pass http://127.0.0.1:8099; }
CONF
sed -i "/listen 80;/r $LAB_TMP/locations.conf" "$ngx/nginx.conf"
chmod -R a+rX "$ngx"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 80
head -c 204800 /dev/urandom >"$LAB_TMP/upload.bin"
head -c 307200 /dev/urandom >"$ngx/www/big.bin"
chmod -R a+rX "$ngx" "$tls"
wait_listen "$TOPO_S" 443

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

# Part 2: downloads into the hole, captured at both ends.
in_r iptables -Z OUTPUT
in_r ip6tables -Z OUTPUT
ccap="$LAB_TMP/pmtu-blackhole-both-ends-client.pcapng"
scap="$LAB_TMP/pmtu-blackhole-both-ends-server.pcapng"
# Port 8080 (and 443): the kernel still retransmits the abandoned uploads to :80 of part 1.
ip netns exec "$TOPO_S" dumpcap -i s0 -f "tcp port 8080 or tcp port 443 or icmp or icmp6" -w "$scap" >"$scap.log" 2>&1 &
SCAP_PID=$!
LAB_PIDS+=("$SCAP_PID")
wait_for_log "$scap.log" "Capturing on"
capture_start "$ccap" pcapng "tcp port 8080 or tcp port 443 or icmp or icmp6"
for host in "$SERVER4" "[$SERVER6]"; do
  rc=$(CURL_MAX_TIME=8 ccurl "http://$host:8080/big.bin")
  [ "$rc" = 28 ] || die "expected curl exit 28 (timeout) for the download from $host, got $rc"
done
rc=$(CURL_MAX_TIME=8 ccurl --cacert "$tls/ca.pem" --resolve "api.lab.test:443:$SERVER4" https://api.lab.test/big.bin)
[ "$rc" = 28 ] || die "expected curl exit 28 (timeout) for the HTTPS download, got $rc"
capture_stop 0.5
stop_capture "$SCAP_PID"
n4=$(in_r iptables -nvxL OUTPUT | awk '/DROP/ { print $1; exit }')
n6=$(in_r ip6tables -nvxL OUTPUT | awk '/DROP/ { print $1; exit }')
log "router dropped $n4 ICMP fragmentation-needed and $n6 ICMPv6 packet-too-big (downloads)"
[ "${n4:-0}" -gt 0 ] && [ "${n6:-0}" -gt 0 ] || die "the router dropped no ICMP during the downloads"

both_desc="PMTU black hole, server to client, captured at the %s: the router's next hop has MTU 1400 and the router drops its own ICMP fragmentation-needed / packet-too-big; curl GETs a 300 KB file from nginx over IPv4 (stream 0) and IPv6 (stream 1), and HTTPS (TLS 1.3, RSA 4096 chain with 42 SANs) over IPv4 (stream 2): the server's full-size segments (the response, the Certificate flight) die, only small packets arrive; curl --max-time 8 gives up (exit 28)"
for end in client server; do
  case $end in client) cap=$ccap ;; server) cap=$scap ;; esac
  [ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 3 ] || die "$end end: expected 3 TCP streams"
  must_not "$cap" "(icmp.type == 3 && icmp.code == 4) || icmpv6.type == 2" "an ICMP fragmentation-needed or packet-too-big"
  must_not "$cap" "http.response || tls.handshake.type == 20 || tls.handshake.type == 11" \
    "an HTTP response, a TLS Finished or a Certificate that got through"
done
expect_begin "$(printf "$both_desc" "client (c0): key frames the first server packet whose sequence number jumps past data that never arrived (tshark: previous segment not captured), and the client's first FIN")"
for s in 0 1 2; do
  case $s in 0 | 2) c=$CLIENT4 ;; 1) c=$CLIENT6 ;; esac
  f=$(ipf "$c")
  from_s="tcp.stream == $s && $f.dst == $c"
  # Nothing but small packets arrives from the server.
  must_not "$ccap" "$from_s && frame.len > 1414" "a full-size packet from the server on stream $s"
  gap=$(first_frame "$ccap" "$from_s && tcp.analysis.lost_segment")
  fin=$(first_frame "$ccap" "tcp.stream == $s && $f.src == $c && tcp.flags.fin == 1")
  log "client end, stream $s: sequence gap at frame $gap, client FIN $fin"
  expect_finding network.pmtu_blackhole "$s" "$gap" "$fin"
done
publish "$ccap" pmtu-blackhole-both-ends-client.pcapng
expect_write pmtu-blackhole-both-ends-client.pcapng

expect_begin "$(printf "$both_desc" "server (s0): key frames the first and last retransmission of the server's full-size segments")"
for s in 0 1 2; do
  case $s in 0 | 2) sv=$SERVER4 ;; 1) sv=$SERVER6 ;; esac
  f=$(ipf "$sv")
  from_sv="tcp.stream == $s && $f.src == $sv"
  must_not "$scap" "$from_sv && tcp.analysis.retransmission && frame.len <= 1414" \
    "a retransmitted small packet from the server on stream $s"
  n=$(count "$scap" "$from_sv && tcp.analysis.retransmission")
  [ "$n" -ge 3 ] || die "server end, stream $s: only $n retransmissions"
  first=$(first_frame "$scap" "$from_sv && tcp.analysis.retransmission")
  last=$(last_frame "$scap" "$from_sv && tcp.analysis.retransmission")
  log "server end, stream $s: $n retransmissions, frames $first..$last"
  expect_finding network.pmtu_blackhole "$s" "$first" "$last"
done
publish "$scap" pmtu-blackhole-both-ends-server.pcapng
expect_write pmtu-blackhole-both-ends-server.pcapng
