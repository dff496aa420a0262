#!/usr/bin/env bash
# http-api over TLS, twice: TLS 1.2 and TLS 1.3. lab/servers/api.py serves TLS on :8443 (lab-CA
# RSA certificate for api.lab.test, verified by every client) with the same routes, and the
# clients log their keys:
#   curl (IPv4, one connection per call, SSLKEYLOGFILE) -> 401 Bearer invalid_token, 403, 404,
#     503, a Content-Length body and a chunked body cut by the server's FIN, a 2.5 s first byte,
#     a request answered by a bare FIN, a 200; one cipher suite per call:
#     TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-CHACHA20-POLY1305, ECDHE-RSA-AES128-SHA256
#     (CBC, encrypt_then_mac), ECDHE-RSA-AES256-GCM-SHA384, AES128-SHA (RSA key exchange, CBC),
#     ECDHE-RSA-AES256-SHA384 (CBC); TLS 1.3 TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256,
#     TLS_AES_256_GCM_SHA384
#   Python http.client (IPv6, SSLContext.keylog_filename) -> 200, 429, 200 on one keep-alive
#     connection (TLS 1.2: ECDHE-RSA-AES128-SHA, CBC with MAC-then-encrypt: the client turns
#     encrypt_then_mac off), then a connection the server closed after 1 s idle, reused: RST
# Makes captures/https-api-tls12.pcapng + https-api-tls12.keys and captures/https-api-tls13-dsb.pcapng
# (dumpcap on c0; its keys are in a Decryption Secrets Block, there is no .keys file).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/tls-certs.sh
source "$lab_dir/tls-certs.sh"
# shellcheck source=lab/https-lib.sh
source "$lab_dir/https-lib.sh"

topo_up fl-hsapi 20
pki=$LAB_TMP/pki
https_pki "$pki"
start_bg "$TOPO_S" "$LAB_TMP/api.log" python3 "$lab_dir/servers/api.py" :: 8443 240 "$pki/api.pem" "$pki/api.key"
wait_listen "$TOPO_S" 8443
p=8443
base="https://api.lab.test:$p"

# one_version 12|13 — the calls, the tshark proof and the expected file of one capture.
one_version() {
  local v=$1 name pins suites
  keys_reset
  if [ "$v" = 12 ]; then
    name=https-api-tls12.pcapng
    pins=(--tlsv1.2 --tls-max 1.2)
    suites=(--ciphers)
  else
    name=https-api-tls13-dsb.pcapng
    pins=(--tlsv1.3)
    suites=(--tls13-ciphers)
  fi
  cap="$LAB_TMP/$name"
  capture_start "$cap" pcapng "tcp or icmp or icmp6"
  want() { # want RC SUITE ARGS... — a verified TLS curl call that must exit with RC
    local rc_want=$1 suite=$2 rc
    shift 2
    rc=$(ccurl --cacert "$pki/ca.pem" --resolve "api.lab.test:$p:$SERVER4" "${pins[@]}" \
      ${suite:+"${suites[@]}" "$suite"} "$@")
    [ "$rc" = "$rc_want" ] || die "curl $*: expected exit $rc_want, got $rc ($(tail -n1 "$LAB_TMP/curl.err"))"
  }
  if [ "$v" = 12 ]; then
    want 0 ECDHE-RSA-AES128-GCM-SHA256 -H "Authorization: Bearer expired-token-123" "$base/v1/orders?api_key=SECRET42&page=1"
    want 0 ECDHE-RSA-CHACHA20-POLY1305 "$base/v1/admin"
    want 0 ECDHE-RSA-AES128-SHA256 "$base/v1/nothing"
    want 0 ECDHE-RSA-AES256-GCM-SHA384 "$base/v1/maintenance"
    want 18 AES128-SHA "$base/v1/truncated"
    want 18 ECDHE-RSA-AES256-SHA384 "$base/v1/chunked-cut"
    want 0 "" "$base/v1/slow"
    want 52 ECDHE-RSA-CHACHA20-POLY1305 "$base/v1/crash"
    want 0 ECDHE-RSA-AES128-SHA256 "$base/v1/ok"
  else
    want 0 TLS_AES_128_GCM_SHA256 -H "Authorization: Bearer expired-token-123" "$base/v1/orders?api_key=SECRET42&page=1"
    want 0 TLS_CHACHA20_POLY1305_SHA256 "$base/v1/admin"
    want 0 TLS_AES_256_GCM_SHA384 "$base/v1/nothing"
    want 0 TLS_CHACHA20_POLY1305_SHA256 "$base/v1/maintenance"
    want 18 TLS_AES_128_GCM_SHA256 "$base/v1/truncated"
    want 18 TLS_CHACHA20_POLY1305_SHA256 "$base/v1/chunked-cut"
    want 0 "" "$base/v1/slow"
    want 52 "" "$base/v1/crash"
    want 0 TLS_CHACHA20_POLY1305_SHA256 "$base/v1/ok"
  fi
  in_c timeout 30 python3 - "$SERVER6" "$pki/ca.pem" "$KEYLOG" "$v" <<'PY' || die "python https calls misbehaved"
import http.client, ssl, sys, time
host, ca, keylog, v = sys.argv[1:5]
def context(cbc):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.keylog_filename = keylog
    if v == "12":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if cbc:
            ctx.set_ciphers("ECDHE-RSA-AES128-SHA")
            ctx.options |= 0x80000  # SSL_OP_NO_ENCRYPT_THEN_MAC: MAC-then-encrypt
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx
def connect(cbc):
    c = http.client.HTTPSConnection(host, 8443, timeout=10, context=context(cbc))
    c.connect()
    return c
c = connect(True)
statuses = []
for path in ("/v1/ok", "/v1/limited", "/v1/ok"):
    c.request("GET", path, headers={"Host": "api.lab.test"})
    r = c.getresponse()
    r.read()
    statuses.append(r.status)
c.close()
if statuses != [200, 429, 200]:
    sys.exit(f"keep-alive statuses {statuses}")
c = connect(False)
c.request("GET", "/v1/ok", headers={"Host": "api.lab.test"})
r = c.getresponse()
r.read()
time.sleep(2.0)  # the server closes the idle connection after 1 s
try:
    c.request("GET", "/v1/ok", headers={"Host": "api.lab.test"})
    r = c.getresponse()
    sys.exit(f"the stale connection answered {r.status}")
except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ssl.SSLError) as e:
    print(f"stale keep-alive: {e!r}")
