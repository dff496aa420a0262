#!/usr/bin/env bash
# A haystack: 80 healthy curl connections to nginx (2 to 5 GETs each on one keep-alive
# connection, 280 requests, every response 200; even connections IPv4, odd ones IPv6) with four
# failed connects interleaved at known points:
#   after healthy connection 12: a connect to port 8081 over IPv4, refused by the server (RST/ACK)
#   after healthy connection 30: a connect to port 8082 over IPv6 whose SYNs the router drops
#                                (ip6tables DROP; curl --connect-timeout 3, exit 28)
#   after healthy connection 48: a connect to port 8083 over IPv4 that the router rejects with
#                                ICMP 3/13 admin-prohibited (iptables REJECT; curl exit 7)
#   after healthy connection 66: a connect to port 8081 over IPv6, refused by the server
# Makes captures/haystack.pcap (tcpdump -i any, Linux cooked v2).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-hay 20

ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "80" "access_log off;"
sed -i "s/listen 80;/listen 80; listen [::]:80;/" "$ngx/nginx.conf"
paths=(status.json items.json user.json config.json health.json)
for p in "${paths[@]}"; do printf '{"name":"%s","ok":true}\n' "${p%.json}" >"$ngx/www/$p"; done
chmod -R a+rX "$ngx"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 80

# The router's faults: SYNs to 8082 vanish, SYNs to 8083 are rejected as administratively
# prohibited (both families; the scenario uses 8082 over IPv6 and 8083 over IPv4).
in_r iptables -I FORWARD -p tcp --dport 8082 -j DROP
in_r ip6tables -I FORWARD -p tcp --dport 8082 -j DROP
in_r iptables -I FORWARD -p tcp --dport 8083 -j REJECT --reject-with icmp-admin-prohibited
in_r ip6tables -I FORWARD -p tcp --dport 8083 -j REJECT --reject-with icmp6-adm-prohibited

# healthy I — connection I: (I % 4) + 2 GETs on one connection, IPv4 if I is even.
healthy() {
  local i=$1 host=$SERVER4 urls=() k
  [ $((i % 2)) -eq 0 ] || host="[$SERVER6]"
  for ((k = 0; k < i % 4 + 2; k++)); do urls+=("http://$host/${paths[$(((i + k) % 5))]}"); done
  [ "$(ccurl "${urls[@]}")" = 0 ] || die "healthy connection $i to $host failed"
}
# failing HOST PORT WANT_RC [CURL_ARGS...] — a connect that must fail with curl exit WANT_RC.
failing() {
  local host=$1 port=$2 want=$3 rc
  shift 3
  rc=$(CURL_MAX_TIME=6 ccurl "$@" "http://$host:$port/status.json")
  [ "$rc" = "$want" ] || die "connect to $host:$port: expected curl exit $want, got $rc"
}

cap="$LAB_TMP/haystack.pcap"
capture_start "$cap" sll2 "tcp or icmp or icmp6"
for ((i = 0; i < 80; i++)); do
  healthy "$i"
  case $i in
    12) failing "$SERVER4" 8081 7 ;;
    30) failing "[$SERVER6]" 8082 28 --connect-timeout 3 ;;
    48) failing "$SERVER4" 8083 7 ;;
    66) failing "[$SERVER6]" 8081 7 ;;
  esac
done
capture_stop 0.5

# The haystack must be as described: 84 streams, 280 requests answered 200, nothing else odd
# outside the four failed connects.
[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 84 ] || die "expected 84 TCP streams"
[ "$(count "$cap" "http.request")" -eq 280 ] || die "expected 280 HTTP requests"
[ "$(count "$cap" "http.response.code == 200")" -eq 280 ] || die "expected 280 responses 200"
must_not "$cap" "http.response.code != 200" "a non-200 response"
must_not "$cap" "tcp.port == 80 && (tcp.analysis.flags && !tcp.analysis.window_update)" \
  "a TCP anomaly on a healthy connection"
must_not "$cap" "tcp.port == 80 && tcp.flags.reset == 1" "a reset on a healthy connection"

expect_begin "Haystack: 80 healthy curl keep-alive connections to nginx (280 GETs, all 200, IPv4 and IPv6 alternating) with four failed connects at known points: refused on :8081 over IPv4 after connection 12, SYNs dropped by the router on :8082 over IPv6 after connection 30, ICMP admin-prohibited (3/13) from the router on :8083 over IPv4 after connection 48, refused on :8081 over IPv6 after connection 66"
# one_stream FILTER — the single tcp.stream of the client's SYNs matching FILTER.
one_stream() {
  local s
  s=$(tsh "$cap" -Y "tcp.flags.syn == 1 && tcp.flags.ack == 0 && ($1)" -T fields -e tcp.stream | sort -u)
  [ "$(printf '%s\n' "$s" | grep -c .)" -eq 1 ] || die "expected one stream for '$1', got '$s'"
  echo "$s"
}
for fam in ip ipv6; do
  s=$(one_stream "$fam && tcp.dstport == 8081")
  syn=$(first_frame "$cap" "tcp.stream == $s && tcp.flags.syn == 1 && tcp.flags.ack == 0")
  rst=$(first_frame "$cap" "tcp.stream == $s && tcp.srcport == 8081 && tcp.flags.reset == 1 && tcp.flags.ack == 1")
  expect_finding server.refused "$s" "$syn" "$rst"
done
s=$(one_stream "ipv6 && tcp.dstport == 8082")
syn_filter="tcp.stream == $s && tcp.flags.syn == 1 && tcp.flags.ack == 0 && !icmpv6"
mapfile -t syns < <(frames "$cap" "$syn_filter")
[ "${#syns[@]}" -ge 2 ] || die "expected the dropped connect to retransmit its SYN"
must_not "$cap" "tcp.stream == $s && tcp.srcport == 8082" "an answer from :8082"
must_not "$cap" "icmpv6.type < 128 && tcp.dstport == 8082" "an ICMPv6 error about :8082"
expect_finding firewall.syn_unanswered "$s" "${syns[@]}"
s=$(one_stream "ip && !icmp && tcp.dstport == 8083")
syn=$(first_frame "$cap" "tcp.stream == $s && !icmp && tcp.flags.syn == 1 && tcp.flags.ack == 0")
sport=$(field "$cap" "frame.number == $syn" tcp.srcport)
err=$(first_frame "$cap" "icmp.type == 3 && icmp.code == 13 && tcp.srcport == $sport && tcp.dstport == 8083")
esrc=$(tsh "$cap" -Y "frame.number == $err" -E occurrence=f -T fields -e ip.src)
[ "$esrc" = "$ROUTER4_C" ] || die "the ICMP error comes from $esrc, not from the router"
expect_finding firewall.icmp_admin_prohibited "$s" "$syn" "$err"
publish "$cap" haystack.pcap
expect_write haystack.pcap
