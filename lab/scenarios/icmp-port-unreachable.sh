#!/usr/bin/env bash
# firewall.icmp_port_unreachable: a REJECT rule answers SYNs with ICMP port unreachable (a TCP
# stack itself would answer RST/ACK, so this is always a firewall). nginx listens on both ports.
#   :8443  the router's FORWARD chain: REJECT (default icmp-port-unreachable / icmp6-port-unreachable),
#          curl, IPv4 then IPv6 (exit 7)
#   :8444  the server's own INPUT chain: the same REJECT, sent by the server's address; Python
#          http.client (timeout 5), IPv4 then IPv6 (ConnectionRefusedError)
# Makes captures/icmp-port-unreachable.pcap (tcpdump -i any, Linux cooked v2).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-portunr 20
write_nginx_conf "$LAB_TMP/nginx" "8443" "access_log off;"
sed -i "s/listen 8443;/listen 8443; listen 8444; listen [::]:8443; listen [::]:8444;/" "$LAB_TMP/nginx/nginx.conf"
printf '{"status":"ok"}\n' >"$LAB_TMP/nginx/www/status.json"
chmod -R a+rX "$LAB_TMP/nginx"
start_nginx "$TOPO_S" "$LAB_TMP/nginx"
wait_listen "$TOPO_S" 8444

in_r iptables -A FORWARD -o r1 -p tcp --syn --dport 8443 -j REJECT
in_r ip6tables -A FORWARD -o r1 -p tcp --syn --dport 8443 -j REJECT
in_s iptables -A INPUT -p tcp --syn --dport 8444 -j REJECT
in_s ip6tables -A INPUT -p tcp --syn --dport 8444 -j REJECT

# pyget HOST PORT — one GET with Python's http.client (timeout 5 s); prints the status or the
# exception's class name.
pyget() {
  in_c timeout 20 python3 - "$1" "$2" <<'PY'
import http.client, sys
conn = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=5)
try:
    conn.request("GET", "/status.json")
    print(conn.getresponse().status)
except OSError as e:
    print(type(e).__name__)
PY
}

# capture_start_sll2 FILE FILTER — like capture_start FILE sll2 FILTER, but tcpdump is started
# with ip netns exec directly, so CAP_PID is tcpdump itself and capture_stop's SIGINT reaches it
# (capture_start backgrounds the in_c function: its PID is a subshell, and a `tcpdump -i any`
# left behind by that subshell outlives the namespace). --immediate-mode: without it tcpdump keeps
# packets in the ring buffer for up to 1 s and drops them when SIGINT stops it.
capture_start_sll2() {
  local file=$1 filter=$2
  ip netns exec "$TOPO_C" tcpdump -i any -y LINUX_SLL2 --immediate-mode -U -s 0 -w "$file" "$filter" >"$file.log" 2>&1 &
  CAP_PID=$!
  LAB_PIDS+=("$CAP_PID")
  wait_for_log "$file.log" "listening on"
  sleep 0.3
}

cap="$LAB_TMP/icmp-port-unreachable.pcap"
capture_start_sll2 "$cap" "tcp or icmp or icmp6"
for host in "$SERVER4" "[$SERVER6]"; do
  rc=$(ccurl --connect-timeout 5 "http://$host:8443/status.json")
  [ "$rc" = 7 ] || die "expected curl exit 7 (couldn't connect) for $host:8443, got $rc"
done
for host in "$SERVER4" "$SERVER6"; do
  res=$(pyget "$host" 8444)
  [ "$res" = ConnectionRefusedError ] || die "expected ConnectionRefusedError for $host:8444, got $res"
done
capture_stop 0.5

expect_begin "SYNs rejected with ICMP port unreachable: :8443 by the router's firewall (curl), :8444 by the server's own INPUT chain (Python http.client); IPv4 then IPv6 each"
for spec in "$SERVER4 8443 $ROUTER4_C" "$SERVER6 8443 $ROUTER6_C" \
  "$SERVER4 8444 $SERVER4" "$SERVER6 8444 $SERVER6"; do
  read -r ip port from <<<"$spec"
  f=$(ipf "$ip")
  if [ "$f" = ip ]; then icmpf="icmp.type == 3 && icmp.code == 3"; else icmpf="icmpv6.type == 1 && icmpv6.code == 4"; fi
  syn=$(first_frame "$cap" "$f.dst == $ip && tcp.dstport == $port && tcp.flags.syn == 1")
  stream=$(field "$cap" "frame.number == $syn" tcp.stream)
  sport=$(field "$cap" "frame.number == $syn" tcp.srcport)
  err=$(first_frame "$cap" "$icmpf && $f.src == $from && tcp.srcport == $sport && tcp.dstport == $port")
  must_not "$cap" "tcp.stream == $stream && $f.src == $ip && !icmp && !icmpv6" "a TCP answer from $ip:$port"
  expect_finding firewall.icmp_port_unreachable "$stream" "$syn" "$err"
done
publish "$cap" icmp-port-unreachable.pcap
expect_write icmp-port-unreachable.pcap
