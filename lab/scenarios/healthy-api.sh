#!/usr/bin/env bash
# Healthy HTTP API calls, no fault: every response is 200, so the expected findings are [].
# (Named healthy-api, not healthy-http: captures/healthy-http.pcapng belongs to
# lab/record-healthy-http.sh and contains a refused connect.)
# For each of IPv4 and IPv6, in this order:
#   - curl: one GET on its own connection
#   - curl: three GETs on one keep-alive connection (curl URL URL URL)
#   - curl: one POST of a small JSON body (nginx reads the whole body, then answers 200)
#   - Python http.client: two GETs and a POST on one keep-alive connection
# Makes captures/healthy-api.pcapng (dumpcap, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-hapi 20

# nginx on :80 (v4 and v6). POSTs to /api/* go through proxy_pass to a loopback-only server
# block, so nginx reads the whole request body before it answers 200 (a bare `return` would
# answer before the body is read).
ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "80" "access_log off; client_max_body_size 16m;
  server { listen 127.0.0.1:8099; location / { return 200 '{\"ok\":true}\n'; } }"
cat >"$LAB_TMP/locations.conf" <<'CONF'
    listen [::]:80;
    location /api/ { proxy_pass http://127.0.0.1:8099; }
CONF
sed -i "/listen 80;/r $LAB_TMP/locations.conf" "$ngx/nginx.conf"
printf '{"status":"ok"}\n' >"$ngx/www/status.json"
printf '{"items":[1,2,3,4,5,6,7,8]}\n' >"$ngx/www/items.json"
chmod -R a+rX "$ngx"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 80

cap="$LAB_TMP/healthy-api.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
for host in "$SERVER4" "[$SERVER6]"; do
  base="http://$host"
  [ "$(ccurl "$base/status.json")" = 0 ] || die "GET $base/status.json failed"
  [ "$(ccurl "$base/status.json" "$base/items.json" "$base/status.json")" = 0 ] ||
    die "keep-alive GETs on $base failed"
  [ "$(ccurl -H 'Content-Type: application/json' -d '{"item":42,"qty":1}' "$base/api/orders")" = 0 ] ||
    die "POST $base/api/orders failed"
done
# Python http.client: GET, GET, POST on one connection per address family; exits non-zero
# unless every status is 200.
in_c timeout 30 python3 - "$SERVER4" "$SERVER6" <<'PY' || die "python http.client calls failed"
import http.client, sys
for host in sys.argv[1:]:
    c = http.client.HTTPConnection(host, 80, timeout=10)
    for method, path, body in (("GET", "/status.json", None), ("GET", "/items.json", None),
                               ("POST", "/api/orders", b'{"item":7,"qty":2}')):
        headers = {"Content-Type": "application/json"} if body else {}
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            sys.exit(f"{method} {path} on {host}: {r.status}")
    c.close()
PY
capture_stop 0.5

# The packets must show it: 8 connections, 16 requests, 16 answers all 200, nothing odd.
[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 8 ] || die "expected 8 TCP streams"
[ "$(count "$cap" "http.request")" -eq 16 ] || die "expected 16 HTTP requests"
[ "$(count "$cap" "http.response.code == 200")" -eq 16 ] || die "expected 16 responses 200"
must_not "$cap" "http.response.code != 200" "a non-200 response"
must_not "$cap" "tcp.analysis.retransmission || tcp.analysis.lost_segment || tcp.flags.reset == 1" \
  "a retransmission, lost segment or reset"
must_not "$cap" "icmp || icmpv6.type < 128" "an ICMP error"
[ "$(count "$cap" "http.request && ipv6")" -eq 8 ] || die "expected 8 requests over IPv6"

expect_begin "Healthy API calls, no fault: curl GETs on separate connections and three on one keep-alive connection, a curl POST, and Python http.client GET+GET+POST on one connection; IPv4 then IPv6; every response 200"
publish "$cap" healthy-api.pcapng
expect_write healthy-api.pcapng
