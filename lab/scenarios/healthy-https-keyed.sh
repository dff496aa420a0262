#!/usr/bin/env bash
# Healthy HTTPS calls with the clients' key log, no fault: nginx on :443 (ssl, TLS 1.2 and 1.3,
# lab-CA RSA certificate for api.lab.test, verified by every client), every call answered 200:
#   curl TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256, IPv4: two GETs on one keep-alive connection
#   curl TLS 1.2 ECDHE-RSA-CHACHA20-POLY1305, IPv4: a POST (proxied: nginx reads the whole body)
#   curl TLS 1.2 ECDHE-RSA-AES128-SHA256 (CBC, encrypt_then_mac), IPv6: a GET
#   curl TLS 1.3 TLS_AES_128_GCM_SHA256, IPv4: two GETs on one connection, then a POST
#   curl TLS 1.3 TLS_CHACHA20_POLY1305_SHA256, IPv6: a GET
#   Python http.client TLS 1.2 ECDHE-RSA-AES256-SHA384 (CBC, MAC-then-encrypt), IPv4: GET + POST
#     on one connection (SSLContext.keylog_filename)
#   Python http.client TLS 1.3 (TLS_AES_256_GCM_SHA384), IPv6: GET + POST on one connection
#   openssl s_client -keylogfile TLS 1.3 TLS_AES_256_GCM_SHA384, IPv4: GET with Connection: close
# Makes captures/healthy-https-keyed.pcapng (dumpcap on c0) and healthy-https-keyed.keys.
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/tls-certs.sh
source "$lab_dir/tls-certs.sh"
# shellcheck source=lab/https-lib.sh
source "$lab_dir/https-lib.sh"
require_cmds nginx

topo_up fl-hskeyed 20
pki=$LAB_TMP/pki
https_pki "$pki"
ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "443 ssl" "access_log off;
  ssl_certificate $pki/api.pem; ssl_certificate_key $pki/api.key;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers DEFAULT;
  server { listen 127.0.0.1:8099; location / { return 200 '{\"ok\":true}\n'; } }"
cat >"$LAB_TMP/locations.conf" <<'CONF'
    listen [::]:443 ssl;
    location /api/ { proxy_pass http://127.0.0.1:8099; }
CONF
sed -i "/listen 443 ssl;/r $LAB_TMP/locations.conf" "$ngx/nginx.conf"
printf '{"status":"ok"}\n' >"$ngx/www/status.json"
printf '{"items":[1,2,3,4,5,6,7,8]}\n' >"$ngx/www/items.json"
chmod -R a+rX "$ngx"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 443

cap="$LAB_TMP/healthy-https-keyed.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
b=https://api.lab.test
ok() { # ok HOST ARGS... — a verified curl call that must succeed
  local host=$1
  shift
  [ "$(ccurl --fail --cacert "$pki/ca.pem" --resolve "api.lab.test:443:$host" "$@")" = 0 ] ||
    die "curl $* failed ($(tail -n1 "$LAB_TMP/curl.err"))"
}
t12=(--tlsv1.2 --tls-max 1.2 --ciphers) t13=(--tlsv1.3 --tls13-ciphers)
post=(-H 'Content-Type: application/json' -d '{"item":42}')
ok "$SERVER4" "${t12[@]}" ECDHE-RSA-AES128-GCM-SHA256 "$b/status.json" "$b/items.json"
ok "$SERVER4" "${t12[@]}" ECDHE-RSA-CHACHA20-POLY1305 "${post[@]}" "$b/api/orders"
ok "[$SERVER6]" "${t12[@]}" ECDHE-RSA-AES128-SHA256 "$b/items.json"
ok "$SERVER4" "${t13[@]}" TLS_AES_128_GCM_SHA256 "$b/status.json" "$b/items.json" --next \
  "${t13[@]}" TLS_AES_128_GCM_SHA256 --cacert "$pki/ca.pem" --resolve "api.lab.test:443:$SERVER4" \
  "${post[@]}" "$b/api/orders"
ok "[$SERVER6]" "${t13[@]}" TLS_CHACHA20_POLY1305_SHA256 "$b/status.json"
for host in "$SERVER4" "$SERVER6"; do
  in_c timeout 30 python3 - "$host" "$pki/ca.pem" "$KEYLOG" <<'PY' || die "python https calls to $host failed"
import http.client, ssl, sys
host, ca, keylog = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=ca)
ctx.keylog_filename = keylog
if ":" not in host:  # IPv4: TLS 1.2, CBC with MAC-then-encrypt
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-RSA-AES256-SHA384")
    ctx.options |= 0x80000  # SSL_OP_NO_ENCRYPT_THEN_MAC
else:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
c = http.client.HTTPSConnection(host, 443, timeout=10, context=ctx)
for method, path, body in (("GET", "/items.json", None), ("POST", "/api/orders", b'{"item":7}')):
    headers = {"Host": "api.lab.test"}
    if body:
        headers["Content-Type"] = "application/json"
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"{method} {path}: {r.status}")
c.close()
PY
done
printf 'GET /status.json HTTP/1.1\r\nHost: api.lab.test\r\nConnection: close\r\n\r\n' |
  in_c timeout 10 openssl s_client -connect "$SERVER4:443" -servername api.lab.test \
    -CAfile "$pki/ca.pem" -verify_return_error -keylogfile "$KEYLOG" -tls1_3 \
    -ciphersuites TLS_AES_256_GCM_SHA384 -quiet \
    >"$LAB_TMP/s_client.out" 2>>"$LAB_TMP/s_client.err" || die "s_client GET failed"
grep -q '^HTTP/1.1 200' "$LAB_TMP/s_client.out" || die "s_client did not get a 200"
capture_stop 0.5
keys_check "$cap"

# The packets must show it, decrypted: 8 connections, 3 TLS 1.2 and 5 TLS 1.3, the suites asked
# for, 13 requests each answered 200, no retransmission or ICMP error, no RST but after a FIN.
[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 8 ] || die "expected 8 TCP streams"
[ "$(count "$cap" "tls.handshake.type == 2 && tls.handshake.extensions.supported_version == 0x0304")" -eq 4 ] ||
  die "expected 4 TLS 1.3 ServerHellos"
[ "$(count "$cap" "tls.handshake.type == 2")" -eq 8 ] || die "expected 8 ServerHellos"
for suite in 0xc02f 0xcca8 0xc027 0xc028 0x1301 0x1302 0x1303; do
  must "$cap" "tls.handshake.type == 2 && tls.handshake.ciphersuite == $suite" "suite $suite"
done
must "$cap" "tls.handshake.type == 2 && tls.handshake.ciphersuite == 0xc028 && !(tls.handshake.extension.type == 22)" "MAC-then-encrypt on the Python CBC connection"
[ "$(count "$cap" "http.request")" -eq 13 ] || die "expected 13 decrypted requests"
[ "$(count "$cap" "http.response.code == 200")" -eq 13 ] || die "expected 13 decrypted 200s"
[ "$(count "$cap" "http.request.method == \"POST\"")" -eq 4 ] || die "expected 4 POSTs"
out=$(python3 "$lab_dir/healthy_check.py" "$cap" "$KEYLOG") || die "healthy check failed: $out"
log "healthy_check: $(echo "$out" | tr '\n' ' ')"
# (healthy_check allows an RST only after a FIN: nginx closes the Connection: close call first,
# and its kernel answers s_client's close_notify that follows with RST, a normal close)

expect_begin "Healthy HTTPS calls with the clients' key log (nginx ssl on :443, lab-CA certificate verified): curl TLS 1.2 with AES-128-GCM (two GETs, keep-alive), ChaCha20-Poly1305 (POST) and AES-128-CBC-SHA256 (IPv6), curl TLS 1.3 with AES-128-GCM (two GETs and a POST) and ChaCha20 (IPv6), Python http.client TLS 1.2 AES-256-CBC-SHA384 MAC-then-encrypt and TLS 1.3 (IPv6), GET + POST each, openssl s_client -keylogfile TLS 1.3 AES-256-GCM; every response 200"
publish "$cap" healthy-https-keyed.pcapng
publish_keys healthy-https-keyed.pcapng
expect_write healthy-https-keyed.pcapng
