#!/usr/bin/env bash
# dns.no_response: the router drops DNS to the server (iptables/ip6tables DROP on UDP and TCP
# port 53 in the router's FORWARD chain), so no query is ever answered and every retry goes
# unanswered:
#   - dig api.lab.test A over UDP to the server's IPv4 address, 2 tries 1 s apart
#   - Python socket.getaddrinfo("db.lab.test", AF_INET) through the client namespace's own
#     resolv.conf (nameserver = the server's IPv6 address, options timeout:1 attempts:2)
# Makes captures/dns-no-response.pcap (tcpdump, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/dns.sh
source "$lab_dir/dns.sh"
require_cmds dnsmasq dig
trap 'dns_cleanup; lab_exit' EXIT

topo_up fl-dnsnr 10
start_dnsmasq "$LAB_TMP/dnsmasq.log"
client_resolv_conf "nameserver $SERVER6" "options timeout:1 attempts:2"
for t in iptables ip6tables; do
  for proto in udp tcp; do in_r "$t" -A FORWARD -p "$proto" --dport 53 -j DROP; done
done

cap="$LAB_TMP/dns-no-response.pcap"
capture_start "$cap" pcap "port 53 or icmp or icmp6"
r=$(cdig @"$SERVER4" +time=1 +tries=2 api.lab.test A)
[ "$r" = timeout ] || die "api.lab.test: expected a timeout, got $r"
in_c timeout 20 python3 - <<'PY' && die "getaddrinfo unexpectedly resolved db.lab.test"
import socket
try:
    socket.getaddrinfo("db.lab.test", 80, socket.AF_INET, socket.SOCK_STREAM)
except socket.gaierror as e:
    print("getaddrinfo failed:", e)
    raise SystemExit(1)
PY
capture_stop 0.5

expect_begin "the router drops DNS to the server: dig api.lab.test A over UDP/IPv4 (2 tries) and Python getaddrinfo(db.lab.test, AF_INET) via resolv.conf to the server's IPv6 address (2 attempts) get no response"
must_not "$cap" "dns.flags.response == 1" "any DNS response"
for name in api.lab.test db.lab.test; do
  filter="dns.flags.response == 0 && dns.qry.name == \"$name\" && dns.qry.type == 1"
  [ "$(count "$cap" "$filter")" -ge 2 ] || die "$name: expected at least 2 queries (retries)"
  # shellcheck disable=SC2046
  expect_dns_finding dns.no_response "$name" 1 $(frames "$cap" "$filter")
done
must "$cap" "ipv6.dst == $SERVER6 && dns.qry.name == \"db.lab.test\"" "getaddrinfo's queries to the IPv6 server"
publish "$cap" dns-no-response.pcap
expect_write dns-no-response.pcap
