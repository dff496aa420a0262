#!/usr/bin/env bash
# server.refused: the server's own stack answers a SYN to a port nobody listens on with RST/ACK.
# For each of IPv4 and IPv6: one healthy GET to nginx on :80 (so the server's own TTL / hop limit
# is in the capture), then a connect to :8081, which has no listener.
# Makes captures/refused.pcapng (dumpcap, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-refused 20
write_nginx_conf "$LAB_TMP/nginx" "80" "access_log off;"
sed -i "s/listen 80;/listen 80; listen [::]:80;/" "$LAB_TMP/nginx/nginx.conf"
printf '{"status":"ok"}\n' >"$LAB_TMP/nginx/www/status.json"
chmod -R a+rX "$LAB_TMP/nginx"
start_nginx "$TOPO_S" "$LAB_TMP/nginx"
wait_listen "$TOPO_S" 80

cap="$LAB_TMP/refused.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
for host in "$SERVER4" "[$SERVER6]"; do
  [ "$(ccurl "http://$host/status.json")" = 0 ] || die "GET http://$host/status.json failed"
  rc=$(ccurl "http://$host:8081/status.json")
  [ "$rc" = 7 ] || die "expected curl exit 7 (connection refused) for $host:8081, got $rc"
done
capture_stop 0.5

expect_begin "GET to nginx :80 works, then a connect to :8081 (no listener) is refused by the server's stack; IPv4 then IPv6"
for ip in "$SERVER4" "$SERVER6"; do
  f=$(ipf "$ip")
  syn=$(first_frame "$cap" "$f.dst == $ip && tcp.dstport == 8081 && tcp.flags.syn == 1")
  rst=$(first_frame "$cap" "$f.src == $ip && tcp.srcport == 8081 && tcp.flags.reset == 1 && tcp.flags.ack == 1")
  stream=$(field "$cap" "frame.number == $syn" tcp.stream)
  expect_finding server.refused "$stream" "$syn" "$rst"
done
publish "$cap" refused.pcapng
expect_write refused.pcapng
