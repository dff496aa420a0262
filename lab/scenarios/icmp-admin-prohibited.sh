#!/usr/bin/env bash
# firewall.icmp_admin_prohibited: the router's FORWARD chain REJECTs SYNs with an ICMP
# "administratively prohibited" error, and the client's connect fails at once (curl exit 7).
#   IPv4 :8443  REJECT --reject-with icmp-admin-prohibited   (ICMP 3/13, communication prohibited)
#   IPv4 :8444  REJECT --reject-with icmp-host-prohibited    (ICMP 3/10, host prohibited)
#   IPv6 :8443  REJECT --reject-with icmp6-adm-prohibited    (ICMPv6 1/1)
# nginx listens on all three, so only the firewall stops the calls.
# Makes captures/icmp-admin-prohibited.pcapng (dumpcap, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-admproh 20
write_nginx_conf "$LAB_TMP/nginx" "8443" "access_log off;"
sed -i "s/listen 8443;/listen 8443; listen 8444; listen [::]:8443;/" "$LAB_TMP/nginx/nginx.conf"
printf '{"status":"ok"}\n' >"$LAB_TMP/nginx/www/status.json"
chmod -R a+rX "$LAB_TMP/nginx"
start_nginx "$TOPO_S" "$LAB_TMP/nginx"
wait_listen "$TOPO_S" 8444

# The faults: SYNs going out to the server link are rejected by the router.
in_r iptables -A FORWARD -o r1 -p tcp --syn --dport 8443 -j REJECT --reject-with icmp-admin-prohibited
in_r iptables -A FORWARD -o r1 -p tcp --syn --dport 8444 -j REJECT --reject-with icmp-host-prohibited
in_r ip6tables -A FORWARD -o r1 -p tcp --syn --dport 8443 -j REJECT --reject-with icmp6-adm-prohibited

cap="$LAB_TMP/icmp-admin-prohibited.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
for url in "http://$SERVER4:8443/status.json" "http://$SERVER4:8444/status.json" \
  "http://[$SERVER6]:8443/status.json"; do
  rc=$(ccurl --connect-timeout 5 "$url")
  [ "$rc" = 7 ] || die "expected curl exit 7 (couldn't connect) for $url, got $rc"
done
capture_stop 0.5

expect_begin "Router firewall REJECTs SYNs with ICMP admin prohibited: IPv4 :8443 gets 3/13, IPv4 :8444 gets 3/10 (host prohibited), IPv6 :8443 gets ICMPv6 1/1; each connect fails at once"
# ADDR PORT ICMP-FILTER
for spec in "$SERVER4 8443 icmp.type == 3 && icmp.code == 13" \
  "$SERVER4 8444 icmp.type == 3 && icmp.code == 10" \
  "$SERVER6 8443 icmpv6.type == 1 && icmpv6.code == 1"; do
  read -r ip port icmpf <<<"$spec"
  f=$(ipf "$ip")
  syn=$(first_frame "$cap" "$f.dst == $ip && tcp.dstport == $port && tcp.flags.syn == 1")
  stream=$(field "$cap" "frame.number == $syn" tcp.stream)
  sport=$(field "$cap" "frame.number == $syn" tcp.srcport)
  # The first ICMP error quoting this connection (tcp.* matches the quoted header).
  err=$(first_frame "$cap" "$icmpf && tcp.srcport == $sport && tcp.dstport == $port")
  must_not "$cap" "tcp.stream == $stream && $f.src == $ip && !icmp && !icmpv6" "an answer from $ip:$port"
  expect_finding firewall.icmp_admin_prohibited "$stream" "$syn" "$err"
done
publish "$cap" icmp-admin-prohibited.pcapng
expect_write icmp-admin-prohibited.pcapng
