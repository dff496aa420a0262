#!/usr/bin/env bash
# Healthy TLS sessions that end in the different ways real clients end them; every one is a
# complete call (the client got its 200), so the expected findings are []. nginx (TLS 1.2 and
# 1.3, a self-signed EC certificate; :443, and :8443 with keepalive_timeout 1s), one connection
# each, in this order:
#   0  openssl s_client TLS 1.3, keep-alive GET, stdin closed after 2 s: close_notify then FIN
#   1  openssl s_client TLS 1.2, the same
#   2  gnutls-cli TLS 1.3, the same
#   3  gnutls-cli TLS 1.2 to :8443, stdin closed 0.85 s after the response arrived, just as
#      nginx's 1 s keep-alive timeout fires: the server's close_notify/FIN and the client's cross
#   4  openssl s_client TLS 1.2, "Connection: close": the server closes first (close_notify, FIN);
#      s_client's close_notify then meets the server's closed socket: the server's kernel RSTs
#      (so does the server on stream 3, for the client's close_notify that crossed its own)
#   5  openssl s_client TLS 1.3 killed (SIGKILL) after it read the response: the kernel's FIN
#   6  Python ssl, killed 1 s after its GET without reading: the response sits unread, the
#      kernel answers with RST after the server's data
# Makes captures/healthy-tls-closes.pcap (tcpdump on c0, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
require_cmds openssl gnutls-cli

# 150 ms each way (a 300 ms round trip): the window in which two closes cross is one round trip.
topo_up fl-tlsclose 150
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
# gcli HOLD_SECONDS PORT ARGS... — the request goes in 1.5 s after the start (the handshake, 3
# round trips at most, is done by then), stdin is closed HOLD_SECONDS after the request.
gcli() {
  local hold=$1 port=$2
  shift 2
  { sleep 1.5; req keep-alive; sleep "$hold"; } | in_c timeout 10 gnutls-cli --insecure --port "$port" \
    --sni-hostname api.lab.test "$@" "$SERVER4" 2>>"$LAB_TMP/gnutls.err"
}
# race_gcli — stream 3: gnutls-cli TLS 1.2 to :8443 (keepalive_timeout 1s), its stdin a FIFO.
# nginx's timer starts when it sends the response, which reaches the client 150 ms later; its
# close_notify then reaches the client 1 s after the response did. The client's stdin is closed
# 0.85 s after the response is seen (timed from the response, not from the start: gnutls-cli
# sometimes sends the request as two records, the second one a round trip later behind Nagle), so
# the client's close_notify leaves ~150 ms before the server's arrives: they cross.
race_gcli() {
  local fifo=$LAB_TMP/race.fifo out=$LAB_TMP/race.out gpid fd i
  rm -f "$fifo" "$out"
  mkfifo "$fifo"
  ip netns exec "$TOPO_C" timeout 15 gnutls-cli --insecure --port 8443 --sni-hostname api.lab.test \
    --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2" "$SERVER4" <"$fifo" >"$out" 2>>"$LAB_TMP/gnutls.err" &
  gpid=$!
  LAB_PIDS+=("$gpid")
  exec {fd}>"$fifo"
  sleep 1.5
  req keep-alive >&"$fd"
  for ((i = 0; i < 500; i++)); do
    grep -q "HTTP/1.1 200" "$out" && break
    sleep 0.01
  done
  sleep 0.85
  exec {fd}>&-
  wait "$gpid" || true
  grep -q "HTTP/1.1 200" "$out" || die "gnutls-cli TLS 1.2 race: no 200"
}
ok200() { grep -q "HTTP/1.1 200" || die "$1: no 200"; }

# record — the seven sessions, captured into $cap.
record() {
  cap="$LAB_TMP/healthy-tls-closes.pcap"
  capture_start "$cap" pcap "tcp or icmp"
  sclient 2 keep-alive -tls1_3 | ok200 "s_client TLS 1.3"
  sclient 2 keep-alive -tls1_2 | ok200 "s_client TLS 1.2"
  gcli 1 443 --priority "NORMAL:-VERS-ALL:+VERS-TLS1.3" | ok200 "gnutls-cli TLS 1.3"
  race_gcli
  sclient 3 close -tls1_2 | ok200 "s_client Connection: close"
  # 5: s_client killed after reading the response.
  { req keep-alive; sleep 5; } | ip netns exec "$TOPO_C" openssl s_client -connect "$SERVER4:443" \
    -servername api.lab.test -brief -tls1_3 >"$LAB_TMP/killed.out" 2>>"$LAB_TMP/sclient.err" &
  kpid=$!
  LAB_PIDS+=("$kpid")
  sleep 2.5
  grep -q "HTTP/1.1 200" "$LAB_TMP/killed.out" || die "killed s_client: no 200 before the kill"
  kill -KILL "$kpid"
  wait "$kpid" 2>/dev/null || true
  sleep 0.3
  # 6: Python killed with the response unread.
  in_c timeout 10 python3 "$lab_dir/tls_killed_client.py" "$SERVER4" 443 api.lab.test 2>/dev/null || true
  capture_stop 1
}
# crossed — did the closes of stream 3 cross in flight? Both sides sent close_notify, and the
# server's arrived less than one round trip (300 ms) after the client sent its own: the client
# sent before receiving the server's, and the server sent before the client's reached it.
crossed() {
  local tc ts
  tc=$(field "$cap" "tcp.stream == 3 && ip.src == $CLIENT4 && tls.record.content_type == 21" frame.time_epoch)
  ts=$(field "$cap" "tcp.stream == 3 && ip.src == $SERVER4 && tls.record.content_type == 21" frame.time_epoch)
  [ -n "$tc" ] && [ -n "$ts" ] || { log "stream 3: one side sent no close_notify (it closed second)"; return 1; }
  gap_ms=$(python3 -c "print(round((float('$ts') - float('$tc')) * 1000, 1))")
  log "stream 3: the server's close_notify arrived $gap_ms ms after the client sent its own"
  python3 -c "import sys; sys.exit(0 if 0 < $gap_ms < 300 else 1)"
}
# The crossing depends on timing (a 300 ms window, aimed at its middle): up to 4 recordings.
cap="$LAB_TMP/healthy-tls-closes.pcap"
for attempt in 1 2 3 4; do
  record
  crossed && break
  [ "$attempt" -lt 4 ] || die "stream 3: the closes did not cross in 4 recordings"
  log "recording $attempt: the closes on stream 3 did not cross; recording again"
done

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
