#!/usr/bin/env bash
# reset-after-request, no-response and client-aborted over TLS, twice: TLS 1.2 and TLS 1.3.
# lab/servers/misbehave.py with TLS (lab-CA RSA certificate, verified by every client) reads
# each request decrypted, then:
#   :8443 reset    closes with SO_LINGER {1,0}: RST, no response  <- curl IPv4, Python IPv6
#   :8444 silent   never answers                                  <- curl --max-time 5 IPv4,
#                  openssl s_client -keylogfile IPv6 (its stdin closes after 4 s: close_notify, FIN)
#   :8445 trickle  headers (Content-Length 1000000), 1000 bytes, then 4 bytes/s
#                                                                 <- curl --max-time 3 IPv4
# Suites: TLS 1.2 ECDHE-RSA-CHACHA20-POLY1305, ECDHE-RSA-AES256-SHA384 (CBC, Python),
# ECDHE-RSA-AES128-GCM-SHA256, AES256-SHA256 (CBC, s_client), ECDHE-RSA-AES128-SHA (CBC);
# TLS 1.3 TLS_CHACHA20_POLY1305_SHA256, TLS_AES_256_GCM_SHA384 (Python), TLS_AES_128_GCM_SHA256.
# Makes captures/https-misbehave-tls12.pcap (tcpdump) and https-misbehave-tls13.pcapng (dumpcap),
# each with its key log beside it (.keys).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/tls-certs.sh
source "$lab_dir/tls-certs.sh"
# shellcheck source=lab/https-lib.sh
source "$lab_dir/https-lib.sh"

topo_up fl-hsbad 20
pki=$LAB_TMP/pki
https_pki "$pki"
port=8443
for mode in reset silent trickle; do
  start_bg "$TOPO_S" "$LAB_TMP/$mode.log" python3 "$lab_dir/servers/misbehave.py" "$mode" :: "$port" 240 "$pki/api.pem" "$pki/api.key"
  wait_listen "$TOPO_S" "$port"
  port=$((port + 1))
done

