#!/usr/bin/env bash
# HTTP/2 cleartext (h2c) calls that fail per stream, the HTTP/2 twin of http-api:
#   nginx 1.22 `listen 8081 http2` (h2c, prior knowledge) in front of lab/servers/api.py
#   (127.0.0.1:8080, proxy_http_version 1.1) and a few `return` statuses. nghttp opens ONE
#   connection (IPv4) with seven concurrent streams: /v1/ok 200, /v1/nothing 404 (api.py),
#   /v1/admin 403 (api.py), /upload 415 (nginx return), /v1/maintenance 503 Retry-After
#   (api.py), /static.json 200 (file), /v1/limited 429 (api.py); a second nghttp connection
#   (IPv6) with /static.json 200 and /gone 404 (missing file).
#   lab/servers/h2server.py (hyper-h2) on :80 takes the HTTP/1.1 Upgrade (nginx and nghttpd do
#   not): curl --http2 http://... sends `Upgrade: h2c`, gets `101 Switching Protocols`, and the
#   answer to its request comes on h2 stream 1: a 404, and on another connection a healthy 200.
# One finding per failed stream (its tcp stream and h2 stream id); the healthy streams give none.
# Makes captures/h2c-api.pcapng (dumpcap on c0).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/h2-lib.sh
source "$lab_dir/h2-lib.sh"
require_cmds nginx nghttp

topo_up fl-h2capi 20
start_bg "$TOPO_S" "$LAB_TMP/api.log" python3 "$lab_dir/servers/api.py" 127.0.0.1 8080 120
ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "8081 http2; listen [::]:8081 http2" "
  keepalive_timeout 10s;
  upstream api { server 127.0.0.1:8080; }"
# The server block's locations: api.py behind /v1/, nginx's own statuses elsewhere.
sed -i "s|    root $ngx/www;|    root $ngx/www;\n    location /v1/ { proxy_pass http://api; proxy_http_version 1.1; }\n    location = /upload { return 415; }|" "$ngx/nginx.conf"
echo '{"static": true}' >"$ngx/www/static.json"
chmod -R a+rX "$ngx"
start_nginx "$TOPO_S" "$ngx"
start_bg "$TOPO_S" "$LAB_TMP/h2server.log" python3 "$lab_dir/servers/h2server.py" :: 80 120
wait_listen "$TOPO_S" 8080
wait_listen "$TOPO_S" 8081
wait_listen "$TOPO_S" 80

cap="$LAB_TMP/h2c-api.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
h2c=http://$SERVER4:8081
out=$(in_c timeout 15 nghttp -nv "$h2c/v1/ok" "$h2c/v1/nothing" "$h2c/v1/admin" "$h2c/upload" \
  "$h2c/v1/maintenance" "$h2c/static.json" "$h2c/v1/limited" 2>&1) || die "nghttp (IPv4) failed: $out"
for st in 200 404 403 415 503 429; do
  grep -aq ":status: $st" <<<"$out" || die "nghttp got no $st"
done
h2c6="http://[$SERVER6]:8081"
out=$(in_c timeout 15 nghttp -nv "$h2c6/static.json" "$h2c6/gone" 2>&1) || die "nghttp (IPv6) failed: $out"
grep -aq ":status: 404" <<<"$out" || die "nghttp (IPv6) got no 404"
sleep 0.3
# HTTP/1.1 Upgrade: h2c (curl --http2 on http://), nghttpd switches and answers on stream 1.
code=$(in_c curl --silent --show-error --max-time 10 --http2 -o /dev/null -w "%{http_code} %{http_version}" "http://$SERVER4/missing.json" 2>&1) || true
[ "$code" = "404 2" ] || die "curl Upgrade: h2c: expected '404 2', got '$code'"
code=$(in_c curl --silent --show-error --max-time 10 --http2 -o /dev/null -w "%{http_code} %{http_version}" "http://$SERVER4/ok.json" 2>&1) || true
[ "$code" = "200 2" ] || die "curl Upgrade: h2c: expected '200 2', got '$code'"
capture_stop 0.5

# tshark: h2c on :8081 by decode-as; :80 is HTTP, and tshark follows the 101 to HTTP/2.
d=(-d tcp.port==8081,http2)
h2_index "$cap" "${d[@]}"
must "$cap" "http.response.code == 101 && http.upgrade contains \"h2c\"" "the 101 Switching Protocols to h2c"
must "$cap" "http.request && http.upgrade contains \"h2c\"" "the Upgrade: h2c request"
[ "$(tsh "$cap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e tcp.stream | sort -u | wc -l)" -eq 4 ] ||
  die "expected 4 TCP connections"
expect_begin "h2c (HTTP/2 cleartext): nginx 1.22 :8081 http2 (prior knowledge) in front of lab/servers/api.py; nghttp over IPv4, one connection, 7 concurrent streams: /v1/ok 200, /v1/nothing 404, /v1/admin 403, /upload 415 (nginx return), /v1/maintenance 503 Retry-After, /static.json 200, /v1/limited 429; nghttp over IPv6, one connection: /static.json 200, /gone 404; lab/servers/h2server.py (hyper-h2) :80 with curl --http2 on http:// (HTTP/1.1 Upgrade: h2c, 101, the answer on h2 stream 1): /missing.json 404 and, on another connection, /ok.json 200. One finding per failed stream; key frames: the request HEADERS and the response HEADERS with the :status"
for pair in "/v1/nothing client.http_404 404" "/v1/admin client.http_403 403" \
  "/upload client.http_415 415" "/v1/maintenance server.http_503 503" \
  "/v1/limited client.rate_limited 429" "/gone client.http_404 404"; do
  read -r path code status <<<"$pair"
  t=$(tcp_of "$path" 8081)
  h=$(h2_stream_of "$t" "$path" 8081)
  rq=$(h2_req "$t" "$h" 8081)
  rs=$(h2_status "$t" "$h" 8081 "$status")
  expect_finding_h2 "$code" "$t" "$h" "$rq" "$rs"
done
# The healthy streams are answered 200 and end (END_STREAM from the server).
for path in /v1/ok /static.json; do
  for t in $(h2_rows "\$6 == 1 && \$4 == 8081 && \$12 == \"$path\" { print \$2 }" | sort -u); do
    h=$(h2_stream_of "$t" "$path" 8081)
    h2_status "$t" "$h" 8081 200 >/dev/null
  done
done
# No stream reset; the only GOAWAYs are nghttp's NO_ERROR as it leaves.
[ "$(h2_rows '$6 == 3 || ($6 == 7 && ($3 == 8081 || $8 != 0)) { print }' | wc -l)" -eq 0 ] ||
  die "unexpected RST_STREAM or GOAWAY"
t=$(tsh "$cap" -Y 'http.request.uri == "/missing.json"' -T fields -e tcp.stream)
rq=$(first_frame "$cap" "tcp.stream == $t && http.request.uri == \"/missing.json\"")
rs=$(h2_status "$t" 1 80 404)
expect_finding_h2 client.http_404 "$t" 1 "$rq" "$rs"
t=$(tsh "$cap" -Y 'http.request.uri == "/ok.json"' -T fields -e tcp.stream)
h2_status "$t" 1 80 200 >/dev/null
publish "$cap" h2c-api.pcapng
expect_write h2c-api.pcapng
