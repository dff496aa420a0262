#!/usr/bin/env bash
# firewall.injected_rst at connect: the router's FORWARD chain REJECTs SYNs to the server's :8443
# with --reject-with tcp-reset, so the client gets an RST/ACK that looks like a refusal but was
# made by the router: it arrives with TTL / hop limit 64, while the server's own packets (two
# forwarding hops in the router: into and out of the delay line) arrive with 62.
# For each of IPv4 and IPv6: a healthy GET to nginx :80 first (the server's reference TTL), then
# curl to :8443 (nginx listens there too), exit 7. Makes captures/injected-rst-connect.pcapng
# (dumpcap, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-injrst 20
write_nginx_conf "$LAB_TMP/nginx" "80" "access_log off;"
sed -i "s/listen 80;/listen 80; listen 8443; listen [::]:80; listen [::]:8443;/" "$LAB_TMP/nginx/nginx.conf"
printf '{"status":"ok"}\n' >"$LAB_TMP/nginx/www/status.json"
chmod -R a+rX "$LAB_TMP/nginx"
start_nginx "$TOPO_S" "$LAB_TMP/nginx"
wait_listen "$TOPO_S" 8443

in_r iptables -A FORWARD -o r1 -p tcp --syn --dport 8443 -j REJECT --reject-with tcp-reset
in_r ip6tables -A FORWARD -o r1 -p tcp --syn --dport 8443 -j REJECT --reject-with tcp-reset

cap="$LAB_TMP/injected-rst-connect.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
for host in "$SERVER4" "[$SERVER6]"; do
  [ "$(ccurl "http://$host/status.json")" = 0 ] || die "GET http://$host/status.json failed"
  sleep 0.2 # let the healthy connection close before the next call
  rc=$(ccurl --connect-timeout 5 "http://$host:8443/status.json")
  [ "$rc" = 7 ] || die "expected curl exit 7 (connection refused) for $host:8443, got $rc"
done
capture_stop 0.5

expect_begin "GET to nginx :80 works (server packets arrive with TTL / hop limit 62), then the SYN to :8443 is answered by an RST/ACK forged by the router's firewall (TTL / hop limit 64); IPv4 then IPv6"
for ip in "$SERVER4" "$SERVER6"; do
  f=$(ipf "$ip")
  if [ "$f" = ip ]; then ttl=ip.ttl; else ttl=ipv6.hlim; fi
  syn=$(first_frame "$cap" "$f.dst == $ip && tcp.dstport == 8443 && tcp.flags.syn == 1")
  stream=$(field "$cap" "frame.number == $syn" tcp.stream)
  rst=$(first_frame "$cap" "tcp.stream == $stream && $f.src == $ip && tcp.flags.reset == 1")
  must_not "$cap" "tcp.stream == $stream && tcp.flags.syn == 1 && tcp.flags.ack == 1" "a SYN-ACK on :8443"
  # Reference: the latest earlier packet the real server sent (the healthy :80 connection).
  ref=$(last_frame "$cap" "$f.src == $ip && tcp.flags.reset == 0 && frame.number < $rst && !icmp && !icmpv6")
  rst_ttl=$(field "$cap" "frame.number == $rst" "$ttl")
  ref_ttl=$(field "$cap" "frame.number == $ref" "$ttl")
  log "$ip: RST frame $rst $ttl $rst_ttl, server reference frame $ref $ttl $ref_ttl"
  if [ "$rst_ttl" != 64 ] || [ "$ref_ttl" != 62 ]; then
    die "expected RST $ttl 64 and server $ttl 62, got $rst_ttl / $ref_ttl"
  fi
  expect_finding firewall.injected_rst "$stream" "$syn" "$rst" "$ref"
done
publish "$cap" injected-rst-connect.pcapng
expect_write injected-rst-connect.pcapng
