#!/usr/bin/env bash
# gRPC over h2c: a grpcio server and client (lab/servers/grpc_lab.py: generic handlers, bytes
# messages, no protoc), every status code on the wire.
#   direct (IPv4 :50051, one channel = one HTTP/2 connection): Echo OK; Fail with each status
#     1..16, each with grpc-message "status N: café not ready, retry later" (percent-encoded);
#     Details: PERMISSION_DENIED with grpc-status-details-bin (google.rpc.Status + ErrorInfo
#     QUOTA_POLICY_DENIED); Slow with the client's deadline 0.3 s (grpc-timeout) against a 2 s
#     server: the client sends RST_STREAM CANCEL (the server, whose deadline expires at the same
#     time, may send its own DEADLINE_EXCEEDED just after it); Break: a server stream that fails INTERNAL
#     after 3 messages (status in trailers after DATA); Count 5 OK; Echo OK
#   proxied (IPv6 :8090, nginx 1.22 `listen 8090 http2` + grpc_pass to the same server): Echo
#     OK, Fail 5 NOT_FOUND, Count 3 OK, and /lab.Down/Echo whose grpc_pass backend (port 50099)
#     is down: nginx answers it itself (what the packets show is what the expected file says)
# Errors before any message come as Trailers-Only (one HEADERS with :status 200 and grpc-status).
# Makes captures/grpc-status.pcapng (dumpcap on c0).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/h2-lib.sh
source "$lab_dir/h2-lib.sh"
require_cmds nginx
python3 -c 'import grpc, grpc_status, google.rpc.error_details_pb2' 2>/dev/null ||
  die "python3 lacks grpcio / grpcio-status / googleapis-common-protos (pip install grpcio grpcio-status googleapis-common-protos)"

topo_up fl-grpcst 20
start_bg "$TOPO_S" "$LAB_TMP/grpc.log" timeout 150 python3 "$lab_dir/servers/grpc_lab.py" server "[::]:50051" 120
ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "8090 http2; listen [::]:8090 http2" "keepalive_timeout 10s;"
sed -i "s|    root $ngx/www;|    root $ngx/www;\n    location /lab.Api/ { grpc_pass grpc://127.0.0.1:50051; }\n    location /lab.Down/ { grpc_pass grpc://127.0.0.1:50099; grpc_connect_timeout 2s; }|" "$ngx/nginx.conf"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 50051
wait_listen "$TOPO_S" 8090

cap="$LAB_TMP/grpc-status.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
in_c timeout 30 python3 "$lab_dir/servers/grpc_lab.py" client all "$SERVER4:50051" >&2 ||
  die "the direct gRPC calls did not end as planned"
sleep 0.3
in_c timeout 30 python3 "$lab_dir/servers/grpc_lab.py" client proxied "[$SERVER6]:8090" >&2 ||
  die "the proxied gRPC calls did not end as planned"
capture_stop 0.5

