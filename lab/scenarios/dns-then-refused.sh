#!/usr/bin/env bash
# A lookup that works, then a call that fails: curl resolves api.lab.test through the client
# namespace's resolv.conf (dnsmasq on the server), then connects to port 8081, where nothing
# listens: server.refused, and the finding names the host the client looked up
# (names.dns = api.lab.test, from the DNS answer for the server's address). IPv4 (curl -4),
# then IPv6 (curl -6).
# Makes captures/dns-then-refused.pcapng (dumpcap, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/dns.sh
source "$lab_dir/dns.sh"
require_cmds dnsmasq
trap 'dns_cleanup; lab_exit' EXIT

topo_up fl-dnsrf 10
start_dnsmasq "$LAB_TMP/dnsmasq.log"
client_resolv_conf "nameserver $SERVER4" "options timeout:2 attempts:2"

cap="$LAB_TMP/dns-then-refused.pcapng"
capture_start "$cap" pcapng "port 53 or tcp port 8081 or icmp or icmp6"
for fam in -4 -6; do
  rc=$(ccurl "$fam" http://api.lab.test:8081/status.json)
  [ "$rc" = 7 ] || die "expected curl $fam exit 7 (connection refused), got $rc"
done
capture_stop 0.5

expect_begin "curl resolves api.lab.test (dnsmasq answers A and AAAA), then its connect to port 8081 is refused by the server; IPv4 then IPv6; the findings carry names.dns"
for ip in "$SERVER4" "$SERVER6"; do
  f=$(ipf "$ip")
  rr=$(case $f in ip) echo dns.a ;; *) echo dns.aaaa ;; esac)
  must "$cap" "dns.flags.response == 1 && dns.qry.name == \"api.lab.test\" && $rr == $ip" "the DNS answer with $ip"
  syn=$(first_frame "$cap" "$f.dst == $ip && tcp.dstport == 8081 && tcp.flags.syn == 1")
  rst=$(first_frame "$cap" "$f.src == $ip && tcp.srcport == 8081 && tcp.flags.reset == 1")
  stream=$(field "$cap" "frame.number == $syn" tcp.stream)
  expect_finding_named server.refused "$stream" api.lab.test "$syn" "$rst"
done
publish "$cap" dns-then-refused.pcapng
expect_write dns-then-refused.pcapng
