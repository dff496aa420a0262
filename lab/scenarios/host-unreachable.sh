#!/usr/bin/env bash
# Host unreachable, two ways, IPv4 and IPv6 each (curl, exit 7 "No route to host"):
#   network.icmp_host_unreachable: a connect to NOHOST4 / NOHOST6, on the server's link but with
#     no such host. The router's ARP / neighbour discovery fails after ~3 s and it answers the
#     queued SYN(s) with ICMP 3/1 (host unreachable) / ICMPv6 1/3 (address unreachable).
#   firewall.icmp_host_unreachable: the server's own INPUT chain REJECTs :8444 with
#     icmp-host-unreachable / icmp6-addr-unreachable, so the error comes from the destination
#     address itself (nginx listens on :8444; only the host firewall stops the call).
# Makes captures/host-unreachable.pcapng (dumpcap, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-hostunr 20
write_nginx_conf "$LAB_TMP/nginx" "8444" "access_log off;"
sed -i "s/listen 8444;/listen 8444; listen [::]:8444;/" "$LAB_TMP/nginx/nginx.conf"
printf '{"status":"ok"}\n' >"$LAB_TMP/nginx/www/status.json"
chmod -R a+rX "$LAB_TMP/nginx"
start_nginx "$TOPO_S" "$LAB_TMP/nginx"
wait_listen "$TOPO_S" 8444

in_s iptables -A INPUT -p tcp --syn --dport 8444 -j REJECT --reject-with icmp-host-unreachable
in_s ip6tables -A INPUT -p tcp --syn --dport 8444 -j REJECT --reject-with icmp6-addr-unreachable

cap="$LAB_TMP/host-unreachable.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
for url in "http://$NOHOST4/status.json" "http://[$NOHOST6]/status.json" \
  "http://$SERVER4:8444/status.json" "http://[$SERVER6]:8444/status.json"; do
  rc=$(ccurl --connect-timeout 10 "$url")
  [ "$rc" = 7 ] || die "expected curl exit 7 (no route to host) for $url, got $rc"
done
capture_stop 0.5

expect_begin "Host unreachable: connects to a missing host on the server link get ICMP 3/1 / ICMPv6 1/3 from the router after neighbour resolution fails (~3 s); connects to :8444 get the same errors from the server itself (its INPUT chain REJECTs); IPv4 then IPv6 each"
# DST PORT ICMP-SOURCE CODE
for spec in "$NOHOST4 80 $ROUTER4_C network.icmp_host_unreachable" \
  "$NOHOST6 80 $ROUTER6_C network.icmp_host_unreachable" \
  "$SERVER4 8444 $SERVER4 firewall.icmp_host_unreachable" \
  "$SERVER6 8444 $SERVER6 firewall.icmp_host_unreachable"; do
  read -r ip port from code <<<"$spec"
  f=$(ipf "$ip")
  if [ "$f" = ip ]; then icmpf="icmp.type == 3 && icmp.code == 1"; else icmpf="icmpv6.type == 1 && icmpv6.code == 3"; fi
  syn=$(first_frame "$cap" "$f.dst == $ip && tcp.dstport == $port && tcp.flags.syn == 1 && !icmp && !icmpv6")
  stream=$(field "$cap" "frame.number == $syn" tcp.stream)
  sport=$(field "$cap" "frame.number == $syn" tcp.srcport)
  err=$(first_frame "$cap" "$icmpf && $f.src == $from && tcp.srcport == $sport && tcp.dstport == $port")
  must_not "$cap" "tcp.stream == $stream && $f.src == $ip && !icmp && !icmpv6" "a TCP answer from $ip:$port"
  expect_finding "$code" "$stream" "$syn" "$err"
done
publish "$cap" host-unreachable.pcapng
expect_write host-unreachable.pcapng