TSH_ARGS=(-d tcp.port==50051,http2 -d tcp.port==8090,http2)
h2_index "$cap" "${TSH_ARGS[@]}"
must "$cap" "grpc" "gRPC (tshark's grpc dissector)"
# The status codes and what faultline's catalogue calls them.
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
# streams_of TCP PATH PORT — the h2 stream ids of the requests for PATH, ascending.
streams_of() { h2_rows "\$2 == $1 && \$6 == 1 && \$4 == $3 && \$12 == \"$2\" { print \$5 }" | sort -n; }
# grpc_status_of TCP H2 SPORT — the grpc-status the server sent on a stream ('-' if none).
grpc_status_of() { h2_rows "\$2 == $1 && \$5 == $2 && \$3 == $3 && \$6 == 1 && \$11 != \"-\" { print \$11; exit }"; }
# trailers_only TCP H2 SPORT — true when the server's only HEADERS carried :status and grpc-status.
trailers_only() {
  [ "$(h2_rows "\$2 == $1 && \$5 == $2 && \$3 == $3 && \$6 == 1 { print \$10 \" \" \$11 }")" = "200 $4" ]
}

expect_begin "gRPC over h2c, grpcio server and client (lab/servers/grpc_lab.py, generic handlers): one connection (IPv4 :50051) with Echo OK, Fail with grpc-status 1..16 each with a percent-encoded grpc-message (Trailers-Only), PERMISSION_DENIED with grpc-status-details-bin (google.rpc.Status + ErrorInfo), a 0.3 s deadline against a 2 s server (the client's RST_STREAM CANCEL, on some runs followed by the server's own Trailers-Only DEADLINE_EXCEEDED), a server stream failing INTERNAL after 3 messages (trailers after DATA), Count 5 OK, Echo OK; then nginx grpc_pass (IPv6 :8090): Echo OK, NOT_FOUND, Count 3 OK, and a call to a location whose backend is down. One finding per failed call; key frames: the request HEADERS and the server's HEADERS carrying grpc-status (or :status), or the client's RST_STREAM"
p=50051
t=$(h2_rows "\$4 == $p && \$6 == 1 { print \$2; exit }")
[ "$(h2_rows "\$4 == $p && \$6 == 1 { print \$2 }" | sort -u | wc -l)" -eq 1 ] || die "expected one direct connection"
k=0
for h in $(streams_of "$t" /lab.Api/Fail $p); do
  k=$((k + 1))
  st=$(grpc_status_of "$t" "$h" $p)
  [ "$st" = "$k" ] || die "Fail call $k (h2 stream $h): grpc-status '$st'"
  trailers_only "$t" "$h" $p "$st" || die "Fail call $k: not Trailers-Only"
  expect_finding_h2 "$(code_of "$st")" "$t" "$h" "$(h2_req "$t" "$h" $p)" "$(h2_grpc "$t" "$h" $p "$st")"
done
[ "$k" -eq 16 ] || die "expected 16 Fail calls, tshark shows $k"
must "$cap" "tcp.stream == $t && http2.header.name == \"grpc-message\" && http2.header.value contains \"caf%C3%A9\"" "the percent-encoded grpc-message"
h=$(streams_of "$t" /lab.Api/Details $p)
must "$cap" "tcp.stream == $t && http2.streamid == $h && http2.header.name == \"grpc-status-details-bin\"" "grpc-status-details-bin"
expect_finding_h2 "$(code_of "$(grpc_status_of "$t" "$h" $p)")" "$t" "$h" "$(h2_req "$t" "$h" $p)" "$(h2_grpc "$t" "$h" $p 7)"
# The deadline: grpc-timeout on the request, the client's RST_STREAM CANCEL, no status.
h=$(streams_of "$t" /lab.Api/Slow $p)
must "$cap" "tcp.stream == $t && http2.streamid == $h && http2.header.name == \"grpc-timeout\"" "grpc-timeout on /lab.Api/Slow"
rst=$(h2_one "the client's RST_STREAM CANCEL on Slow" "\$2 == $t && \$5 == $h && \$4 == $p && \$6 == 3 && \$8 == 8")
# grpcio's server has the same deadline (grpc-timeout) and may still send its own Trailers-Only
# DEADLINE_EXCEEDED (and RST_STREAM NO_ERROR) just after the client's cancel crossed it.
late=$(h2_rows "\$2 == $t && \$5 == $h && \$3 == $p && \$6 == 1 { print \$1, \$11; exit }")
if [ -n "$late" ]; then
  read -r lf ls <<<"$late"
  [ "$lf" -gt "$rst" ] && [ "$ls" = 4 ] || die "the server answered the Slow call before the cancel: $late"
  log "Slow: the server's own DEADLINE_EXCEEDED (frame $lf) came after the client's cancel ($rst)"
fi
expect_finding_h2 server.grpc_deadline_exceeded "$t" "$h" "$(h2_req "$t" "$h" $p)" "$rst"
# The stream that broke after 3 messages: DATA before the trailers with grpc-status 13.
h=$(streams_of "$t" /lab.Api/Break $p)
tr=$(h2_grpc "$t" "$h" $p 13)
[ "$(h2_rows "\$2 == $t && \$5 == $h && \$3 == $p && \$6 == 0 && \$1 <= $tr { print }" | wc -l)" -ge 1 ] ||
  die "Break: no DATA before the trailers"
trailers_only "$t" "$h" $p 13 && die "Break: Trailers-Only"
expect_finding_h2 server.grpc_internal "$t" "$h" "$(h2_req "$t" "$h" $p)" "$tr"
# Healthy: Echo x2, Count: grpc-status 0.
for path in /lab.Api/Echo /lab.Api/Count; do
  for h in $(streams_of "$t" "$path" $p); do
    [ "$(grpc_status_of "$t" "$h" $p)" = 0 ] || die "$path (h2 stream $h) did not end with grpc-status 0"
  done
done
# Through nginx.
p=8090
t=$(h2_rows "\$4 == $p && \$6 == 1 { print \$2; exit }")
h=$(streams_of "$t" /lab.Api/Fail $p)
[ "$(grpc_status_of "$t" "$h" $p)" = 5 ] || die "the proxied Fail did not carry grpc-status 5"
expect_finding_h2 client.grpc_not_found "$t" "$h" "$(h2_req "$t" "$h" $p)" "$(h2_grpc "$t" "$h" $p 5)"
for path in /lab.Api/Echo /lab.Api/Count; do
  h=$(streams_of "$t" "$path" $p)
  [ "$(grpc_status_of "$t" "$h" $p)" = 0 ] || die "proxied $path did not end with grpc-status 0"
done
h=$(streams_of "$t" /lab.Down/Echo $p)
down=$(h2_rows "\$2 == $t && \$5 == $h && \$3 == $p && \$6 == 1 { print \$1, \$10, \$11; exit }")
log "nginx's answer for the down backend (frame :status grpc-status): $down"
read -r f st gst <<<"$down"
if [ "$gst" != "-" ] && [ "$gst" != "0" ]; then
  expect_finding_h2 "$(code_of "$gst")" "$t" "$h" "$(h2_req "$t" "$h" $p)" "$f"
elif [ "$st" = 502 ]; then
  expect_finding_h2 server.http_502 "$t" "$h" "$(h2_req "$t" "$h" $p)" "$f"
else
  die "unexpected answer for the down backend: $down"
fi
publish "$cap" grpc-status.pcapng
expect_write grpc-status.pcapng
