#!/usr/bin/env bash
# Healthy HTTP/2 and gRPC, h2c, nothing wrong: every finding faultline gives here is a false one.
#   h2load -n 300 -c 2 -m 64 to nginx 1.22 h2c (:8081): 300 requests on two connections, up to 64
#     streams in flight each (IPv4)
#   nghttp: a 1.5 MB download on one stream (flow control: WINDOW_UPDATEs keep it moving) together
#     with 8 small files on the same connection (IPv6)
#   nghttpd --no-tls (:8085) with server push (-p): nghttp gets /index.html and the server pushes
#     /style.css and /app.js (PUSH_PROMISE, even stream ids) on the same connection
#   grpcio (lab/servers/grpc_lab.py, :50051): 8 threads x (5 unary Echo + a 50-message server
#     stream) on one channel, then a 2000-message server stream: every call grpc-status 0
# Checked with tshark: every request answered 2xx/3xx (lab/healthy_check.py), every gRPC call
# ends with grpc-status 0, no RST_STREAM, no GOAWAY other than NO_ERROR, no retransmission.
# Makes captures/healthy-h2.pcapng with "findings": [].
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/h2-lib.sh
source "$lab_dir/h2-lib.sh"
require_cmds nginx nghttp nghttpd h2load
python3 -c 'import grpc' 2>/dev/null || die "python3 lacks grpcio (pip install grpcio)"

topo_up fl-hh2 20
# h2load's and grpcio's bursts of small segments can outrun the delay line's TUN queue (500
# packets) on a busy machine: a dropped packet, then a retransmission, in a capture that must have
# none. A longer queue on this scenario's delay line only.
ip -n "$TOPO_R" link set dl0 txqueuelen 10000
ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "8081 http2; listen [::]:8081 http2" "keepalive_timeout 10s;"
mkdir -p "$ngx/www/items"
for ((i = 0; i < 40; i++)); do printf '{"item": %d, "pad": "%0200d"}\n' "$i" 0 >"$ngx/www/items/$i.json"; done
head -c 1500000 /dev/zero | tr '\0' 'b' >"$ngx/www/big.bin"
chmod -R a+rX "$ngx"
start_nginx "$TOPO_S" "$ngx"
push=$LAB_TMP/push
mkdir -p "$push"
echo '<html><link rel="stylesheet" href="/style.css"><script src="/app.js"></script></html>' >"$push/index.html"
echo 'body { color: black; }' >"$push/style.css"
echo 'console.log("lab");' >"$push/app.js"
chmod -R a+rX "$push"
start_bg "$TOPO_S" "$LAB_TMP/nghttpd.log" timeout 120 nghttpd --no-tls -d "$push" \
  -p /index.html=/style.css,/app.js 8085
start_bg "$TOPO_S" "$LAB_TMP/grpc.log" timeout 150 python3 "$lab_dir/servers/grpc_lab.py" server "[::]:50051" 120
wait_listen "$TOPO_S" 8081
wait_listen "$TOPO_S" 8085
wait_listen "$TOPO_S" 50051
uris=$LAB_TMP/uris.txt
for ((i = 0; i < 300; i++)); do echo "http://$SERVER4:8081/items/$((i % 40)).json?n=$i"; done >"$uris"

cap="$LAB_TMP/healthy-h2.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
out=$(in_c timeout 30 h2load -n 300 -c 2 -m 64 -i "$uris" 2>&1) || die "h2load failed: $out"
grep -aq "300 total, 300 started, 300 done, 300 succeeded, 0 failed, 0 errored, 0 timeout" <<<"$out" ||
  die "h2load: $(grep -a '^requests:' <<<"$out")"
sleep 0.3
h6="http://[$SERVER6]:8081"
out=$(in_c timeout 30 nghttp -nv "$h6/big.bin" "$h6/items/1.json" "$h6/items/2.json" "$h6/items/3.json" \
  "$h6/items/4.json" "$h6/items/5.json" "$h6/items/6.json" "$h6/items/7.json" "$h6/items/8.json" 2>&1) ||
  die "nghttp download failed"
