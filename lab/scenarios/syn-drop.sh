#!/usr/bin/env bash
# firewall.syn_unanswered: the router's FORWARD chain silently DROPs SYNs to the server's :8443.
# For each of IPv4 and IPv6: one healthy GET to nginx on :80, then curl --connect-timeout 4 to
# :8443; the client's SYN is retransmitted (at ~1 s and ~3 s) and never answered, curl gives up
# with exit 28. Makes captures/syn-drop.pcap (tcpdump, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-syndrop 20
write_nginx_conf "$LAB_TMP/nginx" "80" "access_log off;"
sed -i "s/listen 80;/listen 80; listen 8443; listen [::]:80; listen [::]:8443;/" "$LAB_TMP/nginx/nginx.conf"
printf '{"status":"ok"}\n' >"$LAB_TMP/nginx/www/status.json"
chmod -R a+rX "$LAB_TMP/nginx"
start_nginx "$TOPO_S" "$LAB_TMP/nginx"
wait_listen "$TOPO_S" 8443

# The fault: SYNs to :8443 are dropped on their way out to the server (after the delay line).
in_r iptables -A FORWARD -o r1 -p tcp --syn --dport 8443 -j DROP
in_r ip6tables -A FORWARD -o r1 -p tcp --syn --dport 8443 -j DROP

cap="$LAB_TMP/syn-drop.pcap"
capture_start "$cap" pcap "tcp or icmp or icmp6"
for host in "$SERVER4" "[$SERVER6]"; do
  [ "$(ccurl "http://$host/status.json")" = 0 ] || die "GET http://$host/status.json failed"
  rc=$(ccurl --connect-timeout 4 "https://$host:8443/status.json")
  [ "$rc" = 28 ] || die "expected curl exit 28 (connect timeout) for $host:8443, got $rc"
done
capture_stop 0.5

expect_begin "GET to nginx :80 works, then every SYN to :8443 is silently dropped by the router's firewall (original + 2 retransmissions, curl --connect-timeout 4 gives up); IPv4 then IPv6"
for ip in "$SERVER4" "$SERVER6"; do
  f=$(ipf "$ip")
  syn=$(first_frame "$cap" "$f.dst == $ip && tcp.dstport == 8443 && tcp.flags.syn == 1")
  stream=$(field "$cap" "frame.number == $syn" tcp.stream)
  must_not "$cap" "tcp.stream == $stream && $f.src == $ip && !icmp && !icmpv6" "an answer from $ip:8443"
  must_not "$cap" "icmp || icmpv6.type < 128" "an ICMP error"
  mapfile -t syns < <(frames "$cap" "tcp.stream == $stream && tcp.flags.syn == 1 && tcp.flags.ack == 0")
  [ "${#syns[@]}" -ge 3 ] || die "expected >= 3 SYNs on stream $stream, got ${#syns[@]}"
  expect_finding firewall.syn_unanswered "$stream" "${syns[@]}"
done
publish "$cap" syn-drop.pcap
expect_write syn-drop.pcap
