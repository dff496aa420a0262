#!/usr/bin/env bash
# Healthy HTTPS calls, no fault: nginx with TLS (a self-signed certificate made here with
# openssl), every call succeeds with 200, so the expected findings are [].
# For each of IPv4 and IPv6, in this order:
#   - curl -k --tlsv1.2 --tls-max 1.2: two GETs on one connection (TLS 1.2)
#   - curl -k --tlsv1.3: one GET and, on its own connection, one POST (TLS 1.3)
# then Python http.client over TLS (default context, verification off): GET + POST on one
# connection over IPv4.
# Makes captures/healthy-https.pcap (tcpdump on c0, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
require_cmds openssl

topo_up fl-https 20

ngx=$LAB_TMP/nginx
mkdir -p "$ngx"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=api.lab.test" -addext "subjectAltName=IP:$SERVER4,IP:$SERVER6" \
  -keyout "$ngx/key.pem" -out "$ngx/cert.pem" 2>"$LAB_TMP/openssl.log" || die "openssl failed"
# POSTs to /api/* go through proxy_pass to a loopback-only server block, so nginx reads the
# whole body before it answers 200.
write_nginx_conf "$ngx" "443 ssl" "access_log off;
  ssl_certificate $ngx/cert.pem; ssl_certificate_key $ngx/key.pem;
  ssl_protocols TLSv1.2 TLSv1.3;
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

cap="$LAB_TMP/healthy-https.pcap"
capture_start "$cap" pcap "tcp or icmp or icmp6"
for host in "$SERVER4" "[$SERVER6]"; do
  base="https://$host"
  [ "$(ccurl -k --tlsv1.2 --tls-max 1.2 "$base/status.json" "$base/items.json")" = 0 ] ||
    die "TLS 1.2 GETs on $base failed"
  [ "$(ccurl -k --tlsv1.3 "$base/status.json")" = 0 ] || die "TLS 1.3 GET on $base failed"
  [ "$(ccurl -k --tlsv1.3 -H 'Content-Type: application/json' -d '{"item":42}' "$base/api/orders")" = 0 ] ||
    die "TLS 1.3 POST on $base failed"
done
in_c timeout 30 python3 - "$SERVER4" <<'PY' || die "python https calls failed"
import http.client, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
c = http.client.HTTPSConnection(sys.argv[1], 443, timeout=10, context=ctx)
for method, path, body in (("GET", "/items.json", None), ("POST", "/api/orders", b'{"item":7}')):
    c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"{method} {path}: {r.status}")
c.close()
PY
capture_stop 0.5

# The packets must show it: 7 connections, each with one ServerHello; 2 of TLS 1.2 and 5 of
# TLS 1.3; no reset, retransmission or ICMP error.
[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 7 ] || die "expected 7 TCP streams"
[ "$(count "$cap" "tls.handshake.type == 2")" -eq 7 ] || die "expected 7 ServerHellos"
[ "$(count "$cap" "tls.handshake.type == 2 && tls.handshake.extensions.supported_version == 0x0304")" -eq 5 ] ||
  die "expected 5 TLS 1.3 ServerHellos"
[ "$(count "$cap" "tls.handshake.type == 2 && tls.handshake.version == 0x0303 && !tls.handshake.extensions.supported_version")" -eq 2 ] ||
  die "expected 2 TLS 1.2 ServerHellos"
[ "$(count "$cap" "tls.handshake.type == 2 && ipv6")" -eq 3 ] || die "expected 3 handshakes over IPv6"
must_not "$cap" "tcp.analysis.retransmission || tcp.analysis.lost_segment || tcp.flags.reset == 1" \
  "a retransmission, lost segment or reset"
must_not "$cap" "icmp || icmpv6.type < 128" "an ICMP error"

expect_begin "Healthy HTTPS calls to nginx (self-signed certificate), no fault: curl -k with TLS 1.2 (two GETs on one connection) and TLS 1.3 (a GET, a POST), IPv4 then IPv6, then Python http.client over TLS 1.3 (GET + POST on one connection, IPv4); every response 200"
publish "$cap" healthy-https.pcap
expect_write healthy-https.pcap
