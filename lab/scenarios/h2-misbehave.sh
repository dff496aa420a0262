#!/usr/bin/env bash
# HTTP/2 streams killed by the protocol itself: lab/servers/h2server.py (hyper-h2, h2c prior
# knowledge, SETTINGS_INITIAL_WINDOW_SIZE 16384) on :8082 and, with
# SETTINGS_MAX_CONCURRENT_STREAMS 1, on :8083; lab/servers/h2client.py (hyper-h2) one connection
# per plan:
#   mixed  (IPv4 :8082) /ok 200; /refuse RST_STREAM REFUSED_STREAM; /reset-mid HEADERS 200 + one
#          DATA, then RST_STREAM INTERNAL_ERROR; /calm RST_STREAM ENHANCE_YOUR_CALM; /slow that the
#          client cancels after 0.5 s (RST_STREAM CANCEL); /ok2 200; the client's GOAWAY, close
#   goaway (IPv4 :8082) /hold /hold /goaway /hold on streams 1 3 5 7: the server sends GOAWAY
#          NO_ERROR last-stream-id 3 (debug "draining for restart"), answers stream 1 and closes:
#          3 was open at the close, 5 and 7 were above last-stream-id
#   burst  (IPv6 :8083) three requests in the client's first flight, before the server's SETTINGS
#          (MAX_CONCURRENT_STREAMS 1) arrive: stream 1 answered, 3 and 5 REFUSED_STREAM; then a
#          fourth request, 200
#   upload (IPv4 :8082) POST /upload with 200 kB: 16384 bytes fill the stream window, which the
#          server never reopens (no WINDOW_UPDATE); the client closes after 3 s
#   noread (IPv6 :8082) GET /big (1 MB) with the client's INITIAL_WINDOW_SIZE 16384: the client
#          never sends WINDOW_UPDATE, the server stops at a zero window; the client closes after 3 s
#   curl   (IPv4 :8082) GET /hop-by-hop: the response HEADERS carry `connection: keep-alive`,
#          which HTTP/2 forbids; curl (nghttp2) resets the stream with PROTOCOL_ERROR (exit 92)
# Makes captures/h2-misbehave.pcapng (dumpcap on c0). With H2MIS_TLS=1 (lab/scenarios/
# https-h2-misbehave.sh) the same over TLS (ALPN h2; lab-CA certificate for api.lab.test, verified;
# the client logs its keys): captures/https-h2-misbehave.pcapng and https-h2-misbehave.keys.
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/h2-lib.sh
source "$lab_dir/h2-lib.sh"
python3 -c 'import h2' 2>/dev/null || die "python3 has no h2 module (pip install h2)"
name=h2-misbehave.pcapng tls_srv=() tls_cli=()
if [ -n "${H2MIS_TLS:-}" ]; then
  LAB_SCENARIO=lab/scenarios/https-h2-misbehave.sh
  # shellcheck source=lab/tls-certs.sh
  source "$lab_dir/tls-certs.sh"
  # shellcheck source=lab/https-lib.sh
  source "$lab_dir/https-lib.sh"
  name=https-h2-misbehave.pcapng
fi

topo_up fl-h2mis 20
if [ -n "${H2MIS_TLS:-}" ]; then
  https_pki "$LAB_TMP/pki"
  tls_srv=(--tls "$LAB_TMP/pki/api.pem" "$LAB_TMP/pki/api.key")
  tls_cli=(--tls "$LAB_TMP/pki/ca.pem" "$KEYLOG")
fi
start_bg "$TOPO_S" "$LAB_TMP/h2server.log" python3 "$lab_dir/servers/h2server.py" :: 8082 120 --initial-window 16384 ${tls_srv[@]+"${tls_srv[@]}"}
start_bg "$TOPO_S" "$LAB_TMP/h2server-mc.log" python3 "$lab_dir/servers/h2server.py" :: 8083 120 --max-concurrent 1 ${tls_srv[@]+"${tls_srv[@]}"}
wait_listen "$TOPO_S" 8082
wait_listen "$TOPO_S" 8083

