# shellcheck shell=bash disable=SC2034,SC2154
# What gateway-errors and https-gateway-errors share: nginx as the gateway in front of
# servers/errors_api.py (every error in a vendor's documented shape), the calls, and the
# tshark-checked expectations with the words each finding must quote. Source after
# scenario-lib.sh. The scenario defines, before calling gwe_traffic:
#
#   GWE_TLS            0 (plain HTTP on :80) or 1 (TLS on :443, the clients logging keys)
#   gcurl V ARGS...    curl over IPv4 or IPv6 (V = 4 or 6) to the gateway; prints curl's exit code
#   gwe_url V PATH     the URL of PATH at the gateway over IPv4 / IPv6
#   GWE_NEXT           curl options the second transfer of a --next run needs (TLS: CA, --resolve)
#   gpython V ARGS...  python3 in the client namespace with lab/ on the path; the script on stdin
#                      gets the gateway's address, port and (TLS) CA and key log in argv
#
#   gwe_backends                 errors_api.py on 127.0.0.1:9000, misbehave.py silent on :9001
#   gwe_locations                nginx location blocks (stdout): / to the API, /down/ to a closed port
#                                (:9002, 502), /hang/ to the silent server (proxy_read_timeout 1s)
#   gwe_traffic                  the calls (below)
#   gwe_expect CAP               checks CAP with tshark; expect_finding + expect_quote per call
#
# The calls (curl unless said; one connection each unless said):
#   keep-alive: GET /v1/ok, /v1/profile (401 token expired; the only request with the JWT-like
#     bearer token, which must never reach a report), /v1/ok, /v2/catalog (404 APIG.0101 not
#     published), /v1/ok
#   POST /v1/orders (400 problem+json), POST /v1/users (422 problem+json), GET /v1/account (401
#   bad signature), GET /v1/admin/reports (403 insufficient_scope), POST /oauth/token twice
#   (400 invalid_client, invalid_grant), GET /v1/reports (403 APIG.0302), GET /prod/v1/invoke
#   (403 AccessDeniedException), GET /v1/projects/lab/secrets (403 PERMISSION_DENIED, gzip),
#   GET /v1/beta/search with X-Stage: TEST (404 wrong stage), GET /v1/search (429 daily quota,
#   br), POST /v1/batch (400 ThrottlingException), GET /v1/legacy/orders (410, Sunset),
#   GET /v1/orders/42 with Accept: application/xml (406), plain HTTP only: GET /v1/plain-upgrade
#   (426 Upgrade: TLS/1.2)
#   keep-alive: POST /graphql (200, errors FORBIDDEN), POST /graphql (200, INTERNAL_SERVER_ERROR)
#   keep-alive: GET /loop-a -L --max-redirs 4 (302 /loop-b, 302 /loop-a ... curl gives up)
#   IPv6: GET /down/status (502 by nginx: upstream refused), GET /hang/report (504 by nginx after
#   1 s), GET /v1/ok (200)
#   Python http.client, one keep-alive connection (IPv6): GET /v1/items 11 times: ten 200s with
#   RateLimit-Remaining 9..0, then 429 Retry-After: 1

GWE_SRC=$lab_dir/servers/errors_api.py
JWT='eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJsYWItY2kiLCJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLW9mLXRoZS1sYWI'

gwe_backends() {
  python3 -c 'import brotli' 2>/dev/null || die "python3 has no brotli (pip install brotli)"
  start_bg "$TOPO_S" "$LAB_TMP/errors_api.log" python3 "$GWE_SRC" 127.0.0.1 9000 240
  start_bg "$TOPO_S" "$LAB_TMP/silent.log" python3 "$lab_dir/servers/misbehave.py" silent 127.0.0.1 9001 240
  wait_listen "$TOPO_S" 9000
  wait_listen "$TOPO_S" 9001
}

