#!/usr/bin/env bash
# dns.nxdomain, dns.servfail, dns.refused, dns.no_answer: dnsmasq in the server namespace answers
# dig in the client namespace. Over UDP to the server's IPv4 address:
#   - missing.lab.test A        NXDOMAIN (lab.test is dnsmasq's local domain; no such host)
#   - www.broken.test A         SERVFAIL (forwarded to an upstream that fails)
#   - www.example.net A         REFUSED  (dnsmasq has no upstream for it: it does not recurse)
#   - v4only.lab.test AAAA      NOERROR, no AAAA record (the name has only an A record)
#   - api.lab.test A            NOERROR with an address (healthy: no finding)
# Then over TCP (dig +tcp) to the server's IPv6 address:
#   - gone.lab.test AAAA        NXDOMAIN
#   - api.lab.test AAAA         NOERROR with an address (healthy)
# and over TCP to its IPv4 address:
#   - www.example.org A         REFUSED
# Makes captures/dns-rcodes.pcapng (dumpcap, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/dns.sh
source "$lab_dir/dns.sh"
require_cmds dnsmasq dig
trap 'dns_cleanup; lab_exit' EXIT

topo_up fl-dnsrc 10
# The upstream dnsmasq forwards broken.test to is broken: it answers SERVFAIL to everything
# (lab/servers/dns_servfail.py on port 5399 of the server), and dnsmasq passes that on.
start_bg "$TOPO_S" "$LAB_TMP/servfail.log" python3 "$lab_dir/servers/dns_servfail.py" "$SERVER4" 5399 120
start_dnsmasq "$LAB_TMP/dnsmasq.log" "--server=/broken.test/$SERVER4#5399"

cap="$LAB_TMP/dns-rcodes.pcapng"
capture_start "$cap" pcapng "port 53 or icmp or icmp6"
d4=(@"$SERVER4" +time=2 +tries=1)
[ "$(cdig "${d4[@]}" missing.lab.test A)" = NXDOMAIN ] || die "missing.lab.test: expected NXDOMAIN"
r=$(cdig "${d4[@]}" www.broken.test A); [ "$r" = SERVFAIL ] || die "www.broken.test: expected SERVFAIL, got $r"
[ "$(cdig "${d4[@]}" www.example.net A)" = REFUSED ] || die "www.example.net: expected REFUSED"
[ "$(cdig "${d4[@]}" v4only.lab.test AAAA)" = NOERROR ] || die "v4only.lab.test AAAA: expected NOERROR"
[ "$(cdig "${d4[@]}" api.lab.test A)" = NOERROR ] || die "api.lab.test A: expected NOERROR"
d6=(@"$SERVER6" +tcp +time=2 +tries=1)
[ "$(cdig "${d6[@]}" gone.lab.test AAAA)" = NXDOMAIN ] || die "gone.lab.test over TCP: expected NXDOMAIN"
[ "$(cdig "${d6[@]}" api.lab.test AAAA)" = NOERROR ] || die "api.lab.test AAAA over TCP: expected NOERROR"
[ "$(cdig @"$SERVER4" +tcp +time=2 +tries=1 www.example.org A)" = REFUSED ] || die "www.example.org over TCP: expected REFUSED"
capture_stop 0.5

expect_begin "dig to dnsmasq: NXDOMAIN, SERVFAIL (an upstream that fails), REFUSED (no recursion), NOERROR without AAAA, over UDP/IPv4; NXDOMAIN over TCP/IPv6; REFUSED over TCP/IPv4; healthy A and AAAA lookups give nothing"
# dns_pair NAME TYPE RCODE NANSWERS — the query and response frames of a lookup, checked.
dns_pair() {
  local name=$1 qtype=$2 rcode=$3 nans=$4 q r
  q=$(first_frame "$cap" "dns.flags.response == 0 && dns.qry.name == \"$name\" && dns.qry.type == $qtype")
  r=$(first_frame "$cap" "dns.flags.response == 1 && dns.qry.name == \"$name\" && dns.qry.type == $qtype && dns.flags.rcode == $rcode && dns.count.answers == $nans")
  echo "$q $r"
}
# shellcheck disable=SC2046
expect_dns_finding dns.nxdomain missing.lab.test 1 $(dns_pair missing.lab.test 1 3 0)
# shellcheck disable=SC2046
expect_dns_finding dns.servfail www.broken.test 1 $(dns_pair www.broken.test 1 2 0)
# shellcheck disable=SC2046
expect_dns_finding dns.refused www.example.net 1 $(dns_pair www.example.net 1 5 0)
# shellcheck disable=SC2046
expect_dns_finding dns.no_answer v4only.lab.test 28 $(dns_pair v4only.lab.test 28 0 0)
must "$cap" "tcp.dstport == 53 && dns.qry.name == \"gone.lab.test\"" "the NXDOMAIN lookup over TCP"
# shellcheck disable=SC2046
expect_dns_finding dns.nxdomain gone.lab.test 28 $(dns_pair gone.lab.test 28 3 0)
must "$cap" "tcp.dstport == 53 && ip.dst == $SERVER4 && dns.qry.name == \"www.example.org\"" "the REFUSED lookup over TCP/IPv4"
# shellcheck disable=SC2046
expect_dns_finding dns.refused www.example.org 1 $(dns_pair www.example.org 1 5 0)
must "$cap" "dns.flags.response == 1 && dns.qry.name == \"api.lab.test\" && dns.a" "the healthy A answer"
must "$cap" "tcp.srcport == 53 && dns.qry.name == \"api.lab.test\" && dns.aaaa" "the healthy AAAA answer over TCP"
publish "$cap" dns-rcodes.pcapng
expect_write dns-rcodes.pcapng
