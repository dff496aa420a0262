#!/usr/bin/env bash
# h2c-api over TLS (ALPN h2), with the clients' keys: nginx 1.22 `listen 443 ssl http2` (lab-CA
# RSA certificate for api.lab.test, verified) in front of lab/servers/api.py (127.0.0.1:8080)
# and a few `return` statuses; curl --http2 logs its keys through SSLKEYLOGFILE.
#   curl -Z (parallel, multiplexed on ONE connection; IPv4, TLS 1.3): /v1/ok 200, /v1/nothing 404,
#     /v1/admin 403, /upload 415 (nginx return), /v1/maintenance 503, /static.json 200,
#     /v1/limited 429
#   curl, sequential URLs on one connection (IPv6, TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256):
#     /static.json 200, /gone 404
# One finding per failed stream, read in the decrypted HTTP/2: the request HEADERS and the
# response HEADERS with the :status. Makes captures/https-h2-api.pcapng and https-h2-api.keys.
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/tls-certs.sh
source "$lab_dir/tls-certs.sh"
# shellcheck source=lab/https-lib.sh
source "$lab_dir/https-lib.sh"
# shellcheck source=lab/h2-lib.sh
source "$lab_dir/h2-lib.sh"
require_cmds nginx

topo_up fl-hsh2 20
pki=$LAB_TMP/pki
https_pki "$pki"
start_bg "$TOPO_S" "$LAB_TMP/api.log" python3 "$lab_dir/servers/api.py" 127.0.0.1 8080 120
ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "443 ssl http2; listen [::]:443 ssl http2" "
  keepalive_timeout 10s;
  ssl_certificate $pki/api.pem; ssl_certificate_key $pki/api.key;
  ssl_protocols TLSv1.2 TLSv1.3;
  upstream api { server 127.0.0.1:8080; }"
sed -i "s|    root $ngx/www;|    root $ngx/www;\n    location /v1/ { proxy_pass http://api; proxy_http_version 1.1; }\n    location = /upload { return 415; }|" "$ngx/nginx.conf"
echo '{"static": true}' >"$ngx/www/static.json"
chmod -R a+rX "$ngx"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 8080
wait_listen "$TOPO_S" 443

cap="$LAB_TMP/https-h2-api.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
b=https://api.lab.test
in_c curl --silent --show-error --max-time 15 --http2 --tlsv1.3 --cacert "$pki/ca.pem" \
  --resolve "api.lab.test:443:$SERVER4" -Z --parallel-max 10 -o /dev/null -o /dev/null -o /dev/null \
  -o /dev/null -o /dev/null -o /dev/null -o /dev/null -w '%{http_version} %{http_code}\n' \
  "$b/v1/ok" "$b/v1/nothing" "$b/v1/admin" "$b/upload" "$b/v1/maintenance" "$b/static.json" \
  "$b/v1/limited" >"$LAB_TMP/curl4.out" 2>>"$LAB_TMP/curl.err" || die "curl -Z failed: $(cat "$LAB_TMP/curl.err")"
[ "$(sort "$LAB_TMP/curl4.out" | paste -sd' ')" = "2 200 2 200 2 403 2 404 2 415 2 429 2 503" ] ||
  die "curl -Z statuses: $(paste -sd' ' "$LAB_TMP/curl4.out")"
sleep 0.3
in_c curl --silent --show-error --max-time 15 --http2 --tlsv1.2 --tls-max 1.2 \
  --ciphers ECDHE-RSA-AES128-GCM-SHA256 --cacert "$pki/ca.pem" --resolve "api.lab.test:443:$SERVER6" \
  -o /dev/null -o /dev/null -w '%{http_version} %{http_code}\n' "$b/static.json" "$b/gone" \
  >"$LAB_TMP/curl6.out" 2>>"$LAB_TMP/curl.err" || die "curl (IPv6) failed: $(cat "$LAB_TMP/curl.err")"
[ "$(paste -sd' ' "$LAB_TMP/curl6.out")" = "2 200 2 404" ] || die "curl (IPv6) statuses: $(paste -sd' ' "$LAB_TMP/curl6.out")"
capture_stop 0.5

keys_check "$cap"
h2_index "$cap"
[ "$(tsh "$cap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e tcp.stream | sort -u | wc -l)" -eq 2 ] ||
  die "expected 2 TCP connections (one per curl)"
[ "$(count "$cap" 'tls.handshake.type == 2 && tls.handshake.extensions_alpn_str == "h2"')" -eq 2 ] || die "expected ALPN h2 on both"
must "$cap" "ipv6 && tls.handshake.type == 2 && tls.handshake.ciphersuite == 0xc02f" "TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256 over IPv6"
must "$cap" "ip && tls.handshake.type == 2 && tls.handshake.extensions.supported_version == 0x0304" "TLS 1.3 over IPv4"
[ "$(h2_rows '$4 == 443 && $6 == 1 { print }' | wc -l)" -eq 9 ] || die "tshark does not decrypt 9 requests"
[ "$(h2_rows '$6 == 3 { print }' | wc -l)" -eq 0 ] || die "a stream was reset"
expect_begin "h2 over TLS (ALPN h2, keys in https-h2-api.keys): nginx 1.22 :443 ssl http2 in front of lab/servers/api.py; curl -Z over IPv4, TLS 1.3, one connection, 7 multiplexed streams: /v1/ok 200, /v1/nothing 404, /v1/admin 403, /upload 415 (nginx return), /v1/maintenance 503, /static.json 200, /v1/limited 429; curl over IPv6, TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256, one connection: /static.json 200, /gone 404. One finding per failed stream; key frames (decrypted): the request HEADERS and the response HEADERS with the :status"
for pair in "/v1/nothing client.http_404 404" "/v1/admin client.http_403 403" \
  "/upload client.http_415 415" "/v1/maintenance server.http_503 503" \
  "/v1/limited client.rate_limited 429" "/gone client.http_404 404"; do
  read -r path code status <<<"$pair"
  t=$(tcp_of "$path" 443)
  h=$(h2_stream_of "$t" "$path" 443)
  expect_finding_h2 "$code" "$t" "$h" "$(h2_req "$t" "$h" 443)" "$(h2_status "$t" "$h" 443 "$status")"
done
t=$(tcp_of /v1/ok 443)
h2_status "$t" "$(h2_stream_of "$t" /v1/ok 443)" 443 200 >/dev/null
# Several streams in flight at once on the multiplexed connection.
first_answer=$(h2_one "an answer" "\$2 == $t && \$3 == 443 && \$6 == 1")
inflight=$(h2_rows "\$2 == $t && \$4 == 443 && \$6 == 1 && \$1 < $first_answer { print }" | wc -l)
log "curl -Z: $inflight requests in flight before the first answer"
publish "$cap" https-h2-api.pcapng
publish_keys https-h2-api.pcapng
expect_write https-h2-api.pcapng
