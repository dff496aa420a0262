#!/usr/bin/env bash
# Healthy TLS sessions that end in the different ways real clients end them; every one is a
# complete call (the client got its 200), so the expected findings are []. nginx (TLS 1.2 and
# 1.3, a self-signed EC certificate; :443, and :8443 with keepalive_timeout 1s), one connection
# each, in this order:
#   0  openssl s_client TLS 1.3, keep-alive GET, stdin closed after 0.5 s: close_notify then FIN
#   1  openssl s_client TLS 1.2, the same
#   2  gnutls-cli TLS 1.3, the same
#   3  gnutls-cli TLS 1.2 to :8443, stdin closed 1.02 s after the request, just as nginx's 1 s
#      keep-alive timeout fires: the server's close_notify/FIN and the client's cross in flight
#   4  openssl s_client TLS 1.2, "Connection: close": the server closes first (close_notify, FIN);
#      s_client's close_notify then meets the server's closed socket: the server's kernel RSTs
#      (so does the server on stream 3, for the client's close_notify that crossed its own)
#   5  openssl s_client TLS 1.3 killed (SIGKILL) after it read the response: the kernel's FIN
#   6  Python ssl, killed 0.5 s after its GET without reading: the response sits unread, the
#      kernel answers with RST after the server's data
# Makes captures/healthy-tls-closes.pcap (tcpdump on c0, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
require_cmds openssl gnutls-cli

topo_up fl-tlsclose 20
ngx=$LAB_TMP/nginx
mkdir -p "$ngx"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=api.lab.test" -addext "subjectAltName=DNS:api.lab.test" \
  -keyout "$ngx/key.pem" -out "$ngx/cert.pem" 2>"$LAB_TMP/openssl.log" || die "openssl failed"
write_nginx_conf "$ngx" "443 ssl" "access_log off;
  ssl_certificate $ngx/cert.pem; ssl_certificate_key $ngx/key.pem;
  ssl_protocols TLSv1.2 TLSv1.3;
  server { listen 8443 ssl; keepalive_timeout 1s; root $ngx/www; }"
printf '{"status":"ok"}\n' >"$ngx/www/status.json"
chmod -R a+rX "$ngx"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 8443

req() { printf 'GET /status.json HTTP/1.1\r\nHost: api.lab.test\r\nConnection: %s\r\n\r\n' "$1"; }
# sclient HOLD_SECONDS CONNECTION S_CLIENT_ARGS... — stdin closed after HOLD_SECONDS.
sclient() {
  local hold=$1 conn=$2
  shift 2
  { req "$conn"; sleep "$hold"; } | in_c timeout 10 openssl s_client -connect "$SERVER4:443" \
    -servername api.lab.test -brief "$@" 2>>"$LAB_TMP/sclient.err"
}
# gcli HOLD_SECONDS PORT ARGS... — the request goes in 0.4 s after the start (the handshake is
# done by then), stdin is closed HOLD_SECONDS after the request.
gcli() {
  local hold=$1 port=$2
  shift 2
  { sleep 0.4; req keep-alive; sleep "$hold"; } | in_c timeout 10 gnutls-cli --insecure --port "$port" \
    --sni-hostname api.lab.test "$@" "$SERVER4" 2>>"$LAB_TMP/gnutls.err"
}
ok200() { grep -q "HTTP/1.1 200" || die "$1: no 200"; }

cap="$LAB_TMP/healthy-tls-closes.pcap"
capture_start "$cap" pcap "tcp or icmp"
sclient 0.5 keep-alive -tls1_3 | ok200 "s_client TLS 1.3"
sclient 0.5 keep-alive -tls1_2 | ok200 "s_client TLS 1.2"
gcli 0.5 443 --priority "NORMAL:-VERS-ALL:+VERS-TLS1.3" | ok200 "gnutls-cli TLS 1.3"
gcli 1.02 8443 --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2" | ok200 "gnutls-cli TLS 1.2 race"
sclient 3 close -tls1_2 | ok200 "s_client Connection: close"
# 5: s_client killed after reading the response.
{ req keep-alive; sleep 5; } | ip netns exec "$TOPO_C" openssl s_client -connect "$SERVER4:443" \
  -servername api.lab.test -brief -tls1_3 >"$LAB_TMP/killed.out" 2>>"$LAB_TMP/sclient.err" &