gwe_locations() {
  cat <<'CONF'
    location / { proxy_pass http://127.0.0.1:9000; }
    location /down/ { proxy_pass http://127.0.0.1:9002; }
    location /hang/ { proxy_pass http://127.0.0.1:9001; proxy_read_timeout 1s; }
CONF
}

# g V ARGS... — a curl call that must exit 0; g_rc RC V ARGS... — one that must exit RC.
g() { g_rc 0 "$@"; }
g_rc() {
  local want=$1 rc
  shift
  rc=$(gcurl "$@")
  [ "$rc" = "$want" ] || die "curl $* exited $rc, not $want ($(tail -n1 "$LAB_TMP/curl.err"))"
}

# u PATH — PATH's URL at the gateway over IPv4.
u() { gwe_url 4 "$1"; }

gwe_traffic() {
  local next=(--next --silent --show-error --max-time "${CURL_MAX_TIME:-10}" ${GWE_NEXT[@]+"${GWE_NEXT[@]}"})
  # Only /v1/profile carries the token: a 401 whose next request on the connection carries
  # credentials is a login leg, not a failure.
  g 4 "$(u /v1/ok)" "${next[@]}" -H "Authorization: Bearer $JWT" "$(u /v1/profile)" \
    "${next[@]}" "$(u /v1/ok)" "$(u /v2/catalog)" "$(u /v1/ok)"
  g 4 -H 'Content-Type: application/json' -d '{"sku":"A-1","quantity":-3}' "$(u /v1/orders)"
  g 4 -H 'Content-Type: application/json' -d '{"email":"ops@lab.test"}' "$(u /v1/users)"
  g 4 -H "Authorization: Bearer $JWT" "$(u /v1/account)"
  g 4 -H "Authorization: Bearer $JWT" "$(u /v1/admin/reports)"
  g 4 -d 'grant_type=client_credentials&client_id=lab-ci&client_secret=not-the-secret' "$(u /oauth/token)"
  g 4 -d 'grant_type=refresh_token&refresh_token=rt-0123456789abcdef0123456789abcdef&client_id=lab-ci' "$(u /oauth/token)"
  g 4 -H 'X-Auth-Token: MIIE-lab-token-0123456789abcdef' "$(u /v1/reports)"
  g 4 "$(u /prod/v1/invoke)"
  g 4 -H 'Accept-Encoding: gzip' "$(u /v1/projects/lab/secrets)"
  g 4 -H 'X-Stage: TEST' "$(u /v1/beta/search)"
  g 4 -H 'Accept-Encoding: br' "$(u /v1/search)"
  g 4 -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Target: Lab_20240101.PutItems' \
    -d '{"Items":[]}' "$(u /v1/batch)"
  g 4 "$(u /v1/legacy/orders)"
  g 4 -H 'Accept: application/xml' "$(u /v1/orders/42)"
  [ "$GWE_TLS" = 1 ] || g 4 "$(u /v1/plain-upgrade)"
  g 4 -H 'Content-Type: application/json' -d '{"query":"{ invoices { id total } }"}' "$(u /graphql)" \
    "${next[@]}" -H 'Content-Type: application/json' -d '{"query":"{ billing { balance } }"}' "$(u /graphql)"
  # curl gives up after 4 redirects: exit 47 (too many redirects)
  g_rc 47 4 -L --max-redirs 4 "$(u /loop-a)"
  g 6 "$(gwe_url 6 /down/status)"
  g 6 "$(gwe_url 6 /hang/report)"
  g 6 "$(gwe_url 6 /v1/ok)"
  gpython 6 <<'PY' || die "the Python rate-limit run misbehaved"
import http.client, ssl, sys
host, port = sys.argv[1], int(sys.argv[2])
if len(sys.argv) > 3:
    ctx = ssl.create_default_context(cafile=sys.argv[3])
    ctx.keylog_filename = sys.argv[4]
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    c = http.client.HTTPSConnection(host, port, timeout=10, context=ctx)
else:
    c = http.client.HTTPConnection(host, port, timeout=10)
seen = []
for _ in range(11):
    c.request("GET", "/v1/items", headers={"Host": "api.lab.test", "Accept": "application/json"})
    r = c.getresponse()
    r.read()
    seen.append((r.status, r.getheader("RateLimit-Remaining")))
c.close()
want = [(200, str(n)) for n in range(9, -1, -1)] + [(429, "0")]
if seen != want:
    sys.exit(f"unexpected answers {seen}")
PY
}

# stream_of FILTER — the single tcp.stream of requests matching FILTER
stream_of() {
  local s
  s=$(tsh "$cap" -Y "http.request && ($1)" -T fields -e tcp.stream | sort -u)
  [ "$(printf '%s\n' "$s" | grep -c .)" -eq 1 ] || die "expected one stream for '$1', got '$s'"
  echo "$s"
}

# answered FILTER STATUS — sets S, RQ and RS: the stream, the first request matching FILTER
# answered with STATUS by nginx (the gateway), and that answer (its http.request_in is RQ).
answered() {
  local rq rs
  S=$(stream_of "$1")
  for rs in $(frames "$cap" "tcp.stream == $S && http.response.code == $2 && http.server == \"nginx\""); do
    rq=$(field "$cap" "frame.number == $rs" http.request_in)
    if [ -n "$rq" ] && [ "$(count "$cap" "frame.number == $rq && http.request && ($1)")" -eq 1 ]; then
      RQ=$rq RS=$rs
      return 0
    fi
  done
  die "no request matching '$1' answered $2 by nginx in $cap"
}

gwe_expect() {
  cap=$1
  EXPECT_CAP=$cap
  local filter code status quotes q
  # One line per finding: request filter | code | status | words to quote (;-separated). The
  # words are the server's own (body or header), checked below on the key frames with tshark,
  # the gzip and br bodies decompressed by tshark (4.0 has both).
  while IFS="|" read -r filter code status quotes; do
    [ -n "$filter" ] || continue
    if [ "$GWE_TLS" = 1 ] && [ "$status" = 426 ]; then continue; fi
    answered "$filter" "$status"
    expect_finding "$code" "$S" "$RQ" "$RS"
    while IFS= read -r q; do [ -z "$q" ] || expect_quote "$q"; done < <(tr ';' '\n' <<<"$quotes")
  done <<'EOF'
http.request.uri == "/v1/orders"|client.http_400|400|Field 'quantity' must be a positive integer, got -3
http.request.uri == "/v1/users"|client.http_422|422|The email address is already registered to another account
http.request.uri == "/v1/profile"|client.token_expired|401|The access token expired
http.request.uri == "/v1/account"|client.token_invalid|401|The access token signature is invalid
http.request.uri == "/v1/admin/reports"|client.insufficient_scope|403|higher privileges than provided by the access token
http.request.uri == "/oauth/token" && urlencoded-form.value == "client_credentials"|client.credentials_wrong|400|invalid_client;Client authentication failed
http.request.uri == "/oauth/token" && urlencoded-form.value == "refresh_token"|client.token_invalid|400|invalid_grant;The refresh token has been revoked
http.request.uri == "/v1/reports"|client.access_denied|403|APIG.0302;The IAM user is not authorized to access the API
http.request.uri == "/prod/v1/invoke"|client.access_denied|403|is not authorized to perform: execute-api:Invoke
http.request.uri == "/v1/projects/lab/secrets"|client.access_denied|403|The caller does not have permission
http.request.uri == "/v2/catalog"|client.api_not_found|404|The API does not exist or has not been published in the environment
http.request.uri == "/v1/beta/search"|client.wrong_stage|404|environment TEST
http.request.uri == "/v1/search"|client.quota_exhausted|429|daily quota exceeded
http.request.uri == "/v1/batch"|client.rate_limited|400|Rate exceeded
http.request.uri == "/v1/items"|client.rate_limited|429|Rate limit exceeded
http.request.uri == "/v1/legacy/orders"|client.api_version_retired|410|API version v1 was retired on 2025-03-01
http.request.uri == "/v1/orders/42"|client.http_406|406|application/xml
http.request.uri == "/v1/plain-upgrade"|client.http_426|426|TLS/1.2
http.request.uri == "/graphql" && http.file_data contains "invoices"|client.graphql_errors|200|You are not authorized to read invoices
http.request.uri == "/graphql" && http.file_data contains "billing"|server.graphql_errors|200|Cannot reach the billing service
http.request.uri == "/down/status"|server.http_502|502|nginx
http.request.uri == "/hang/report"|server.http_504|504|nginx
EOF
  gwe_check_loop
  gwe_check_wire
}

# The redirect loop: five requests on one connection, /loop-a and /loop-b answered 302 in turn.
gwe_check_loop() {
  local s first last
  s=$(stream_of 'http.request.uri == "/loop-b"')
  [ "$(count "$cap" "tcp.stream == $s && http.request")" -eq 5 ] || die "expected 5 requests in the redirect loop"
  [ "$(count "$cap" "tcp.stream == $s && http.response.code == 302")" -eq 5 ] || die "expected five 302s in the loop"
  [ "$(count "$cap" "tcp.stream == $s && http.location == \"/loop-b\"")" -eq 3 ] || die "expected /loop-b three times"
  first=$(first_frame "$cap" "tcp.stream == $s && http.request")
  last=$(last_frame "$cap" "tcp.stream == $s && http.response.code == 302")
  expect_finding server.redirect_loop "$s" "$first" \
    "$(first_frame "$cap" "tcp.stream == $s && http.request_in == $first")" "$last"
  expect_quote "/loop-b"
}

# What the packets must show beside the statuses: the keep-alive runs, the rate-limit run falling
# to 0 before its 429, compressed bodies, the gateway's own 502 at once and 504 after 1 s.
gwe_check_wire() {
  local s gap
  s=$(stream_of 'http.request.uri == "/v2/catalog"')
  [ "$(count "$cap" "tcp.stream == $s && http.response.code == 200")" -eq 3 ] || die "expected three 200s around the 401 and 404"
  [ "$(count "$cap" "tcp.stream == $s && http.authorization")" -eq 1 ] &&
    must "$cap" "tcp.stream == $s && http.authorization && http.request.uri == \"/v1/profile\"" "the token on /v1/profile alone" ||
    die "the keep-alive run must carry the token on /v1/profile alone (else its 401 is a login leg)"
  s=$(stream_of 'http.request.uri == "/v1/items"')
  local n prev=0 f
  for n in 3 2 1 0; do
    f=$(first_frame "$cap" "tcp.stream == $s && http.response.code == 200 && http.response.line contains \"RateLimit-Remaining: $n\"")
    [ "$f" -gt "$prev" ] || die "RateLimit-Remaining does not fall to $n in order"
    prev=$f
  done
  f=$(first_frame "$cap" "tcp.stream == $s && http.response.code == 429")
  [ "$f" -gt "$prev" ] || die "the 429 does not follow RateLimit-Remaining: 0"
  must "$cap" "tcp.stream == $s && http.response.code == 429 && http.response.line contains \"RateLimit-Policy: 10;w=1\" && http.response.line contains \"Retry-After: 1\"" "the throttling headers"
  must "$cap" "http.response.code == 403 && http.content_encoding == \"gzip\"" "a gzip-compressed 403"
  must "$cap" "http.response.code == 429 && http.content_encoding == \"br\" && http.response.line contains \"RateLimit-Policy: 1000;w=86400\"" "a br-compressed quota 429"
  must "$cap" "http.response.code == 410 && http.response.line contains \"Sunset: Sat, 01 Mar 2025\"" "Sunset on the 410"
  s=$(stream_of 'http.request.uri == "/down/status"')
  gap=$(field "$cap" "tcp.stream == $s && http.response.code == 502" http.time)
  awk -v g="$gap" 'BEGIN { exit !(g < 0.5) }' || die "the 502 took ${gap}s: not the gateway's own refusal"
  must "$cap" "tcp.stream == $s && http.file_data contains \"<center>nginx</center>\"" "nginx's default 502 page"
  s=$(stream_of 'http.request.uri == "/hang/report"')
  gap=$(field "$cap" "tcp.stream == $s && http.response.code == 504" http.time)
  awk -v g="$gap" 'BEGIN { exit !(g >= 1.0) }' || die "the 504 came after only ${gap}s"
}
