#!/usr/bin/env bash
# dns.operation_refused: DNS operations other than QUERY sent to dnsmasq, which implements none
# of them. In the client namespace:
#   - nsupdate over UDP (IPv4): UPDATE of zone lab.test (add new.lab.test A)
#   - nsupdate -v over TCP (IPv6): the same UPDATE
#   - dig +opcode=notify over UDP (IPv4): NOTIFY for lab.test SOA
# dnsmasq (2.90) answers each with REFUSED (checked below: NOTIMP or REFUSED is accepted). The finding
# is keyed like any DNS finding by the zone / question name and type (SOA, 6).
# Makes captures/dns-update-refused.pcapng (dumpcap on c0) and the healthy twin
# captures/healthy-dns-queries.pcapng: normal queries to the same dnsmasq (dig A and AAAA over
# UDP and TCP, IPv4 and IPv6).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/dns.sh
source "$lab_dir/dns.sh"
require_cmds dnsmasq dig nsupdate
trap 'dns_cleanup; lab_exit' EXIT

topo_up fl-dnsupd 10
start_dnsmasq "$LAB_TMP/dnsmasq.log"

# nsup ARGS... — nsupdate in the client namespace (bounded), the update read from stdin.
nsup() {
  in_c timeout 15 nsupdate -t 3 -u 2 -r 0 "$@" 2>&1 || true
}
upd() {
  printf 'server %s\nzone lab.test\nupdate add new.lab.test 300 A 198.18.1.50\nsend\n' "$1"
}

cap="$LAB_TMP/dns-update-refused.pcapng"
capture_start "$cap" pcapng "port 53 or icmp or icmp6"
out4=$(upd "$SERVER4" | nsup)
log "nsupdate over UDP: $(tr '\n' ' ' <<<"$out4")"
out6=$(upd "$SERVER6" | nsup -v)
log "nsupdate over TCP: $(tr '\n' ' ' <<<"$out6")"
nres=$(cdig @"$SERVER4" +time=2 +tries=1 +opcode=notify lab.test SOA)
log "dig +opcode=notify: $nres"
capture_stop 0.5

expect_begin "DNS UPDATE (nsupdate, zone lab.test: over UDP/IPv4 and TCP/IPv6) and NOTIFY (dig +opcode=notify, UDP/IPv4) to dnsmasq, which implements neither: each answered with a non-success rcode"
# opfinding OPCODE TRANSPORT_FILTER — the request and the answer of that opcode; the answer's
# rcode must be NOTIMP (4) or REFUSED (5).
opfinding() {
  local op=$1 tf=$2 q r rc
  q=$(first_frame "$cap" "$tf && dns.flags.opcode == $op && dns.flags.response == 0")
  r=$(first_frame "$cap" "$tf && dns.flags.opcode == $op && dns.flags.response == 1")
  rc=$(field "$cap" "frame.number == $r" dns.flags.rcode)
  case $rc in 4 | 5) ;; *) die "opcode $op: answered with rcode $rc, not NOTIMP/REFUSED" ;; esac
  name=$(field "$cap" "frame.number == $q" dns.qry.name)
  qtype=$(field "$cap" "frame.number == $q" dns.qry.type)
  log "opcode $op over $tf: query $q, answer $r (rcode $rc), $name $qtype"
  expect_dns_finding dns.operation_refused "$name" "$qtype" "$q" "$r"
}
[ "$(count "$cap" "dns.flags.opcode == 5 && dns.flags.response == 0")" -eq 2 ] || die "expected exactly 2 UPDATE requests"
opfinding 5 "udp && ip.addr == $SERVER4"
opfinding 5 "tcp && ipv6.addr == $SERVER6"
opfinding 4 "udp"
must_not "$cap" "dns.flags.opcode == 0" "a plain query"
publish "$cap" dns-update-refused.pcapng
expect_write dns-update-refused.pcapng

# The healthy twin: plain queries to the same server.
hcap="$LAB_TMP/healthy-dns-queries.pcapng"
capture_start "$hcap" pcapng "port 53 or icmp or icmp6"
for srv in "$SERVER4" "$SERVER6"; do
  for t in "" +tcp; do
    for q in "api.lab.test A" "api.lab.test AAAA" "v4only.lab.test A"; do
      # shellcheck disable=SC2086
      r=$(cdig @"$srv" $t +time=2 +tries=1 $q)
      [ "$r" = NOERROR ] || die "dig @$srv $t $q: $r"
    done
  done
done
capture_stop 0.5
expect_begin "plain DNS queries (dig A and AAAA of api.lab.test, A of v4only.lab.test) to the same dnsmasq over UDP and TCP, IPv4 and IPv6: every answer NOERROR with an address"
[ "$(count "$hcap" "dns.flags.response == 1 && dns.flags.rcode == 0 && dns.count.answers > 0")" -eq 12 ] || die "expected 12 answers with addresses"
publish "$hcap" healthy-dns-queries.pcapng
expect_write healthy-dns-queries.pcapng
