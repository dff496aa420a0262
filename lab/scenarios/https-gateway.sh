#!/usr/bin/env bash
# http-gateway over TLS, twice: TLS 1.2 and TLS 1.3. nginx on :443 (ssl, lab-CA RSA certificate
# for api.lab.test, verified by every client) answers failures itself and as a reverse proxy in
# front of broken upstreams, as in http-gateway; the clients log their keys:
#   curl (IPv4, one connection per call, SSLKEYLOGFILE): 405 (POST to a static file), 413 (4 KB
#     body over client_max_body_size 1k), 404, `return` 400/415/422/418/501, 502 (upstream port
#     closed), a healthy 200; suites rotate: TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256,
#     ECDHE-RSA-CHACHA20-POLY1305, ECDHE-RSA-AES128-SHA256 (CBC); TLS 1.3 TLS_AES_128_GCM_SHA256,
#     TLS_CHACHA20_POLY1305_SHA256, TLS_AES_256_GCM_SHA384
#   openssl s_client -keylogfile (IPv4): GET /boom -> `return` 500, Connection: close
#   curl (IPv6, one keep-alive connection): /ok.json, /api/orders (502), /ok.json
#   Python http.client (IPv6, keylog_filename): /slowapi/report proxied to a server that accepts
#     and never answers, proxy_read_timeout 2s -> 504
# Makes captures/https-gateway-tls12.pcap (tcpdump) and https-gateway-tls13.pcapng (dumpcap),
# each with its key log beside it (.keys).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/tls-certs.sh
source "$lab_dir/tls-certs.sh"
# shellcheck source=lab/https-lib.sh
source "$lab_dir/https-lib.sh"
require_cmds nginx

topo_up fl-hsgw 20
pki=$LAB_TMP/pki
https_pki "$pki"
start_bg "$TOPO_S" "$LAB_TMP/silent.log" python3 "$lab_dir/servers/misbehave.py" silent 127.0.0.1 9001 240
wait_listen "$TOPO_S" 9001

ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "443 ssl" "access_log off;
  ssl_certificate $pki/api.pem; ssl_certificate_key $pki/api.key;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers DEFAULT;"