kpid=$!
LAB_PIDS+=("$kpid")
sleep 1
grep -q "HTTP/1.1 200" "$LAB_TMP/killed.out" || die "killed s_client: no 200 before the kill"
kill -KILL "$kpid"
wait "$kpid" 2>/dev/null || true
sleep 0.3
# 6: Python killed with the response unread.
in_c timeout 10 python3 "$lab_dir/tls_killed_client.py" "$SERVER4" 443 api.lab.test 2>/dev/null || true
capture_stop 1

expect_begin "healthy TLS sessions to nginx closing in different ways: s_client TLS 1.3 and 1.2 and gnutls-cli TLS 1.3 close_notify then FIN; gnutls-cli TLS 1.2 closing as nginx's 1 s keep-alive timeout fires (both close_notify/FIN race); s_client Connection: close (server closes first); s_client killed after reading (kernel FIN); Python killed with the response unread (kernel RST after the server's data)"
[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 7 ] || die "expected 7 TCP streams"
c="ip.src == $CLIENT4" s="ip.src == $SERVER4"
for st in 0 1 2 3 4 5 6; do
  must "$cap" "tcp.stream == $st && $s && (tls.record.content_type == 23 || tls.record.opaque_type == 23)" "server application data on stream $st"
done
# TLS 1.2 alerts are visible as alert records: stream 1 client close_notify before its FIN.
a=$(first_frame "$cap" "tcp.stream == 1 && $c && tls.record.content_type == 21")
f=$(first_frame "$cap" "tcp.stream == 1 && $c && tcp.flags.fin == 1")
[ "$a" -le "$f" ] || die "stream 1: the client's FIN came before its close_notify"
# Stream 3: both sides sent close_notify and FIN; log how they crossed.
for who in c s; do
  must "$cap" "tcp.stream == 3 && ${!who} && tls.record.content_type == 21" "a close_notify from $who on stream 3"
  must "$cap" "tcp.stream == 3 && ${!who} && tcp.flags.fin == 1" "a FIN from $who on stream 3"
done
# They crossed: the client sent its close_notify before the server's arrived, and the server sent
# its own before the client's reached it (both within one round trip, 40 ms, of each other).
tc=$(field "$cap" "tcp.stream == 3 && $c && tls.record.content_type == 21" frame.time_epoch)
ts=$(field "$cap" "tcp.stream == 3 && $s && tls.record.content_type == 21" frame.time_epoch)
gap_ms=$(python3 -c "print(round((float('$ts') - float('$tc')) * 1000, 1))")
log "stream 3: the server's close_notify arrived $gap_ms ms after the client sent its own"
python3 -c "import sys; sys.exit(0 if 0 < $gap_ms < 40 else 1)" || die "stream 3: the close_notifys did not cross ($gap_ms ms)"
# Stream 4: the server closes first.
sa=$(first_frame "$cap" "tcp.stream == 4 && $s && tls.record.content_type == 21")
cf=$(first_frame "$cap" "tcp.stream == 4 && $c && tcp.flags.fin == 1")
[ "$sa" -lt "$cf" ] || die "stream 4: the server did not close first"
log "resets on streams: $(tsh "$cap" -Y "tcp.flags.reset == 1" -T fields -e tcp.stream -e ip.src | sort -u | tr "\t\n" ": ")"
# A reset on streams 0-5 is only ever the kernel's answer to data that reached a socket already
# closed (the peer's close_notify after this side's close_notify and FIN): never before its FIN.
while read -r rf rs rsrc; do
  [ -n "$rf" ] || continue
  fin=$(first_frame "$cap" "tcp.stream == $rs && ip.src == $rsrc && tcp.flags.fin == 1")
  [ "$fin" -lt "$rf" ] || die "stream $rs: a reset from $rsrc before its FIN"
done < <(tsh "$cap" -Y "tcp.stream <= 5 && tcp.flags.reset == 1" -T fields -e frame.number -e tcp.stream -e ip.src)
# Stream 6: the client's RST after the server's data, nothing from the client after its request.
rst=$(first_frame "$cap" "tcp.stream == 6 && $c && tcp.flags.reset == 1")
lastdata=$(last_frame "$cap" "tcp.stream == 6 && $s && tcp.len > 0")
[ "$rst" -gt "$lastdata" ] || die "stream 6: the RST is not after the server's data"
must_not "$cap" "tcp.stream == 6 && $c && tcp.flags.fin == 1" "a FIN from the killed Python client"
publish "$cap" healthy-tls-closes.pcap
expect_write healthy-tls-closes.pcap