[ "$(grep -ac 'recv (stream_id=[0-9]*) :status: 200' <<<"$out")" -eq 9 ] || die "nghttp: not 9 x 200"
sleep 0.3
out=$(in_c timeout 15 nghttp -nv "http://$SERVER4:8085/index.html" 2>&1) || die "nghttp push failed"
[ "$(grep -ac 'recv PUSH_PROMISE' <<<"$out")" -eq 2 ] || die "nghttp: no 2 PUSH_PROMISEs"
[ "$(grep -ac 'recv (stream_id=[0-9]*) :status: 200' <<<"$out")" -eq 3 ] || die "nghttp push: not 3 x 200"
sleep 0.3
in_c timeout 40 python3 "$lab_dir/servers/grpc_lab.py" client healthy "$SERVER4:50051" >&2 ||
  die "healthy gRPC calls failed"
capture_stop 0.5
log "delay line: $(ip -n "$TOPO_R" -s link show dl0 | awk '/TX:/ { getline; print "tx", $2, "packets,", $4, "dropped" }'); c0: $(ip -n "$TOPO_C" -s link show c0 | awk '/RX:/ { getline; print "rx", $2, "packets,", $4, "dropped" }')"

TSH_ARGS=(-d tcp.port==8081,http2 -d tcp.port==8085,http2 -d tcp.port==50051,http2)
h2_index "$cap" "${TSH_ARGS[@]}"
res=$(python3 "$lab_dir/healthy_check.py" "$cap" - "${TSH_ARGS[@]}") || die "the capture shows a failure (above)"
calls=$(sed -n 's/^CALLS //p' <<<"$res")
log "healthy_check: $calls calls in $(sed -n 's/^STREAMS //p' <<<"$res") connections"
# 300 + 9 + 1 + 8 x 6 + 1 requests, and the 2 pushed ones (the PUSH_PROMISE carries the request).
[ "$calls" -eq 361 ] || die "tshark sees $calls calls, the clients made 359 and 2 were pushed"
[ "$(h2_rows '$6 == 5 { print }' | wc -l)" -eq 2 ] || die "tshark shows no 2 PUSH_PROMISEs"
[ "$(h2_rows '$3 == 8085 && $6 == 1 && $5 % 2 == 0 && $10 == "200" { print }' | wc -l)" -eq 2 ] ||
  die "the pushed streams were not answered 200"
[ "$(h2_rows '$6 == 3 || ($6 == 7 && $8 != 0) { print }' | wc -l)" -eq 0 ] || die "a stream reset or an error GOAWAY"
grpc_calls=$(h2_rows '$4 == 50051 && $6 == 1 { print }' | wc -l)
grpc_ok=$(h2_rows '$3 == 50051 && $6 == 1 && $11 == "0" { print }' | wc -l)
[ "$grpc_calls" -eq 49 ] && [ "$grpc_ok" -eq 49 ] || die "gRPC: $grpc_calls calls, $grpc_ok with grpc-status 0"
[ "$(h2_rows '$3 == 50051 && $6 == 1 && $11 != "-" && $11 != "0" { print }' | wc -l)" -eq 0 ] || die "a gRPC error status"
big=$(h2_rows '$6 == 1 && $12 == "/big.bin" { print $2; exit }')
[ "$(h2_rows "\$2 == $big && \$4 == 8081 && \$6 == 8 { print }" | wc -l)" -ge 5 ] || die "no flow-control WINDOW_UPDATEs on the download"
inflight=$(h2_rows '$2 == 0 && $4 == 8081 && $6 == 1 { n++ } $2 == 0 && $3 == 8081 && $6 == 1 { print n; exit }')
log "h2load: $inflight requests in flight before the first answer"
expect_begin "Healthy HTTP/2 and gRPC over h2c ($calls calls, all 200 / grpc-status 0): h2load -n 300 -c 2 -m 64 to nginx 1.22 :8081 ($inflight streams in flight before the first answer); nghttp over IPv6 with a 1.5 MB download (WINDOW_UPDATEs) multiplexed with 8 small files; nghttpd :8085 with server push (2 PUSH_PROMISEs, pushed streams 2 and 4 answered 200); grpcio on :50051, one channel, 8 threads x (5 unary + a 50-message server stream) and a 2000-message server stream; no fault"
publish "$cap" healthy-h2.pcapng
expect_write healthy-h2.pcapng