cap="$LAB_TMP/$name"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
client() { # client PLAN ADDR PORT
  in_c timeout 20 python3 "$lab_dir/servers/h2client.py" "$@" ${tls_cli[@]+"${tls_cli[@]}"} >>"$LAB_TMP/client.log" 2>&1 ||
    die "h2client.py $*: $(tail -n5 "$LAB_TMP/client.log")"
  sleep 0.3
}
client mixed "$SERVER4" 8082
client goaway "$SERVER4" 8082
client burst "$SERVER6" 8083
client upload "$SERVER4" 8082
client noread "$SERVER6" 8082
if [ -n "${H2MIS_TLS:-}" ]; then
  hop=(--http2 --cacert "$LAB_TMP/pki/ca.pem" --resolve "api.lab.test:8082:$SERVER4" https://api.lab.test:8082/hop-by-hop)
else
  hop=(--http2-prior-knowledge "http://$SERVER4:8082/hop-by-hop")
fi
rc=$(ccurl "${hop[@]}")
[ "$rc" = 92 ] || die "curl /hop-by-hop: expected exit 92 (stream reset), got $rc: $(tail -n1 "$LAB_TMP/curl.err")"
capture_stop 0.5
cat "$LAB_TMP/client.log" >&2

if [ -n "${H2MIS_TLS:-}" ]; then
  # TLS on ports tshark does not know; ALPN h2 then takes it to HTTP/2.
  TSH_ARGS=(-d tcp.port==8082,tls -d tcp.port==8083,tls)
  keys_check "$cap"
  [ "$(count "$cap" 'tls.handshake.type == 2 && tls.handshake.extensions_alpn_str == "h2"')" -eq 6 ] ||
    die "expected ALPN h2 on the 6 connections"
else
  TSH_ARGS=(-d tcp.port==8082,http2 -d tcp.port==8083,http2)
fi
h2_index "$cap" "${TSH_ARGS[@]}"
[ "$(tsh "$cap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e tcp.stream | sort -u | wc -l)" -eq 6 ] ||
  die "expected 6 TCP connections"
# conn_of PATH PORT — the tcp.stream of the connection that asked PATH (first match).
conn_of() { h2_rows "\$6 == 1 && \$4 == $2 && \$12 == \"$1\" { print \$2; exit }"; }
proto="h2c"
[ -z "${H2MIS_TLS:-}" ] || proto="h2 over TLS (ALPN h2, keys in https-h2-misbehave.keys; frames read decrypted)"
expect_begin "HTTP/2 protocol-level failures, $proto: lab/servers/h2server.py (hyper-h2) on :8082 (INITIAL_WINDOW_SIZE 16384) and :8083 (MAX_CONCURRENT_STREAMS 1), lab/servers/h2client.py (hyper-h2), one connection per case: (1) /ok 200, /refuse RST_STREAM REFUSED_STREAM, /reset-mid 200 HEADERS and one DATA then RST_STREAM INTERNAL_ERROR, /calm RST_STREAM ENHANCE_YOUR_CALM, /slow cancelled by the client (RST_STREAM CANCEL), /ok2 200; (2) streams 1 3 5 7 in flight, server GOAWAY NO_ERROR last-stream-id 3 with debug data, stream 1 answered, then the server closes: 3, 5, 7 killed; (3) IPv6, three requests sent before the server's SETTINGS (MAX_CONCURRENT_STREAMS 1) arrived: 3 and 5 REFUSED_STREAM, then a fourth 200; (4) a POST whose stream window the server never reopens (no WINDOW_UPDATE), the client closes after 3 s; (5) IPv6, a 1 MB GET whose client never reopens its 16384-byte window, the client closes after 3 s; (6) curl GET /hop-by-hop answered with HEADERS carrying the forbidden connection: keep-alive, reset by curl (nghttp2) with RST_STREAM PROTOCOL_ERROR before the body. Key frames: the request HEADERS and the RST_STREAM; for the GOAWAY the GOAWAY frame and each killed stream's request HEADERS; for a stall the request HEADERS and the last DATA frame before the window stayed at zero"

# (1) mixed
t=$(conn_of /refuse 8082)
for pair in "/refuse server.http2_refused_stream 8082 7" "/reset-mid server.http2_stream_reset 8082 2" \
  "/calm client.rate_limited 8082 11" "/slow client.http2_cancelled CLIENT 8"; do
  read -r path code from err <<<"$pair"
  h=$(h2_stream_of "$t" "$path" 8082)
  rq=$(h2_req "$t" "$h" 8082)
  if [ "$from" = CLIENT ]; then
    rst=$(h2_one "client RST_STREAM $err on $h" "\$2 == $t && \$5 == $h && \$6 == 3 && \$4 == 8082 && \$8 == $err")
  else
    rst=$(h2_rst "$t" "$h" "$from" "$err")
  fi
  expect_finding_h2 "$code" "$t" "$h" "$rq" "$rst"
done
h=$(h2_stream_of "$t" /reset-mid 8082)
rs=$(h2_status "$t" "$h" 8082 200)
[ "$rs" -lt "$(h2_rst "$t" "$h" 8082 2)" ] || die "/reset-mid: the reset is not after the response HEADERS"
# END_STREAM is flag bit 0 of DATA and HEADERS.
[ -z "$(h2_rows "\$2 == $t && \$5 == $h && \$3 == 8082 && \$6 <= 1 && \$7 % 2 == 1 { print }")" ] ||
  die "the server ended /reset-mid (END_STREAM)"
h=$(h2_stream_of "$t" /slow 8082)
[ -z "$(h2_rows "\$2 == $t && \$5 == $h && \$3 == 8082 && \$6 == 1 { print }")" ] || die "/slow was answered before the cancel"
for path in /ok /ok2; do h2_status "$t" "$(h2_stream_of "$t" "$path" 8082)" 8082 200 >/dev/null; done

# (2) GOAWAY: last-stream-id 3; stream 3 open when the server closed, 5 and 7 never processed.
t=$(conn_of /goaway 8082)
ga=$(h2_one "the server's GOAWAY" "\$2 == $t && \$6 == 7 && \$3 == 8082 && \$8 == 0 && \$9 == 3")
must "$cap" "tcp.stream == $t && http2.goaway.addata" "the GOAWAY's debug data"
fin=$(first_frame "$cap" "tcp.stream == $t && tcp.srcport == 8082 && tcp.flags.fin == 1")
[ "$fin" -gt "$ga" ] || die "the server's FIN is not after its GOAWAY"
h2_status "$t" 1 8082 200 >/dev/null
killed=()
for h in 3 5 7; do
  killed+=("$(h2_req "$t" "$h" 8082)")
  [ -z "$(h2_rows "\$2 == $t && \$5 == $h && \$3 == 8082 { print }")" ] || die "the server answered stream $h"
done
expect_finding_h2s server.http2_goaway "$t" "3 5 7" "$ga" "${killed[@]}"

# (3) REFUSED_STREAM under MAX_CONCURRENT_STREAMS 1: the first flight had three requests.
t=$(tsh "$cap" -Y 'tcp.dstport == 8083 && tcp.flags.syn == 1' -T fields -e tcp.stream | head -n1)
sfr=$(h2_one "the server's first SETTINGS on :8083" "\$2 == $t && \$3 == 8083 && \$6 == 4 && \$7 == 0")
must "$cap" "tcp.stream == $t && http2.settings.max_concurrent_streams == 1" "MAX_CONCURRENT_STREAMS 1"
h2_status "$t" 1 8083 200 >/dev/null
h2_status "$t" 7 8083 200 >/dev/null
for h in 3 5; do
  rq=$(h2_req "$t" "$h" 8083)
  [ "$rq" -lt "$sfr" ] || die "stream $h was sent after the server's SETTINGS"
  expect_finding_h2 server.http2_refused_stream "$t" "$h" "$rq" "$(h2_rst "$t" "$h" 8083 7)"
done

# (4) the upload whose window the server never reopened: 16384 bytes sent, no WINDOW_UPDATE.
t=$(conn_of /upload 8082)
h=$(h2_stream_of "$t" /upload 8082)
rq=$(h2_req "$t" "$h" 8082)
sent=$(h2_rows "\$2 == $t && \$5 == $h && \$6 == 0 && \$4 == 8082 { print \$1 }" | wc -l)
last=$(h2_rows "\$2 == $t && \$5 == $h && \$6 == 0 && \$4 == 8082 { f = \$1 } END { print f }")
[ -n "$last" ] || die "no upload DATA"
bytes=$(tsh "$cap" -Y "tcp.stream == $t && http2.type == 0 && http2.streamid == $h" -T fields -e http2.length |
  tr ',' '\n' | paste -sd+ | bc)
[ "$bytes" -eq 16384 ] || die "the upload sent $bytes bytes, not the 16384 of its window"
[ -z "$(h2_rows "\$2 == $t && \$3 == 8082 && \$6 == 8 { print }")" ] || die "the server sent a WINDOW_UPDATE on the upload"
expect_finding_h2 server.http2_not_reading "$t" "$h" "$rq" "$last"
log "upload: $sent DATA frames, $bytes bytes, then no WINDOW_UPDATE"

# (5) the download whose client never reopened its window.
t=$(conn_of /big 8082)
h=$(h2_stream_of "$t" /big 8082)
rq=$(h2_req "$t" "$h" 8082)
must "$cap" "tcp.stream == $t && http2.settings.initial_window_size == 16384 && tcp.dstport == 8082" "the client's 16384-byte window"
last=$(h2_rows "\$2 == $t && \$5 == $h && \$6 == 0 && \$3 == 8082 { f = \$1 } END { print f }")
[ -n "$last" ] || die "no download DATA"
bytes=$(tsh "$cap" -Y "tcp.stream == $t && http2.type == 0 && http2.streamid == $h" -T fields -e http2.length |
  tr ',' '\n' | paste -sd+ | bc)
[ "$bytes" -eq 16384 ] || die "the download carried $bytes bytes, not the 16384 of the window"
[ -z "$(h2_rows "\$2 == $t && \$4 == 8082 && \$6 == 8 { print }")" ] || die "the client sent a WINDOW_UPDATE"
expect_finding_h2 client.http2_not_reading "$t" "$h" "$rq" "$last"
# (6) the client's PROTOCOL_ERROR reset of a response with a forbidden header, before its END_STREAM.
t=$(conn_of /hop-by-hop 8082)
h=$(h2_stream_of "$t" /hop-by-hop 8082)
rst=$(h2_one "curl's RST_STREAM PROTOCOL_ERROR" "\$2 == $t && \$5 == $h && \$4 == 8082 && \$6 == 3 && \$8 == 1")
must "$cap" "tcp.stream == $t && http2.header.name == \"connection\" && tcp.srcport == 8082" "the forbidden connection header"
[ "$(h2_status "$t" "$h" 8082 200)" -lt "$rst" ] || die "/hop-by-hop: the reset is not after the response HEADERS"
[ -z "$(h2_rows "\$2 == $t && \$5 == $h && \$3 == 8082 && \$6 <= 1 && \$7 % 2 == 1 && \$1 < $rst { print }")" ] ||
  die "/hop-by-hop: the server ended the stream before the reset"
expect_finding_h2 client.http2_stream_reset "$t" "$h" "$(h2_req "$t" "$h" 8082)" "$rst"
publish "$cap" "$name"
[ -z "${H2MIS_TLS:-}" ] || publish_keys "$name"
expect_write "$name"
