#!/usr/bin/env bash
# A JSON API (lab/servers/api.py on :8080) answering failures the way real APIs do, called by
# curl (IPv4, one connection per call) and Python http.client (IPv6, keep-alive):
#   curl  GET /v1/orders?api_key=... with an expired bearer token -> 401 Bearer error="invalid_token"
#   curl  GET /v1/admin        -> 403
#   curl  GET /v1/nothing      -> 404 (answered by the application, no gateway)
#   curl  GET /v1/maintenance  -> 503 Retry-After: 120
#   curl  GET /v1/truncated    -> Content-Length 4000, 1000 body bytes, server FIN (curl exit 18)
#   curl  GET /v1/chunked-cut  -> chunked body without its last chunk, server FIN (curl exit 18)
#   curl  GET /v1/slow         -> 200 after 2.5 s on a 40 ms path
#   curl  GET /v1/crash        -> the server reads the request and closes (curl exit 52)
#   curl  GET /v1/ok           -> 200 (healthy)
#   python: GET /v1/ok, GET /v1/limited (429 Retry-After 30, X-RateLimit-*), GET /v1/ok on one
#           connection: one failed call among three
#   python: GET /v1/ok, then 2 s idle (the server closes idle connections after 1 s), GET /v1/ok
#           on the same connection: the server's stack answers with RST (stale keep-alive reuse)
# Makes captures/http-api.pcapng (dumpcap, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-japi 20
start_bg "$TOPO_S" "$LAB_TMP/api.log" python3 "$lab_dir/servers/api.py" :: 8080 120
wait_listen "$TOPO_S" 8080

cap="$LAB_TMP/http-api.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
base="http://$SERVER4:8080"
want() { # want RC ARGS... — a curl call that must exit with RC
  local rc_want=$1 rc
  shift
  rc=$(ccurl "$@")
  [ "$rc" = "$rc_want" ] || die "curl $*: expected exit $rc_want, got $rc"
}
want 0 -H "Authorization: Bearer expired-token-123" "$base/v1/orders?api_key=SECRET42&page=1"
want 0 "$base/v1/admin"
want 0 "$base/v1/nothing"
want 0 "$base/v1/maintenance"
want 18 "$base/v1/truncated"
want 18 "$base/v1/chunked-cut"
want 0 "$base/v1/slow"
want 52 "$base/v1/crash"
want 0 "$base/v1/ok"
in_c timeout 30 python3 - "$SERVER6" <<'PY' || die "python http.client calls misbehaved"
import http.client, sys, time
host = sys.argv[1]
c = http.client.HTTPConnection(host, 8080, timeout=10)
statuses = []
for path in ("/v1/ok", "/v1/limited", "/v1/ok"):
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    statuses.append(r.status)
c.close()
if statuses != [200, 429, 200]:
    sys.exit(f"keep-alive statuses {statuses}")
c = http.client.HTTPConnection(host, 8080, timeout=10)
c.request("GET", "/v1/ok")
r = c.getresponse()
r.read()
time.sleep(2.0)  # the server closes the idle connection after 1 s
try:
    c.request("GET", "/v1/ok")
    r = c.getresponse()
    sys.exit(f"the stale connection answered {r.status}")
except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
    print(f"stale keep-alive: {e!r}")
time.sleep(0.3)
c.close()
PY
capture_stop 0.5

p=8080
# stream_of URI_PART — the tcp.stream of the single request whose URI contains URI_PART.
stream_of() {
  local s
  s=$(tsh "$cap" -Y "http.request.uri contains \"$1\"" -T fields -e tcp.stream | sort -u)
  [ "$(printf '%s\n' "$s" | grep -c .)" -eq 1 ] || die "expected one stream for $1, got '$s'"
  echo "$s"
}
req_frame() { first_frame "$cap" "tcp.stream == $1 && http.request.uri contains \"$2\""; }

expect_begin "JSON API on :8080 (lab/servers/api.py): curl over IPv4 gets 401 Bearer invalid_token (expired token, api_key in the query), 403, 404, 503 Retry-After, a Content-Length body cut short by the server's FIN, a chunked body without its last chunk, a 2.5 s first byte, a request answered by a bare FIN, and a healthy 200; Python http.client over IPv6 gets 200, 429 Retry-After 30, 200 on one keep-alive connection, then reuses a connection the server closed after 1 s idle and gets RST"
# Status codes: request frame and the frame tshark shows the response in.
for pair in "/v1/orders client.token_expired 401" "/v1/admin client.http_403 403" \
  "/v1/nothing client.http_404 404" "/v1/maintenance server.http_503 503" \
  "/v1/limited client.rate_limited 429"; do
  read -r uri code status <<<"$pair"
  s=$(stream_of "$uri")
  rq=$(req_frame "$s" "$uri")
  rs=$(first_frame "$cap" "tcp.stream == $s && http.response.code == $status")
  expect_finding "$code" "$s" "$rq" "$rs"
