#!/usr/bin/env bash
# nginx answering failures itself and as a reverse proxy (gateway) in front of broken upstreams:
#   curl (IPv4, one connection per call):
#     POST /ok.json (a static file)                        -> 405 Not Allowed (nginx's own)
#     POST /upload with 4 KB (client_max_body_size 1k)      -> 413 Request Entity Too Large
#     GET /v2/missing.json (no such file)                   -> 404, answered by the gateway
#     GET /bad, /media, /invalid, /teapot, /boom, /nyi      -> `return` 400, 415, 422, 418, 500, 501
#     GET /api/orders  proxied to 127.0.0.1:9002 (nothing listens) -> 502 Bad Gateway
#     GET /ok.json                                          -> 200 (healthy)
#   curl (IPv6, one keep-alive connection): /ok.json, /api/orders (502), /ok.json
#   Python http.client (IPv6): GET /slowapi/report proxied to a server that accepts and never
#     answers (misbehave.py silent), proxy_read_timeout 2s -> 504 Gateway Time-out
# Makes captures/http-gateway.pcap (tcpdump on c0, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-hgw 20
start_bg "$TOPO_S" "$LAB_TMP/silent.log" python3 "$lab_dir/servers/misbehave.py" silent 127.0.0.1 9001 120
wait_listen "$TOPO_S" 9001

ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "80" "access_log off;"
cat >"$LAB_TMP/locations.conf" <<'CONF'
    listen [::]:80;
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
sed -i "/listen 80;/r $LAB_TMP/locations.conf" "$ngx/nginx.conf"
printf '{"status":"ok"}\n' >"$ngx/www/ok.json"
chmod -R a+rX "$ngx"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 80

cap="$LAB_TMP/http-gateway.pcap"
capture_start "$cap" pcap "tcp or icmp or icmp6"
b4="http://$SERVER4"
b6="http://[$SERVER6]"
ok() { [ "$(ccurl "$@")" = 0 ] || die "curl $* failed"; }
ok -X POST -d '{"x":1}' "$b4/ok.json"
head -c 4096 /dev/zero | tr '\0' 'a' >"$LAB_TMP/body.txt"
ok -H 'Content-Type: text/plain' --data-binary @"$LAB_TMP/body.txt" "$b4/upload"
ok "$b4/v2/missing.json"
for p in bad media invalid teapot boom nyi; do ok "$b4/$p"; done
ok "$b4/api/orders"
ok "$b4/ok.json"
ok "$b6/ok.json" "$b6/api/orders" "$b6/ok.json"
in_c timeout 20 python3 - "$SERVER6" <<'PY' || die "python 504 call misbehaved"
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], 80, timeout=10)
c.request("GET", "/slowapi/report", headers={"Accept": "application/json"})
r = c.getresponse()
r.read()
c.close()
if r.status != 504:
    sys.exit(f"expected 504, got {r.status}")
PY
capture_stop 0.5

stream_of() { # stream_of FILTER — the single tcp.stream of requests matching FILTER
  local s
  s=$(tsh "$cap" -Y "http.request && ($1)" -T fields -e tcp.stream | sort -u)
  [ "$(printf '%s\n' "$s" | grep -c .)" -eq 1 ] || die "expected one stream for '$1', got '$s'"
  echo "$s"
}
expect_begin "nginx on :80 answering 405 (POST to a static file), 413 (4 KB body over client_max_body_size 1k), 404 for a missing file, return 400/415/422/418/500/501, and as a reverse proxy 502 (upstream port closed) over IPv4 and on an IPv6 keep-alive connection between two 200s, and 504 (upstream accepts and never answers, proxy_read_timeout 2s) to Python http.client; one healthy GET"
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
rq=$(first_frame "$cap" "tcp.stream == $s && http.request")
rs=$(first_frame "$cap" "tcp.stream == $s && http.response.code == 504")
gap=$(tsh "$cap" -Y "frame.number == $rs" -T fields -e http.time)
awk -v g="$gap" 'BEGIN { exit !(g >= 2.0) }' || die "the 504 came after only ${gap}s"
must_not "$cap" "tcp.flags.reset == 1" "a reset"
publish "$cap" http-gateway.pcap
expect_write http-gateway.pcap
