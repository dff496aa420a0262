#!/usr/bin/env bash
# grpc-status over TLS with keys. Python grpcio cannot log its TLS keys, so the gRPC client here
# is curl (SSLKEYLOGFILE): real gRPC requests (POST, content-type application/grpc, te: trailers,
# a length-prefixed message) to nginx 1.22 `listen 443 ssl http2` + grpc_pass, in front of the
# grpcio server of grpc-status (lab/servers/grpc_lab.py on 127.0.0.1:50051). One curl, calls
# separated by --next, on ONE connection (IPv4, TLS 1.3, ALPN h2), sequential streams:
#   Echo OK; Fail 3, 5, 8, 14, 16 (Trailers-Only, grpc-message percent-encoded); Details
#   (PERMISSION_DENIED + grpc-status-details-bin); /lab.Api/Nope, a method the server does not
#   have (grpcio answers UNIMPLEMENTED itself); Slow with grpc-timeout 300m (the server's deadline
#   expires first and it answers DEADLINE_EXCEEDED); Break (3 messages, then INTERNAL in the
#   trailers); Count 3 OK
# curl 7.88 answers some completed streams with RST_STREAM STREAM_CLOSED (after the server's
# END_STREAM), and nginx may reset an answered stream with NO_ERROR: no failure, no finding.
# Makes captures/grpcs-status.pcapng and grpcs-status.keys.
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/tls-certs.sh
source "$lab_dir/tls-certs.sh"
# shellcheck source=lab/https-lib.sh
source "$lab_dir/https-lib.sh"
# shellcheck source=lab/h2-lib.sh
source "$lab_dir/h2-lib.sh"
require_cmds nginx
python3 -c 'import grpc, grpc_status, google.rpc.error_details_pb2' 2>/dev/null ||
  die "python3 lacks grpcio / grpcio-status / googleapis-common-protos"

topo_up fl-grpcs 20
pki=$LAB_TMP/pki
https_pki "$pki"
start_bg "$TOPO_S" "$LAB_TMP/grpc.log" timeout 150 python3 "$lab_dir/servers/grpc_lab.py" server 127.0.0.1:50051 120
ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "443 ssl http2" "
  keepalive_timeout 10s;
  ssl_certificate $pki/api.pem; ssl_certificate_key $pki/api.key;
  ssl_protocols TLSv1.2 TLSv1.3;"
sed -i "s|    root $ngx/www;|    root $ngx/www;\n    location /lab.Api/ { grpc_pass grpc://127.0.0.1:50051; }|" "$ngx/nginx.conf"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 50051
wait_listen "$TOPO_S" 443