done
s=$(stream_of "/v1/orders")
must "$cap" "tcp.stream == $s && http.www_authenticate contains \"invalid_token\" && http.www_authenticate contains \"expired\"" "the Bearer challenge saying the token expired"
s=$(stream_of "/v1/limited")
[ "$(count "$cap" "tcp.stream == $s && http.request")" -eq 3 ] || die "expected 3 requests on the keep-alive connection"
[ "$(count "$cap" "tcp.stream == $s && http.response.code == 200")" -eq 2 ] || die "expected 2 healthy answers beside the 429"
must "$cap" "tcp.stream == $s && http.response.code == 429 && http.response.line contains \"Retry-After: 30\"" "Retry-After on the 429"
# Truncated: the response's first segment and the server's FIN; the declared length in the packets.
for uri in /v1/truncated /v1/chunked-cut; do
  s=$(stream_of "$uri")
  rs=$(first_frame "$cap" "tcp.stream == $s && tcp.srcport == $p && tcp.len > 0")
  fin=$(first_frame "$cap" "tcp.stream == $s && tcp.srcport == $p && tcp.flags.fin == 1")
  [ "$fin" -gt "$rs" ] || die "$uri: the server's FIN is not after its answer"
  must_not "$cap" "tcp.stream == $s && tcp.dstport == $p && (tcp.flags.fin == 1 || tcp.flags.reset == 1) && frame.number < $fin" "$uri: the client closing first"
  expect_finding server.truncated_response "$s" "$rs" "$fin"
done
s=$(stream_of /v1/truncated)
must "$cap" "tcp.stream == $s && frame contains \"Content-Length: 4000\"" "the declared length"
sent=$(tsh "$cap" -Y "tcp.stream == $s && tcp.srcport == $p" -T fields -e tcp.len | paste -sd+ | bc)
[ "$sent" -lt 4000 ] || die "the truncated response carried $sent bytes"
s=$(stream_of /v1/chunked-cut)
must_not "$cap" "tcp.stream == $s && frame contains \"0\r\n\r\n\"" "a last chunk"
# Slow: the request and the first response byte, at least 2 s apart.
s=$(stream_of /v1/slow)
rq=$(req_frame "$s" /v1/slow)
rs=$(first_frame "$cap" "tcp.stream == $s && tcp.srcport == $p && tcp.len > 0")
gap=$(tsh "$cap" -Y "frame.number == $rs" -T fields -e tcp.time_relative)
awk -v g="$gap" 'BEGIN { exit !(g >= 2.0) }' || die "the slow answer came after only ${gap}s"
expect_finding server.slow_response "$s" "$rq" "$rs"
# Closed without a response: the request and the server's FIN, no server payload.
s=$(stream_of /v1/crash)
rq=$(req_frame "$s" /v1/crash)
fin=$(first_frame "$cap" "tcp.stream == $s && tcp.srcport == $p && tcp.flags.fin == 1")
must_not "$cap" "tcp.stream == $s && tcp.srcport == $p && tcp.len > 0" "a response byte on /v1/crash"
expect_finding server.closed_without_response "$s" "$rq" "$fin"
# Stale keep-alive: the server's FIN, the client's request after it, the server's RST.
s=$(tsh "$cap" -Y "ipv6 && tcp.srcport == $p && tcp.flags.reset == 1" -T fields -e tcp.stream | sort -u)
[ "$(printf '%s\n' "$s" | grep -c .)" -eq 1 ] || die "expected one reset stream, got '$s'"
fin=$(first_frame "$cap" "tcp.stream == $s && tcp.srcport == $p && tcp.flags.fin == 1")
rq=$(first_frame "$cap" "tcp.stream == $s && tcp.dstport == $p && tcp.len > 0 && frame.number > $fin")
rst=$(first_frame "$cap" "tcp.stream == $s && tcp.srcport == $p && tcp.flags.reset == 1")
[ "$rst" -gt "$rq" ] || die "the RST ($rst) does not follow the stale request ($rq)"
[ "$(count "$cap" "tcp.stream == $s && http.response.code == 200")" -eq 1 ] || die "expected one answered request before the idle close"
expect_finding client.stale_keepalive_reuse "$s" "$fin" "$rq" "$rst"
# Healthy: /v1/ok over curl gives nothing.
publish "$cap" http-api.pcapng
expect_write http-api.pcapng
