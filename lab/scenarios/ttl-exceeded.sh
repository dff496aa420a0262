#!/usr/bin/env bash
# network.ttl_exceeded: a real routing loop. The router routes LOOP4 (198.18.7.0/24) and LOOP6
# (fd0f:a17:7::/48) to the server, and the server (forwarding on, its routes point back at the
# router) sends them straight back; the SYN circles until its TTL / hop limit runs out, and
# whichever box sees it expire sends ICMP 11/0 (time exceeded in transit) / ICMPv6 3/0 (hop limit
# exceeded). Python's http.client (timeout 8) fails at once, IPv4 then IPv6.
# Makes captures/ttl-exceeded.pcap (tcpdump on c0, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

LOOP4=198.18.7.10 LOOP6=fd0f:a17:7::10
topo_up fl-ttlexc 20
in_r ip route add 198.18.7.0/24 via "$SERVER4"
in_r ip -6 route add fd0f:a17:7::/48 via "$SERVER6"
# The server forwards what it is not the destination of, back to the router (same interface);
# no ICMP redirects, so the loop stays a plain loop.
in_s sysctl -qw net.ipv4.ip_forward=1
in_s sysctl -qw net.ipv6.conf.all.forwarding=1
for k in all default s0; do
  in_s sysctl -qw "net.ipv4.conf.$k.send_redirects=0"
  in_s sysctl -qw "net.ipv4.conf.$k.rp_filter=0"
done

# pyget HOST PORT — one GET with Python's http.client (timeout 8 s); prints the status or the
# exception's class name and errno.
pyget() {
  in_c timeout 20 python3 - "$1" "$2" <<'PY'
import http.client, sys
conn = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=8)
try:
    conn.request("GET", "/v1/health")
    print(conn.getresponse().status)
except OSError as e:
    print(type(e).__name__, e.errno)
PY
}

cap="$LAB_TMP/ttl-exceeded.pcap"
capture_start "$cap" pcap "tcp or icmp or icmp6"
for host in "$LOOP4" "$LOOP6"; do
  res=$(pyget "$host" 80)
  log "http.client to $host:80: $res"
  case $res in OSError\ 113 | OSError\ 101) ;; *) die "expected OSError EHOSTUNREACH for $host, got $res" ;; esac
done
capture_stop 0.5

expect_begin "Routing loop between router and server: each SYN circles until its TTL / hop limit expires and comes back as ICMP 11/0 / ICMPv6 3/0 (time exceeded); Python http.client fails at once; IPv4 then IPv6"
for ip in "$LOOP4" "$LOOP6"; do
  f=$(ipf "$ip")
  if [ "$f" = ip ]; then icmpf="icmp.type == 11 && icmp.code == 0"; else icmpf="icmpv6.type == 3 && icmpv6.code == 0"; fi
  syn=$(first_frame "$cap" "$f.dst == $ip && tcp.dstport == 80 && tcp.flags.syn == 1 && !icmp && !icmpv6")
  stream=$(field "$cap" "frame.number == $syn" tcp.stream)
  sport=$(field "$cap" "frame.number == $syn" tcp.srcport)
  err=$(first_frame "$cap" "$icmpf && tcp.srcport == $sport && tcp.dstport == 80")
  expect_finding network.ttl_exceeded "$stream" "$syn" "$err"
done
publish "$cap" ttl-exceeded.pcap
expect_write ttl-exceeded.pcap
