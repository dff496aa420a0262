#!/usr/bin/env bash
# firewall.injected_rst (mid-stream): a firewall on the path resets connections whose request
# matches a pattern. The router has `-m string --algo bm --string "GET /admin" -j REJECT
# --reject-with tcp-reset` in FORWARD (iptables and ip6tables): the request is dropped there and
# the router answers the client with a RST in the server's name. The RST's TTL / hop limit is the
# router's (64, one hop) where the real server's packets arrive with 62 (two forwarding passes:
# into the delay line and out of it). For each of IPv4 and IPv6: a healthy GET /status.json on its
# own connection (reference TTL), then GET /admin/users on a new connection (curl exit 56).
# Makes captures/injected-rst-midstream.pcapng (dumpcap on c0, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-injrst 20
write_nginx_conf "$LAB_TMP/nginx" "80" "access_log $LAB_TMP/nginx/logs/access.log;"
sed -i "s/listen 80;/listen 80; listen [::]:80;/" "$LAB_TMP/nginx/nginx.conf"
mkdir -p "$LAB_TMP/nginx/www/admin"
printf '{"status":"ok"}\n' >"$LAB_TMP/nginx/www/status.json"
printf '[{"id":1,"name":"root"}]\n' >"$LAB_TMP/nginx/www/admin/users"
chmod -R a+rX "$LAB_TMP/nginx"
start_nginx "$TOPO_S" "$LAB_TMP/nginx"
wait_listen "$TOPO_S" 80

for ipt in iptables ip6tables; do
  in_r "$ipt" -A FORWARD -p tcp --dport 80 -m string --algo bm --string "GET /admin" \
    -j REJECT --reject-with tcp-reset
done

cap="$LAB_TMP/injected-rst-midstream.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
for host in "$SERVER4" "[$SERVER6]"; do
  [ "$(ccurl "http://$host/status.json")" = 0 ] || die "GET http://$host/status.json failed"
  rc=$(ccurl "http://$host/admin/users")
  [ "$rc" = 56 ] || die "expected curl exit 56 (connection reset) for $host/admin/users, got $rc"
done
capture_stop 0.5
hits=$(in_r iptables -nvxL FORWARD | awk '/REJECT/ { print $1 }')
hits6=$(in_r ip6tables -nvxL FORWARD | awk '/REJECT/ { print $1 }')
if [ "$hits" != 1 ] || [ "$hits6" != 1 ]; then
  die "expected one REJECT hit per family, got $hits / $hits6"
fi
! grep -q '/admin' "$LAB_TMP/nginx/logs/access.log" || die "nginx saw an /admin request"

expect_begin "GET /status.json works on its own connection, then GET /admin/users on a new connection is reset by the router's string-match REJECT --reject-with tcp-reset (RST with TTL/hop limit 64 vs the server's 62; curl exit 56); IPv4 then IPv6"
for ip in "$SERVER4" "$SERVER6"; do
  f=$(ipf "$ip")
  case $f in ip) ttl=ip.ttl ;; *) ttl=ipv6.hlim ;; esac
  req=$(first_frame "$cap" "$f.dst == $ip && tcp.dstport == 80 && tcp.payload contains \"GET /admin\"")
  stream=$(field "$cap" "frame.number == $req" tcp.stream)
  s="tcp.stream == $stream"
  rst=$(first_frame "$cap" "$s && $f.src == $ip && tcp.flags.reset == 1")
  [ "$rst" -gt "$req" ] || die "the RST ($rst) is not after the request ($req)"
  last=$(last_frame "$cap" "$s && $f.dst == $ip && tcp.len > 0 && frame.number < $rst")
  [ "$last" = "$req" ] || die "the last client data before the RST is $last, not the request $req"
  synack=$(first_frame "$cap" "$s && $f.src == $ip && tcp.flags.syn == 1 && tcp.flags.ack == 1")
  rst_ttl=$(field "$cap" "frame.number == $rst" "$ttl")
  srv_ttl=$(field "$cap" "frame.number == $synack" "$ttl")
  if [ "$rst_ttl" != 64 ] || [ "$srv_ttl" != 62 ]; then
    die "expected RST $ttl 64 and server $ttl 62, got $rst_ttl / $srv_ttl"
  fi
  # Every other packet from the server address, on every connection, carries the server's 62.
  must_not "$cap" "$f.src == $ip && frame.number != $rst && $ttl != 62" "another packet from $ip with $ttl != 62"
  must_not "$cap" "$s && $f.src == $ip && tcp.len > 0" "a response byte on the reset connection ($ip)"
  must "$cap" "$f.src == $ip && tcp.stream != $stream && tcp.payload contains \"200 OK\"" "the healthy GET's 200 ($ip)"
  log "$ip: stream $stream, request $req, RST $rst ($ttl $rst_ttl), SYN-ACK $synack ($ttl $srv_ttl)"
  expect_finding firewall.injected_rst "$stream" "$rst" "$req" "$synack"
done
publish "$cap" injected-rst-midstream.pcapng
expect_write injected-rst-midstream.pcapng
