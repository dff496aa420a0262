#!/usr/bin/env bash
# network.pmtu_step (info): the router's delay line has MTU 1280 and the router's ICMP is allowed.
# A 200 KB POST from curl: the client's first full-size segments (1500-byte packets) meet the
# small hop, the router answers with ICMP fragmentation-needed (mtu 1280) / ICMPv6 packet-too-big,
# the client re-segments to the new path MTU, and the upload completes with 200. Path MTU discovery
# working: worth knowing, nothing failed.
#   stream 0: IPv4     stream 1: IPv6
# Makes captures/pmtu-step.pcapng (dumpcap on c0, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-pstep 20 1280

# nginx reads the whole body (proxy_pass to a loopback-only block) before it answers.
ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "80" "access_log off; client_max_body_size 16m;
  server { listen 127.0.0.1:8099; location / { return 200 '{\"ok\":true}\n'; } }"
cat >"$LAB_TMP/locations.conf" <<'CONF'
    listen [::]:80;
    location /api/ { proxy_pass http://127.0.0.1:8099; }
CONF
sed -i "/listen 80;/r $LAB_TMP/locations.conf" "$ngx/nginx.conf"
chmod -R a+rX "$ngx"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 80
head -c 204800 /dev/urandom >"$LAB_TMP/upload.bin"

cap="$LAB_TMP/pmtu-step.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
for host in "$SERVER4" "[$SERVER6]"; do
  rc=$(CURL_MAX_TIME=15 ccurl -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    --data-binary "@$LAB_TMP/upload.bin" "http://$host/api/upload")
  [ "$rc" = 0 ] || die "expected the upload to $host to succeed, curl exit $rc"
done
capture_stop 0.5

expect_begin "path MTU discovery working: the router's next hop has MTU 1280 and the router sends ICMP fragmentation-needed / ICMPv6 packet-too-big for the client's full-size segments; curl re-segments and its 200 KB POST to nginx completes with 200; IPv4 then IPv6"
[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 2 ] || die "expected 2 TCP streams"
must_not "$cap" "tcp.flags.reset == 1" "a reset"
for s in 0 1; do
  case $s in 0) c=$CLIENT4 r=$ROUTER4_C icmpf="icmp.type == 3 && icmp.code == 4" ;;
    1) c=$CLIENT6 r=$ROUTER6_C icmpf="icmpv6.type == 2" ;; esac
  f=$(ipf "$c")
  mapfile -t errs < <(frames "$cap" "tcp.stream == $s && $icmpf && $f.src == $r")
  [ "${#errs[@]}" -gt 0 ] || die "stream $s: no ICMP quoting it"
  mtu=$(field "$cap" "frame.number == ${errs[0]}" "$([ "$f" = ip ] && echo icmp.mtu || echo icmpv6.mtu)")
  [ "$mtu" = 1280 ] || die "stream $s: the ICMP names mtu $mtu, not 1280"
  must "$cap" "tcp.stream == $s && http.response.code == 200" "the 200 on stream $s"
  # After the ICMP every data segment fits the hop.
  must_not "$cap" "tcp.stream == $s && $f.src == $c && frame.number > ${errs[-1]} && frame.len > 1294" \
    "a full-size segment after the ICMP on stream $s"
  log "stream $s: ICMP frames ${errs[*]} (key frames: the first and the last)"
  expect_finding network.pmtu_step "$s" "${errs[0]}" "${errs[-1]}"
done
publish "$cap" pmtu-step.pcapng
expect_write pmtu-step.pcapng