cat >"$LAB_TMP/locations.conf" <<'CONF'
    listen [::]:443 ssl;
    location = /upload { client_max_body_size 1k; return 200 '{"stored":true}\n'; }
    location = /bad { return 400; }
    location = /media { return 415; }
    location = /invalid { return 422; }
    location = /teapot { return 418; }
    location = /boom { return 500; }
    location = /nyi { return 501; }
    location /api/ { proxy_pass http://127.0.0.1:9002; }
    location /slowapi/ { proxy_pass http://127.0.0.1:9001; proxy_read_timeout 2s; }
CONF
sed -i "/listen 443 ssl;/r $LAB_TMP/locations.conf" "$ngx/nginx.conf"
printf '{"status":"ok"}\n' >"$ngx/www/ok.json"
head -c 4096 /dev/zero | tr '\0' 'a' >"$LAB_TMP/body.txt"
chmod -R a+rX "$ngx" "$LAB_TMP/body.txt"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 443

one_version() {
  local v=$1 name kind pins suites list i=0
  keys_reset
  if [ "$v" = 12 ]; then
    name=https-gateway-tls12.pcap kind=pcap
    pins=(--tlsv1.2 --tls-max 1.2) suites=(--ciphers)
    list=(ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-CHACHA20-POLY1305 ECDHE-RSA-AES128-SHA256)
  else
    name=https-gateway-tls13.pcapng kind=pcapng
    pins=(--tlsv1.3) suites=(--tls13-ciphers)
    list=(TLS_AES_128_GCM_SHA256 TLS_CHACHA20_POLY1305_SHA256 TLS_AES_256_GCM_SHA384)
  fi
  cap="$LAB_TMP/$name"
  capture_start "$cap" "$kind" "tcp or icmp or icmp6"
  ok() { # ok HOST ARGS... — a verified curl call over TLS that must succeed; the suite rotates
    local host=$1
    shift
    [ "$(ccurl --cacert "$pki/ca.pem" --resolve "api.lab.test:443:$host" "${pins[@]}" \
      "${suites[@]}" "${list[$((i % 3))]}" "$@")" = 0 ] || die "curl $* failed ($(tail -n1 "$LAB_TMP/curl.err"))"
    i=$((i + 1))
  }
  local b=https://api.lab.test p
  ok "$SERVER4" -X POST -d '{"x":1}' "$b/ok.json"
  ok "$SERVER4" -H 'Content-Type: text/plain' --data-binary @"$LAB_TMP/body.txt" "$b/upload"
  ok "$SERVER4" "$b/v2/missing.json"
  for p in bad media invalid teapot nyi; do ok "$SERVER4" "$b/$p"; done
  ok "$SERVER4" "$b/api/orders"
  ok "$SERVER4" "$b/ok.json"
  local sv=(-tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305)
  [ "$v" = 13 ] && sv=(-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256)
  printf 'GET /boom HTTP/1.1\r\nHost: api.lab.test\r\nConnection: close\r\n\r\n' |
    in_c timeout 10 openssl s_client -connect "$SERVER4:443" -servername api.lab.test \
      -CAfile "$pki/ca.pem" -verify_return_error -keylogfile "$KEYLOG" "${sv[@]}" -quiet \
      >"$LAB_TMP/s_client.out" 2>>"$LAB_TMP/s_client.err" || die "s_client GET /boom failed"
  grep -q '^HTTP/1.1 500' "$LAB_TMP/s_client.out" || die "s_client did not get the 500"
  ok "[$SERVER6]" "$b/ok.json" "$b/api/orders" "$b/ok.json"
  in_c timeout 20 python3 - "$SERVER6" "$pki/ca.pem" "$KEYLOG" "$v" <<'PY' || die "python 504 call misbehaved"
import http.client, ssl, sys
host, ca, keylog, v = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
ctx.keylog_filename = keylog
if v == "12":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
else:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
c = http.client.HTTPSConnection(host, 443, timeout=10, context=ctx)
c.request("GET", "/slowapi/report", headers={"Host": "api.lab.test", "Accept": "application/json"})
r = c.getresponse()
r.read()
c.close()
if r.status != 504:
    sys.exit(f"expected 504, got {r.status}")
PY
  capture_stop 0.5
  check_and_expect "$v" "$name"
}

stream_of() { # stream_of FILTER — the single tcp.stream of requests matching FILTER
  local s
  s=$(tsh "$cap" -Y "http.request && ($1)" -T fields -e tcp.stream | sort -u)
  [ "$(printf '%s\n' "$s" | grep -c .)" -eq 1 ] || die "expected one stream for '$1', got '$s'"
  echo "$s"
}

check_and_expect() {
  local v=$1 name=$2 filter code status s rq rs
  keys_check "$cap"
  [ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 13 ] || die "expected 13 TCP streams"
  if [ "$v" = 12 ]; then
    must_not "$cap" "tls.handshake.type == 2 && tls.handshake.extensions.supported_version == 0x0304" "a TLS 1.3 ServerHello"
    for suite in 0xc02f 0xcca8 0xc027; do must "$cap" "tls.handshake.type == 2 && tls.handshake.ciphersuite == $suite" "suite $suite"; done
  else
    [ "$(count "$cap" "tls.handshake.type == 2 && tls.handshake.extensions.supported_version == 0x0304")" -eq 13 ] ||
      die "expected 13 TLS 1.3 ServerHellos"
    for suite in 0x1301 0x1302 0x1303; do must "$cap" "tls.handshake.type == 2 && tls.handshake.ciphersuite == $suite" "suite $suite"; done
  fi
  expect_begin "http-gateway over TLS 1.${v#1} (nginx ssl on :443, lab-CA certificate verified, keys logged by the clients): 405 (POST to a static file), 413 (4 KB body over client_max_body_size 1k), 404 for a missing file, return 400/415/422/418/501 (curl, one suite per call), return 500 (openssl s_client -keylogfile), as a reverse proxy 502 (upstream port closed) over IPv4 and on an IPv6 keep-alive connection between two 200s, and 504 (upstream accepts and never answers, proxy_read_timeout 2s) to Python http.client; one healthy GET"
  while IFS="|" read -r filter code status; do
    s=$(stream_of "$filter")
    rq=$(first_frame "$cap" "tcp.stream == $s && http.request && ($filter)")
    rs=$(first_frame "$cap" "tcp.stream == $s && http.response.code == $status")
    must "$cap" "tcp.stream == $s && http.response.code == $status && http.server == \"nginx\"" "nginx answering $status"
    expect_finding "$code" "$s" "$rq" "$rs"
  done <<'EOF'
http.request.method == "POST" && http.request.uri == "/ok.json"|client.http_405|405
http.request.uri == "/upload"|client.http_413|413
http.request.uri == "/v2/missing.json"|client.http_404|404
http.request.uri == "/bad"|client.http_400|400
http.request.uri == "/media"|client.http_415|415
http.request.uri == "/invalid"|client.http_422|422
http.request.uri == "/teapot"|client.http_4xx|418
http.request.uri == "/boom"|server.http_500|500
http.request.uri == "/nyi"|server.http_5xx|501
ip && http.request.uri == "/api/orders"|server.http_502|502
ipv6 && http.request.uri == "/api/orders"|server.http_502|502
http.request.uri == "/slowapi/report"|server.http_504|504
EOF
  s=$(stream_of 'ipv6 && http.request.uri == "/api/orders"')
  [ "$(count "$cap" "tcp.stream == $s && http.request")" -eq 3 ] || die "expected 3 requests on the IPv6 keep-alive connection"
  [ "$(count "$cap" "tcp.stream == $s && http.response.code == 200")" -eq 2 ] || die "expected two 200s beside the 502"
  s=$(stream_of 'http.request.uri == "/slowapi/report"')
  rs=$(first_frame "$cap" "tcp.stream == $s && http.response.code == 504")
  gap=$(tsh "$cap" -Y "frame.number == $rs" -T fields -e http.time)
  awk -v g="$gap" 'BEGIN { exit !(g >= 2.0) }' || die "the 504 came after only ${gap}s"
  for s in $(tsh "$cap" -Y "tls.handshake.type == 1" -T fields -e tcp.stream); do decrypted "$cap" "$s"; done
  publish "$cap" "$name"
  publish_keys "$name"
  expect_write "$name"
}

one_version 12
one_version 13