# msg FILE TEXT — a gRPC length-prefixed message (uncompressed flag, 4-byte length) holding the
# protobuf message grpc_lab.py's service takes: field 1 (bytes) = TEXT (under 126 bytes).
msg() {
  printf '\x00\x00\x00\x00'
  printf "\\$(printf '%03o' $((${#2} + 2)))"
  printf '\x0a'
  printf "\\$(printf '%03o' "${#2}")"
  printf '%s' "$2"
}
calls=("Echo hello" "Fail 3" "Fail 5" "Fail 8" "Fail 14" "Fail 16" "Details order" "Nope x" "Slow late" "Break go" "Count 3")
args=()
i=0
for c in "${calls[@]}"; do
  read -r method body <<<"$c"
  msg "$LAB_TMP/m$i" "$body" >"$LAB_TMP/m$i"
  [ $i -eq 0 ] || args+=(--next)
  args+=(--silent --show-error --max-time 10 --http2 --tlsv1.3 --cacert "$pki/ca.pem"
    --resolve "api.lab.test:443:$SERVER4" -X POST -H "content-type: application/grpc"
    -H "te: trailers" -H "user-agent: curl-grpc-lab" --data-binary "@$LAB_TMP/m$i" -o /dev/null
    -w '%{http_version} %{http_code}\n')
  [ "$method" != Slow ] || args+=(-H "grpc-timeout: 300m")
  args+=("https://api.lab.test/lab.Api/$method")
  i=$((i + 1))
done

cap="$LAB_TMP/grpcs-status.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
in_c curl "${args[@]}" >"$LAB_TMP/curl.out" 2>>"$LAB_TMP/curl.err" || die "curl gRPC calls failed: $(cat "$LAB_TMP/curl.err")"
capture_stop 0.5
[ "$(sort -u "$LAB_TMP/curl.out")" = "2 200" ] || die "curl: not all HTTP/2 200: $(paste -sd' ' "$LAB_TMP/curl.out")"

keys_check "$cap"
h2_index "$cap"
[ "$(tsh "$cap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e tcp.stream | sort -u | wc -l)" -eq 1 ] ||
  die "expected one TCP connection"
must "$cap" "grpc" "gRPC (decrypted)"
t=0
p=443
code_of() {
  case $1 in
    1) echo client.grpc_cancelled ;; 2) echo server.grpc_unknown ;;
    3) echo client.grpc_invalid_argument ;; 4) echo server.grpc_deadline_exceeded ;;
    5) echo client.grpc_not_found ;; 6) echo client.grpc_already_exists ;;
    7) echo client.grpc_permission_denied ;; 8) echo client.grpc_resource_exhausted ;;
    9) echo client.grpc_failed_precondition ;; 10) echo server.grpc_aborted ;;
    11) echo client.grpc_out_of_range ;; 12) echo client.grpc_unimplemented ;;
    13) echo server.grpc_internal ;; 14) echo server.grpc_unavailable ;;
    15) echo server.grpc_data_loss ;; 16) echo client.grpc_unauthenticated ;;
    *) die "no cause code for grpc-status $1" ;;
  esac
}
reqs=$(h2_rows "\$2 == $t && \$4 == $p && \$6 == 1 { print \$5, \$12 }")
[ "$(grep -c . <<<"$reqs")" -eq ${#calls[@]} ] || die "tshark shows $(grep -c . <<<"$reqs") requests, not ${#calls[@]}"
expect_begin "gRPC over TLS (ALPN h2, TLS 1.3, keys in grpcs-status.keys): curl as the gRPC client (POST application/grpc, te: trailers, one length-prefixed message; calls separated by --next on one connection) to nginx 1.22 :443 ssl http2 grpc_pass to the grpcio server of grpc-status: Echo OK; Fail 3, 5, 8, 14, 16 (Trailers-Only, percent-encoded grpc-message); Details PERMISSION_DENIED with grpc-status-details-bin; an unknown method (UNIMPLEMENTED from grpcio); Slow with grpc-timeout 300m (DEADLINE_EXCEEDED from the server); Break (3 messages, then INTERNAL in trailers); Count 3 OK. Key frames (decrypted): the request HEADERS and the server's HEADERS carrying grpc-status"
declare -A want=([/lab.Api/Echo]=0 [/lab.Api/Nope]=12 [/lab.Api/Details]=7 [/lab.Api/Slow]=4 [/lab.Api/Break]=13 [/lab.Api/Count]=0)
fails=(3 5 8 14 16)
k=0
while read -r h path; do
  st=$(h2_rows "\$2 == $t && \$5 == $h && \$3 == $p && \$6 == 1 && \$11 != \"-\" { print \$11; exit }")
  if [ "$path" = /lab.Api/Fail ]; then w=${fails[$k]}; k=$((k + 1)); else w=${want[$path]}; fi
  [ "$st" = "$w" ] || die "$path (h2 stream $h): grpc-status '$st', expected $w"
  [ "$st" = 0 ] && continue
  expect_finding_h2 "$(code_of "$st")" "$t" "$h" "$(h2_req "$t" "$h" $p)" "$(h2_grpc "$t" "$h" $p "$st")"
done <<<"$reqs"
h=$(h2_stream_of "$t" /lab.Api/Break $p)
tr=$(h2_grpc "$t" "$h" $p 13)
[ "$(h2_rows "\$2 == $t && \$5 == $h && \$3 == $p && \$6 == 0 && \$1 <= $tr { print }" | wc -l)" -ge 1 ] || die "Break: no DATA before the trailers"
must "$cap" "http2.header.name == \"grpc-status-details-bin\"" "grpc-status-details-bin"
must "$cap" "http2.header.name == \"grpc-message\" && http2.header.value contains \"caf%C3%A9\"" "the percent-encoded grpc-message"
# curl 7.88 sends RST_STREAM STREAM_CLOSED on streams the server has already ended, and nginx may
# send RST_STREAM NO_ERROR on a stream it has answered in full: after a complete response
# neither is a failure. Every reset here must be one of those.
while read -r f h from err; do
  if [ "$from" = $p ]; then [ "$err" = 0 ]; else [ "$err" = 5 ] || [ "$err" = 0 ]; fi ||
    die "a reset other than after-the-response noise: stream $h from :$from error $err"
  [ -n "$(h2_rows "\$2 == $t && \$5 == $h && \$3 == $p && \$6 <= 1 && \$7 % 2 == 1 && \$1 <= $f { print }")" ] ||
    die "stream $h was reset (from :$from, error $err) before the server ended it"
done < <(h2_rows '$6 == 3 { print $1, $5, $3, $8 }')
log "RST_STREAM after complete responses: $(h2_rows '$6 == 3 && $3 != 443 { print }' | wc -l) from curl, $(h2_rows '$6 == 3 && $3 == 443 { print }' | wc -l) from nginx"
publish "$cap" grpcs-status.pcapng
publish_keys grpcs-status.pcapng
expect_write grpcs-status.pcapng
