#!/usr/bin/env bash
# An HTTP haystack: 60 curl keep-alive connections to the JSON API (lab/servers/api.py :8080),
# 4 requests each (240 calls; even connections IPv4, odd ones IPv6), all answered 200 except
# three failed requests in the middle of their connections:
#   connection 10, request 2: GET /v1/limited      -> 429
#   connection 33, request 1: GET /v1/maintenance  -> 503
#   connection 51, request 3: GET /v1/nothing      -> 404
# then Python http.client makes 20 calls on one connection, the 7th to /v1/orders -> 401.
# 260 calls, 4 failed. Makes captures/http-haystack.pcap (tcpdump -i any, Linux cooked v2).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-hhay 20
start_bg "$TOPO_S" "$LAB_TMP/api.log" python3 "$lab_dir/servers/api.py" :: 8080 240
wait_listen "$TOPO_S" 8080

cap="$LAB_TMP/http-haystack.pcap"
capture_start "$cap" sll2 "tcp or icmp or icmp6"
for ((i = 0; i < 60; i++)); do
  host=$SERVER4
  [ $((i % 2)) -eq 0 ] || host="[$SERVER6]"
  paths=(/v1/ok /v1/ok /v1/ok /v1/ok)
  case $i in
    10) paths[1]=/v1/limited ;;
    33) paths[0]=/v1/maintenance ;;
    51) paths[2]=/v1/nothing ;;
  esac
  urls=()
  for p in "${paths[@]}"; do urls+=("http://$host:8080$p?conn=$i"); done
  [ "$(ccurl "${urls[@]}")" = 0 ] || die "connection $i failed"
done
in_c timeout 30 python3 - "$SERVER4" <<'PY' || die "python calls misbehaved"
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], 8080, timeout=10)
statuses = []
for i in range(20):
    c.request("GET", "/v1/orders" if i == 6 else f"/v1/ok?n={i}")
    r = c.getresponse()
    r.read()
    statuses.append(r.status)
c.close()
if statuses != [200] * 6 + [401] + [200] * 13:
    sys.exit(f"statuses {statuses}")
PY
capture_stop 0.5

[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 61 ] || die "expected 61 TCP streams"
[ "$(count "$cap" "http.request")" -eq 260 ] || die "expected 260 HTTP requests"
[ "$(count "$cap" "http.response.code == 200")" -eq 256 ] || die "expected 256 responses 200"
must_not "$cap" "tcp.flags.reset == 1" "a reset"
must_not "$cap" "tcp.analysis.retransmission" "a retransmission"

expect_begin "HTTP haystack: 60 curl keep-alive connections to a JSON API (4 GETs each, IPv4 and IPv6 alternating) with a 429, a 503 and a 404 in the middle of three of them, and 20 Python http.client calls on one connection with a 401 as the 7th: 260 calls, 4 failed"
for pair in "429 client.rate_limited" "503 server.http_503" "404 client.http_404" "401 client.token_expired"; do
  read -r status code <<<"$pair"
  rs=$(first_frame "$cap" "http.response.code == $status")
  [ "$(count "$cap" "http.response.code == $status")" -eq 1 ] || die "expected one $status"
  s=$(field "$cap" "frame.number == $rs" tcp.stream)
  rq=$(field "$cap" "frame.number == $rs" http.request_in)
  [ -n "$rq" ] || die "tshark did not pair the $status with its request"
  expect_finding "$code" "$s" "$rq" "$rs"
done
publish "$cap" http-haystack.pcap
expect_write http-haystack.pcap
