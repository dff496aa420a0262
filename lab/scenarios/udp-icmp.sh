#!/usr/bin/env bash
# ICMP errors for UDP services (not DNS), with transport udp. lab/udp_client.py (a connected
# Python UDP socket, one datagram, waits 1 s) in the client:
#   - UDP/443 (a 1200-byte QUIC-like datagram): the router REJECTs with icmp-admin-prohibited
#     (ICMP 3/13; IPv6: icmp6-adm-prohibited, 1/1)       -> firewall.icmp_admin_prohibited
#   - UDP/514 (a syslog line): the server's own INPUT chain REJECTs with icmp-port-unreachable
#     (ICMP 3/3, from the server's address)               -> firewall.icmp_port_unreachable
#   - UDP/7000 sent with TTL 1: the router answers time-exceeded (ICMP 11/0); the echo server
#     behind it never sees the datagram                   -> network.ttl_exceeded
# Makes captures/udp-icmp.pcap (tcpdump on c0, Ethernet) and the healthy twin
# captures/healthy-udp-echo.pcap: the same client against lab/servers/udp_echo.py on :7000
# (IPv4 and IPv6, TTL left alone), every datagram answered.
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-udpicmp 20
start_bg "$TOPO_S" "$LAB_TMP/echo4.log" python3 "$lab_dir/servers/udp_echo.py" "$SERVER4" 7000 90
start_bg "$TOPO_S" "$LAB_TMP/echo6.log" python3 "$lab_dir/servers/udp_echo.py" "$SERVER6" 7000 90
sleep 0.5
in_s ss -Hlun "sport = :7000" | grep -q . || die "the UDP echo server is not up"

in_r iptables -A FORWARD -o r1 -p udp --dport 443 -j REJECT --reject-with icmp-admin-prohibited
in_r ip6tables -A FORWARD -o r1 -p udp --dport 443 -j REJECT --reject-with icmp6-adm-prohibited
in_s iptables -A INPUT -p udp --dport 514 -j REJECT --reject-with icmp-port-unreachable

# ucall HOST PORT SIZE TRIES [TTL] — one call; sets UPORT (its source port) and URES.
ucall() {
  read -r UPORT URES < <(in_c timeout 10 python3 "$lab_dir/udp_client.py" "$@")
}

cap="$LAB_TMP/udp-icmp.pcap"
capture_start "$cap" pcap "udp or icmp or icmp6"
ucall "$SERVER4" 443 1200 2; p443=$UPORT
[ "$URES" != answer ] && [ "$URES" != timeout ] || die "UDP/443 over IPv4: expected an error, got $URES"
ucall "$SERVER6" 443 1200 2; p443v6=$UPORT
[ "$URES" != answer ] && [ "$URES" != timeout ] || die "UDP/443 over IPv6: expected an error, got $URES"
ucall "$SERVER4" 514 80 2; p514=$UPORT
[ "$URES" = ConnectionRefusedError ] || die "UDP/514: expected ConnectionRefusedError, got $URES"
ucall "$SERVER4" 7000 64 1 1; pttl=$UPORT
[ "$URES" != answer ] || die "UDP/7000 with TTL 1 was answered"
capture_stop 0.5

expect_begin "UDP (not DNS) behind ICMP-sending rules, Python connected UDP sockets: UDP/443 (QUIC-like) rejected by the router with ICMP admin-prohibited (IPv4 3/13, IPv6 1/1); UDP/514 (syslog) rejected by the server's INPUT chain with port unreachable; UDP/7000 sent with TTL 1 meets time-exceeded at the router"
must_not "$cap" "udp.srcport == 7000 && !icmp" "an echo answer"
# canon ADDR — an IPv6 address as tshark and faultline print it (RFC 5952).
canon() { python3 -c 'import ipaddress, sys; print(ipaddress.ip_address(sys.argv[1]))' "$1"; }
# udp_finding CODE CLIENT SPORT SERVER DPORT ICMP_FILTER ICMP_SRC — the first datagram of the flow
# and the first ICMP error quoting it.
udp_finding() {
  local code=$1 c=$2 sport=$3 sv=$4 dport=$5 icmpf=$6 from=$7 f dg err key
  f=$(ipf "$c")
  dg=$(first_frame "$cap" "$f.src == $c && $f.dst == $sv && udp.srcport == $sport && udp.dstport == $dport && !icmp && !icmpv6")
  err=$(first_frame "$cap" "$icmpf && $f.src == $from && udp.srcport == $sport && udp.dstport == $dport")
  case $f in ip) key="$c:$sport->$sv:$dport" ;; *) key="[$c]:$sport->[$sv]:$dport" ;; esac
  log "$code $key: datagram $dg, ICMP $err"
  EXPECT_FINDINGS+=("{\"code\": \"$code\", \"category\": \"${code%%.*}\", \"udp\": \"$key\", \"evidence_frames\": [$dg,$err]}")
}
udp_finding firewall.icmp_admin_prohibited "$CLIENT4" "$p443" "$SERVER4" 443 "icmp.type == 3 && icmp.code == 13" "$ROUTER4_C"
udp_finding firewall.icmp_admin_prohibited "$(canon "$CLIENT6")" "$p443v6" "$(canon "$SERVER6")" 443 "icmpv6.type == 1 && icmpv6.code == 1" "$ROUTER6_C"
udp_finding firewall.icmp_port_unreachable "$CLIENT4" "$p514" "$SERVER4" 514 "icmp.type == 3 && icmp.code == 3" "$SERVER4"
udp_finding network.ttl_exceeded "$CLIENT4" "$pttl" "$SERVER4" 7000 "icmp.type == 11 && icmp.code == 0" "$ROUTER4_C"
publish "$cap" udp-icmp.pcap
expect_write udp-icmp.pcap

# The healthy twin: UDP echo answered, IPv4 and IPv6, three calls each.
hcap="$LAB_TMP/healthy-udp-echo.pcap"
capture_start "$hcap" pcap "udp or icmp or icmp6"
for host in "$SERVER4" "$SERVER6"; do
  for i in 1 2 3; do
    ucall "$host" 7000 $((100 * i)) 2
    [ "$URES" = answer ] || die "UDP echo $host: expected an answer, got $URES"
  done
done
capture_stop 0.5
expect_begin "UDP echo (lab/servers/udp_echo.py :7000) answering every datagram of a connected Python UDP socket, three calls each over IPv4 and IPv6"
must_not "$hcap" "icmp || icmpv6.type < 128" "an ICMP error"
[ "$(count "$hcap" "udp.srcport == 7000")" -eq 6 ] || die "expected 6 echo answers"
publish "$hcap" healthy-udp-echo.pcap
expect_write healthy-udp-echo.pcap
