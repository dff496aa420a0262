#!/usr/bin/env bash
# Healthy name resolution, no fault: the expected findings are []. The client namespace has its
# own resolv.conf with a search list (search corp.lab.test lab.test, ndots:1) pointing at
# dnsmasq on the server, so a short name walks the search list: api.corp.lab.test is NXDOMAIN,
# api.lab.test resolves. That NXDOMAIN is normal resolver behaviour, not a failed call.
#   - curl http://api/status.json (getaddrinfo A + AAAA over UDP, then HTTP to nginx)
#   - Python socket.getaddrinfo("api", 80) (A + AAAA) and getaddrinfo("v4only", 80) (its AAAA is
#     empty, its A resolves: normal for a dual-stack lookup)
#   - dig +tcp api.lab.test A to the server's IPv6 address (DNS over TCP)
# Makes captures/healthy-dns.pcapng (dumpcap, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/dns.sh
source "$lab_dir/dns.sh"
require_cmds dnsmasq dig nginx
trap 'dns_cleanup; lab_exit' EXIT

topo_up fl-hdns 10
start_dnsmasq "$LAB_TMP/dnsmasq.log"
client_resolv_conf "search corp.lab.test lab.test" "nameserver $SERVER4" "options ndots:1 timeout:2 attempts:2"
write_nginx_conf "$LAB_TMP/nginx" "80" "access_log off;"
sed -i "s/listen 80;/listen 80; listen [::]:80;/" "$LAB_TMP/nginx/nginx.conf"
printf '{"status":"ok"}\n' >"$LAB_TMP/nginx/www/status.json"
chmod -R a+rX "$LAB_TMP/nginx"
start_nginx "$TOPO_S" "$LAB_TMP/nginx"
wait_listen "$TOPO_S" 80

cap="$LAB_TMP/healthy-dns.pcapng"
capture_start "$cap" pcapng "port 53 or tcp port 80 or icmp or icmp6"
[ "$(ccurl http://api/status.json)" = 0 ] || die "curl http://api/status.json failed"
in_c timeout 20 python3 - <<'PY' || die "getaddrinfo failed"
import socket
for name in ("api", "v4only"):
    print(name, sorted({ai[4][0] for ai in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}))
PY
[ "$(cdig @"$SERVER6" +tcp +time=2 +tries=1 api.lab.test A)" = NOERROR ] || die "dig +tcp api.lab.test failed"
capture_stop 0.5

expect_begin "a resolv.conf search list (corp.lab.test, lab.test) walked by curl and Python getaddrinfo: api.corp.lab.test is NXDOMAIN, api.lab.test resolves and curl GETs from nginx; v4only.lab.test has no AAAA but its A resolves; dig +tcp over IPv6; nothing failed"
must "$cap" "dns.flags.rcode == 3 && dns.qry.name == \"api.corp.lab.test\"" "the NXDOMAIN of the first search-list variant"
must "$cap" "dns.flags.response == 1 && dns.qry.name == \"api.lab.test\" && dns.a" "the A answer for api.lab.test"
must "$cap" "dns.flags.response == 1 && dns.qry.name == \"v4only.lab.test\" && dns.qry.type == 28 && dns.count.answers == 0" "the empty AAAA answer for v4only.lab.test"
must "$cap" "tcp.srcport == 53 && dns.flags.response == 1" "the answer over TCP"
must "$cap" "http.response.code == 200" "the HTTP 200 after the lookup"
publish "$cap" healthy-dns.pcapng
expect_write healthy-dns.pcapng
