#!/usr/bin/env bash
# network.icmp_net_unreachable: the client routes all of the lab's ranges to the router, but the
# router has no route to NOROUTE4 / NOROUTE6. It answers the SYN (after the 20 ms delay line)
# with ICMP 3/0 (net unreachable) / ICMPv6 1/0 (no route to destination); curl exits 7
# ("Network is unreachable" / "No route to host") at once. IPv4 then IPv6.
# Makes captures/net-unreachable.pcap (tcpdump -i any, Linux cooked v2).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-netunr 20
in_r ip route get "$NOROUTE4" >/dev/null 2>&1 && die "the router has a route to $NOROUTE4"
in_r ip -6 route get "$NOROUTE6" >/dev/null 2>&1 && die "the router has a route to $NOROUTE6"

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

cap="$LAB_TMP/net-unreachable.pcap"
capture_start_sll2 "$cap" "tcp or icmp or icmp6"
for host in "$NOROUTE4" "[$NOROUTE6]"; do
  rc=$(ccurl --connect-timeout 5 "http://$host:8080/v1/orders")
  [ "$rc" = 7 ] || die "expected curl exit 7 (couldn't connect) for $host:8080, got $rc"
done
capture_stop 0.5

expect_begin "The router has no route to the API host: each SYN is answered by the router with ICMP 3/0 (IPv4) / ICMPv6 1/0 (IPv6) and the connect fails at once; IPv4 then IPv6"
for spec in "$NOROUTE4 $ROUTER4_C" "$NOROUTE6 $ROUTER6_C"; do
  read -r ip from <<<"$spec"
  f=$(ipf "$ip")
  if [ "$f" = ip ]; then icmpf="icmp.type == 3 && icmp.code == 0"; else icmpf="icmpv6.type == 1 && icmpv6.code == 0"; fi
  syn=$(first_frame "$cap" "$f.dst == $ip && tcp.dstport == 8080 && tcp.flags.syn == 1 && !icmp && !icmpv6")
  stream=$(field "$cap" "frame.number == $syn" tcp.stream)
  sport=$(field "$cap" "frame.number == $syn" tcp.srcport)
  err=$(first_frame "$cap" "$icmpf && $f.src == $from && tcp.srcport == $sport && tcp.dstport == 8080")
  expect_finding network.icmp_net_unreachable "$stream" "$syn" "$err"
done
publish "$cap" net-unreachable.pcap
expect_write net-unreachable.pcap