time.sleep(0.3)
c.close()
PY
  capture_stop 0.5
  check_and_expect "$v" "$name"
}

# stream_of URI_PART — the tcp.stream of the single request whose URI contains URI_PART.
stream_of() {
  local s
  s=$(tsh "$cap" -Y "http.request.uri contains \"$1\"" -T fields -e tcp.stream | sort -u)
  [ "$(printf '%s\n' "$s" | grep -c .)" -eq 1 ] || die "expected one stream for $1, got '$s'"
  echo "$s"
}
req_frame() { first_frame "$cap" "tcp.stream == $1 && http.request.uri contains \"$2\""; }
# The server's first decrypted application-data record on a stream: the response's first segment.
resp_first() {
  local f
  f=$(app_from "$cap" "tcp.stream == $1 && tcp.srcport == $p" | head -n1)
  [ -n "$f" ] || die "no decrypted response data on stream $1"
  echo "$f"
}

check_and_expect() {
  local v=$1 name=$2 s rq rs fin rst pair uri code status want_ver
  keys_check "$cap"
  [ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 11 ] || die "expected 11 TCP streams"
  if [ "$v" = 12 ]; then
    must_not "$cap" "tls.handshake.type == 2 && tls.handshake.extensions.supported_version == 0x0304" "a TLS 1.3 ServerHello"
    for suite in 0xc02f 0xcca8 0xc027 0xc030 0x002f 0xc028 0xc013; do
      must "$cap" "tls.handshake.type == 2 && tls.handshake.ciphersuite == $suite" "suite $suite"
    done
    # encrypt_then_mac (extension 22) everywhere but on the Python CBC connection.
    s=$(stream_of "/v1/limited")
    must "$cap" "tcp.stream == $s && tls.handshake.type == 2 && tls.handshake.ciphersuite == 0xc013 && !(tls.handshake.extension.type == 22)" "MAC-then-encrypt on the Python CBC connection"
    must "$cap" "tls.handshake.type == 2 && tls.handshake.ciphersuite == 0xc027 && tls.handshake.extension.type == 22" "encrypt_then_mac on a curl CBC connection"
  else
    [ "$(count "$cap" "tls.handshake.type == 2 && tls.handshake.extensions.supported_version == 0x0304")" -eq 11 ] ||
      die "expected 11 TLS 1.3 ServerHellos"
    for suite in 0x1301 0x1302 0x1303; do
      must "$cap" "tls.handshake.type == 2 && tls.handshake.ciphersuite == $suite" "suite $suite"
    done
  fi
  expect_begin "$(
    printf 'http-api over TLS 1.%s (lab/servers/api.py with TLS on :8443, lab-CA certificate verified, keys logged by the clients): ' "${v#1}"
    printf 'curl over IPv4 with one cipher suite per call gets 401 Bearer invalid_token, 403, 404, 503 Retry-After, a Content-Length body cut short by the server'"'"'s FIN, a chunked body without its last chunk, a 2.5 s first byte, a request answered by a bare FIN, and a healthy 200; '
    printf 'Python http.client over IPv6 gets 200, 429, 200 on one keep-alive connection, then reuses a connection the server closed after 1 s idle and gets RST'
  )"
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
  # Truncated: the response's first record and the server's FIN (no close_notify before it).
  for uri in /v1/truncated /v1/chunked-cut; do
    s=$(stream_of "$uri")
    rs=$(resp_first "$s")
    fin=$(first_frame "$cap" "tcp.stream == $s && tcp.srcport == $p && tcp.flags.fin == 1")
    [ "$fin" -ge "$rs" ] || die "$uri: the server's FIN is before its answer"
    must_not "$cap" "tcp.stream == $s && tcp.dstport == $p && (tcp.flags.fin == 1 || tcp.flags.reset == 1) && frame.number < $fin" "$uri: the client closing first"
    must_not "$cap" "tcp.stream == $s && tcp.srcport == $p && tls.record.content_type == 21" "$uri: an alert from the server"
    expect_finding server.truncated_response "$s" "$rs" "$fin"
  done
  s=$(stream_of /v1/truncated)
  # (the body never completes: without body reassembly tshark shows the response head)
  [ -n "$(tsh "$cap" -o http.desegment_body:FALSE -Y "tcp.stream == $s && http.content_length == 4000" -T fields -e frame.number)" ] ||
    die "the capture does not show the declared length 4000"
  local sent
  sent=$(tsh "$cap" -Y "tcp.stream == $s && tcp.srcport == $p && tls.record.content_type == 23" -T fields -E occurrence=a -E aggregator=+ -e tls.record.length | paste -sd+ | bc)
  [ "$sent" -lt 4000 ] || die "the truncated response carried $sent bytes"
  # Slow: the request and the first response record, at least 2 s apart.
  s=$(stream_of /v1/slow)
  rq=$(req_frame "$s" /v1/slow)
  rs=$(resp_first "$s")
  local t1 t2
  t1=$(field "$cap" "frame.number == $rq" frame.time_epoch)
  t2=$(field "$cap" "frame.number == $rs" frame.time_epoch)
  awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b - a >= 2.0) }' || die "the slow answer came after only $t1 -> $t2"
  expect_finding server.slow_response "$s" "$rq" "$rs"
  # Closed without a response: the request and the server's FIN, no application data from it.
  s=$(stream_of /v1/crash)
  rq=$(req_frame "$s" /v1/crash)
  fin=$(first_frame "$cap" "tcp.stream == $s && tcp.srcport == $p && tcp.flags.fin == 1")
  must_not "$cap" "tcp.stream == $s && tcp.srcport == $p && tls.record.content_type == 23" "a response record on /v1/crash"
  [ "$fin" -gt "$rq" ] || die "/v1/crash: the FIN is not after the request"
  expect_finding server.closed_without_response "$s" "$rq" "$fin"
  # Stale keep-alive: the server's FIN, the client's request after it, the server's RST.
  s=$(tsh "$cap" -Y "ipv6 && tcp.srcport == $p && tcp.flags.reset == 1" -T fields -e tcp.stream | sort -u)
  [ "$(printf '%s\n' "$s" | grep -c .)" -eq 1 ] || die "expected one reset stream over IPv6, got '$s'"
  fin=$(first_frame "$cap" "tcp.stream == $s && tcp.srcport == $p && tcp.flags.fin == 1")
  rq=$(first_frame "$cap" "tcp.stream == $s && tcp.dstport == $p && http.request && frame.number > $fin")
  rst=$(first_frame "$cap" "tcp.stream == $s && tcp.srcport == $p && tcp.flags.reset == 1")
  [ "$rst" -gt "$rq" ] || die "the RST ($rst) does not follow the stale request ($rq)"
  [ "$(count "$cap" "tcp.stream == $s && http.response.code == 200")" -eq 1 ] || die "expected one answered request before the idle close"
  expect_finding client.stale_keepalive_reuse "$s" "$fin" "$rq" "$rst"
  for s in $(tsh "$cap" -Y "tls.handshake.type == 1" -T fields -e tcp.stream); do decrypted "$cap" "$s"; done
  if [ "$v" = 12 ]; then
    publish "$cap" "$name"
    publish_keys "$name"
  else
    publish_dsb "$cap" "$name"
  fi
  expect_write "$name"
}

one_version 12
one_version 13