one_version() {
  local v=$1 name kind pins suites s1 s2 s3 rc out
  keys_reset
  if [ "$v" = 12 ]; then
    name=https-misbehave-tls12.pcap kind=pcap
    pins=(--tlsv1.2 --tls-max 1.2) suites=(--ciphers)
    s1=ECDHE-RSA-CHACHA20-POLY1305 s2=ECDHE-RSA-AES128-GCM-SHA256 s3=ECDHE-RSA-AES128-SHA
  else
    name=https-misbehave-tls13.pcapng kind=pcapng
    pins=(--tlsv1.3) suites=(--tls13-ciphers)
    s1=TLS_CHACHA20_POLY1305_SHA256 s2=TLS_AES_128_GCM_SHA256 s3=TLS_AES_128_GCM_SHA256
  fi
  cap="$LAB_TMP/$name"
  capture_start "$cap" "$kind" "tcp or icmp or icmp6"
  tcurl() { # tcurl PORT SUITE ARGS... — a verified curl call over TLS; prints curl's exit code
    local port=$1 suite=$2
    shift 2
    ccurl --cacert "$pki/ca.pem" --resolve "api.lab.test:$port:$SERVER4" "${pins[@]}" \
      "${suites[@]}" "$suite" "$@"
  }
  rc=$(tcurl 8443 "$s1" https://api.lab.test:8443/api/orders)
  [ "$rc" = 56 ] || die "expected curl exit 56 (connection reset) from :8443, got $rc"
  out=$(in_c timeout 15 python3 - "$SERVER6" "$pki/ca.pem" "$KEYLOG" "$v" <<'PY'
import http.client, ssl, sys
host, ca, keylog, v = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
ctx.keylog_filename = keylog
if v == "12":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-RSA-AES256-SHA384")
else:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
c = http.client.HTTPSConnection(host, 8443, timeout=5, context=ctx)
try:
    c.request("GET", "/api/orders", headers={"Host": "api.lab.test"})
    r = c.getresponse()
    print("response", r.status)
except (ConnectionResetError, http.client.RemoteDisconnected, ssl.SSLError) as e:
    print("reset", repr(e))
finally:
    c.close()
PY
  ) || die "python to :8443 failed: $out"
  case $out in reset*) ;; *) die "expected a reset for Python, got: $out" ;; esac
  rc=$(CURL_MAX_TIME=5 tcurl 8444 "$s2" https://api.lab.test:8444/api/report)
  [ "$rc" = 28 ] || die "expected curl exit 28 (timeout) from :8444, got $rc"
  local sv=(-tls1_2 -cipher AES256-SHA256)
  [ "$v" = 13 ] && sv=(-tls1_3)
  { printf 'GET /api/report HTTP/1.1\r\nHost: api.lab.test\r\nAccept: application/json\r\n\r\n'; sleep 4; } |
    in_c timeout 15 openssl s_client -connect "[$SERVER6]:8444" -servername api.lab.test \
      -CAfile "$pki/ca.pem" -verify_return_error -keylogfile "$KEYLOG" "${sv[@]}" -no_ign_eof \
      >"$LAB_TMP/s_client.out" 2>>"$LAB_TMP/s_client.err" || die "s_client to :8444 failed"
  rc=$(CURL_MAX_TIME=3 tcurl 8445 "$s3" https://api.lab.test:8445/api/export.bin)
  [ "$rc" = 28 ] || die "expected curl exit 28 (timeout) from :8445, got $rc"
  sleep 1.5 # let the server's next trickle chunk meet the closed socket
  capture_stop 0.5
  check_and_expect "$v" "$name"
}

check_and_expect() {
  local v=$1 name=$2 stream s data rst close resp f ip
  keys_check "$cap"
  [ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 5 ] || die "expected 5 TCP streams"
  if [ "$v" = 12 ]; then
    must_not "$cap" "tls.handshake.type == 2 && tls.handshake.extensions.supported_version == 0x0304" "a TLS 1.3 ServerHello"
    for suite in 0xcca8 0xc028 0xc02f 0x003d 0xc013; do must "$cap" "tls.handshake.type == 2 && tls.handshake.ciphersuite == $suite" "suite $suite"; done
  else
    [ "$(count "$cap" "tls.handshake.type == 2 && tls.handshake.extensions.supported_version == 0x0304")" -eq 5 ] ||
      die "expected 5 TLS 1.3 ServerHellos"
    for suite in 0x1301 0x1302 0x1303; do must "$cap" "tls.handshake.type == 2 && tls.handshake.ciphersuite == $suite" "suite $suite"; done
  fi
  for s in $(tsh "$cap" -Y "tls.handshake.type == 1" -T fields -e tcp.stream); do decrypted "$cap" "$s"; done
  expect_begin "reset-after-request, no-response and client-aborted over TLS 1.${v#1} (lab/servers/misbehave.py with TLS, lab-CA certificate verified, keys logged by the clients): GET /api/orders to a server that reads the request and closes with SO_LINGER {1,0} (curl IPv4, Python IPv6); GET /api/report to a server that never answers (curl --max-time 5 IPv4, openssl s_client -keylogfile IPv6 whose stdin closes after 4 s); GET /api/export.bin from a server that trickles 4 bytes/s after 1000 body bytes (curl --max-time 3 gives up)"
  # Reset after the request: the decrypted request and the server's RST, no response record.
  for stream in $(tsh "$cap" -Y "tcp.dstport == 8443 && tcp.flags.syn == 1 && tcp.flags.ack == 0" -T fields -e tcp.stream); do
    s="tcp.stream == $stream"
    data=$(first_frame "$cap" "$s && http.request")
    rst=$(first_frame "$cap" "$s && tcp.srcport == 8443 && tcp.flags.reset == 1")
    must_not "$cap" "$s && tcp.srcport == 8443 && tls.record.content_type == 23" "a response record from the server (stream $stream)"
    must_not "$cap" "$s && tcp.dstport == 8443 && (tcp.flags.reset == 1 || tcp.flags.fin == 1) && frame.number < $rst" \
      "the client closing before the server's RST (stream $stream)"
    [ "$rst" -gt "$data" ] || die "the RST ($rst) is not after the request ($data)"
    expect_finding server.reset_after_request "$stream" "$data" "$rst"
  done
  # No response: the decrypted request, the server's stack ACKing it, nothing more from the
  # server (no record after the handshake's, no FIN, no RST); the client's FIN or RST.
  for stream in $(tsh "$cap" -Y "tcp.dstport == 8444 && tcp.flags.syn == 1 && tcp.flags.ack == 0" -T fields -e tcp.stream); do
    s="tcp.stream == $stream && tcp.port == 8444"
    data=$(first_frame "$cap" "$s && http.request")
    must "$cap" "$s && tcp.srcport == 8444 && tcp.ack > 1 && frame.number > $data" "the server's stack ACKing the request (stream $stream)"
    must_not "$cap" "$s && tcp.srcport == 8444 && (tls.record.content_type == 23 || tls.record.content_type == 21 || tcp.flags.fin == 1 || tcp.flags.reset == 1)" \
      "any response record, alert, FIN or RST from the server (stream $stream)"
    close=$(first_frame "$cap" "$s && tcp.dstport == 8444 && (tcp.flags.fin == 1 || tcp.flags.reset == 1) && frame.number > $data")
    log "stream $stream: request frame $data, client closes at frame $close"
    expect_finding server.no_response "$stream" "$data" "$close"
  done
  # Client aborted: request, the response's first record, the client's close before the server's.
  stream=$(tsh "$cap" -Y "tcp.dstport == 8445 && tcp.flags.syn == 1 && tcp.flags.ack == 0" -T fields -e tcp.stream)
  s="tcp.stream == $stream"
  data=$(first_frame "$cap" "$s && http.request")
  resp=$(app_from "$cap" "$s && tcp.srcport == 8445" | head -n1)
  [ -n "$resp" ] || die "no decrypted response data on stream $stream"
  [ -n "$(tsh "$cap" -o http.desegment_body:FALSE -Y "$s && http.response.code == 200 && http.content_length == 1000000" -T fields -e frame.number)" ] ||
    die "the capture does not show the 200 announcing 1000000 bytes"
  close=$(first_frame "$cap" "$s && tcp.dstport == 8445 && (tcp.flags.fin == 1 || tcp.flags.reset == 1)")
  must_not "$cap" "$s && tcp.srcport == 8445 && (tcp.flags.fin == 1 || tcp.flags.reset == 1) && frame.number < $close" "the server closing first"
  [ "$resp" -lt "$close" ] || die "the client closed ($close) before any response record ($resp)"
  expect_finding client.aborted "$stream" "$data" "$resp" "$close"
  publish "$cap" "$name"
  publish_keys "$name"
  expect_write "$name"
}

one_version 12
one_version 13
