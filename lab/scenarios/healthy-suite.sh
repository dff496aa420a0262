#!/usr/bin/env bash
# The healthy suite: 300+ calls that all succeed, across clients, servers, TLS versions and
# connection patterns. Every finding faultline gives on these captures is a false one, so the
# expected findings are [] (issue 14: "a healthy suite of at least 300 calls ... zero findings").
# Path: 20 ms each way (RTT ~40 ms: with 10 ms, a client's 40 ms delayed ACK of an idle close
# outlasts the server's tail loss probe, which then retransmits the FIN: healthy, but a
# retransmission). Certificates from a lab CA (lab/tls-certs.sh) that every
# client verifies (name api.lab.test and the server's IP addresses), so no call is unverified.
# nginx (one server, :80 and :443, IPv4 and IPv6): TLS 1.2 + 1.3, keepalive_timeout 2s, a shared
# session cache (resumption), gzip for clients that ask (chunked responses), POST /api/* proxied
# to a loopback server block, `return 204` at /empty, static files with ETags (304), a 3 MB and a
# 2 MB file; :8443 h2 over TLS and :8081 h2c (prior knowledge). lab/servers/http10.py: Python's
# ThreadingHTTPServer on :8080, HTTP/1.0, the server closes after each response. dnsmasq for
# lab.test (api.lab.test A+AAAA, v4only.lab.test A only).
#
# captures/healthy-suite-https.pcapng (dumpcap on c0), nginx :443 only:
#   - curl, one connection per call, 60 sequential calls: GET/POST/HEAD in turn, IPv4/IPv6 and
#     TLS 1.2 (--tls-max 1.2) / TLS 1.3 (--tlsv1.3) alternating, a 0.3-0.6 s pause every 7 calls
#   - curl keep-alive: 8 invocations with 5 URLs each (several requests per connection), GET and
#     POST; TLS 1.2 and 1.3; v4 and v6
#   - curl TLS session resumption: 4 invocations x 4 URLs with "Connection: close" (the server
#     closes each; curl's next connection resumes the session: TLS 1.2 and 1.3, v4 and v6)
#   - curl 2 MB download over TLS 1.3, IPv6
#   - Python http.client pool (lab/servers/pool_client.py): 8 threads, v4/v6; each does 3 calls,
#     idles until nginx closes the connection (keepalive_timeout 2 s: close_notify + FIN), sees it
#     closed and closes it (RST from its kernel: close_notify unread), reconnects, 4 calls, and
#     closes while idle (client FIN first): 56 calls
#   - openssl s_client: -quiet with "Connection: close" (server closes; TLS 1.2 v4, TLS 1.3 v6);
#     -ign_eof with a keep-alive request (nginx closes it after 2 s idle; TLS 1.2, 1.3); stdin
#     closing 0.5 s after the request (s_client sends close_notify and exits: TLS 1.2, 1.3);
#     -sess_out then -sess_in (a resumed session; TLS 1.2 and 1.3): 10 calls
#   - gnutls-cli --logfile: stdin closing after the answer (TLS 1.3 v4, TLS 1.2 v6), a
#     "Connection: close" request (server closes), and --resume twice: a first connection that
#     only handshakes and closes with close_notify, then a second that makes the call. In TLS 1.2
#     the second resumes the session; in TLS 1.3 the first closes right after its Finished, its
#     kernel answers nginx's session tickets with RST, and the second, with no ticket, does a full
#     handshake: 5 calls
# captures/healthy-suite-http.pcap (tcpdump on c0): plain HTTP and DNS
#   - curl, one connection per call, 30 sequential calls: GET/POST/HEAD, v4/v6, pauses
#   - curl keep-alive: 6 invocations x 5 URLs (GET, POST), v4 and v6
#   - chunked: 2 curl --compressed invocations x 3 URLs (nginx gzip: Transfer-Encoding chunked)
#   - 204: 2 invocations x 2 URLs; 304: curl --etag-save then --etag-compare (v4, v6): 4 calls
#   - a 3 MB download (v4)
#   - DNS through dnsmasq (resolv.conf in the client namespace): curl http://api.lab.test/ (A and
#     AAAA answered, the call goes over IPv6), curl http://v4only.lab.test/ (A answered, AAAA
#     NODATA: normal for an A-only name), dig A and AAAA api.lab.test
#   - Python http.client pool over plain HTTP: 6 threads, same pattern as above: 42 calls
#   - Python's http.server (HTTP/1.0, server closes each connection): 20 urllib calls (GET and
#     POST, v4/v6) and 10 curl calls
# captures/healthy-suite-h2.pcapng (dumpcap on c0): HTTP/2
#   - curl --http2 over TLS (ALPN h2): 4 one-call connections (v4/v6), 2 with 4 requests each
#   - h2c with prior knowledge to :8081: curl, 2 one-call connections; nghttp, 4 streams on one
# Every call is checked by its client (curl exit code and status, Python status, s_client /
# gnutls-cli answer) and then by tshark (lab/healthy_check.py, decrypting with the clients'
# SSLKEYLOGFILE, which is not published): every request answered 2xx/3xx, no RST except after
# a FIN (a normal close), no retransmission, no ICMP error, no DNS error; nginx's access log has
# only 2xx/3xx.
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/dns.sh
source "$lab_dir/dns.sh"
# shellcheck source=lab/tls-certs.sh
source "$lab_dir/tls-certs.sh"
require_cmds nginx openssl gnutls-cli dnsmasq dig nghttp
trap 'dns_cleanup; lab_exit' EXIT

topo_up fl-hsuite 20
start_dnsmasq "$LAB_TMP/dnsmasq.log"
client_resolv_conf "nameserver $SERVER4" "options timeout:2 attempts:2"

pki=$LAB_TMP/pki
tls_ca "$pki" ca
tls_leaf "$pki" api ca "DNS:api.lab.test,IP:$SERVER4,IP:$SERVER6" 20240101000000Z 20991231000000Z
CA=$pki/ca.pem
KEYLOG=$LAB_TMP/keys.log
export SSLKEYLOGFILE=$KEYLOG

ngx=$LAB_TMP/nginx
mkdir -p "$ngx/www" "$ngx/logs" "$ngx/tmp"
cat >"$ngx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $ngx/nginx.pid;
error_log $ngx/logs/error.log warn;
events { worker_connections 4096; }
http {
  default_type application/octet-stream;
  types { application/json json; }
  client_body_temp_path $ngx/tmp/body;
  proxy_temp_path $ngx/tmp/proxy;
  fastcgi_temp_path $ngx/tmp/fastcgi;
  uwsgi_temp_path $ngx/tmp/uwsgi;
  scgi_temp_path $ngx/tmp/scgi;
  server_tokens off;
  log_format calls '\$server_port \$status "\$request" \$server_protocol';
  access_log $ngx/logs/access.log calls;
  keepalive_timeout 2s;
  keepalive_requests 1000;
  ssl_certificate $pki/api.pem;
  ssl_certificate_key $pki/api.key;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:1m;
  ssl_session_timeout 10m;
  gzip on;
  gzip_types application/json;
  gzip_min_length 0;
  server {
    listen 80; listen [::]:80;
    listen 443 ssl; listen [::]:443 ssl;
    server_name api.lab.test v4only.lab.test;
    root $ngx/www;
    location /api/ { proxy_pass http://127.0.0.1:8099; }
    location = /empty { return 204; }
  }
  server {
    listen 8443 ssl http2; listen [::]:8443 ssl http2;
    listen 8081 http2; listen [::]:8081 http2;
    root $ngx/www;
  }
  server {
    listen 127.0.0.1:8099;
    default_type application/json;
    location / { return 200 '{"ok":true}\n'; }
  }
}
EOF
printf '{"status":"ok"}\n' >"$ngx/www/status.json"
python3 -c 'import json; print(json.dumps({"items": [{"id": i, "name": "item %d" % i} for i in range(300)]}))' \
  >"$ngx/www/items.json"
head -c 3000000 /dev/urandom >"$ngx/www/big.bin"
head -c 2000000 /dev/urandom >"$ngx/www/big2.bin"
chmod -R a+rX "$LAB_TMP"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 443
wait_listen "$TOPO_S" 8081
start_bg "$TOPO_S" "$LAB_TMP/http10.log" python3 "$lab_dir/servers/http10.py" 8080 200
wait_listen "$TOPO_S" 8080

H4=$SERVER4 H6="[$SERVER6]"
CALLS=0
# cw ARGS... — curl in the client namespace, verifying the lab CA; every transfer's status must
# be 2xx/3xx and curl must exit 0; adds the transfers to CALLS.
cw() {
  local out rc=0 codes n
  out=$(in_c curl --silent --show-error --max-time 20 --cacert "$CA" -w '\n##%{http_code}##\n' "$@" \
    2>>"$LAB_TMP/curl.err") || rc=$?
  [ "$rc" = 0 ] || die "curl $* failed (exit $rc): $(tail -n2 "$LAB_TMP/curl.err")"
  codes=$(grep -ao '##[0-9]*##' <<<"$out" | tr -d '#')
  n=$(wc -l <<<"$codes")
  grep -qv '^[23][0-9][0-9]$' <<<"$codes" && die "curl $*: statuses $(echo $codes)"
  CALLS=$((CALLS + n))
}
REQ='GET /status.json HTTP/1.1\r\nHost: api.lab.test\r\nUser-Agent: %s\r\n'
# (User-Agent: the tool and its mode, so each connection can be told apart in the capture.)
# sc MODE ARGS... — openssl s_client in the client namespace; MODE: close (a
# "Connection: close" request, -quiet: s_client waits for the server's close), idle (keep-alive
# request, -ign_eof: nginx closes after keepalive_timeout), stdin (keep-alive request, stdin
# closes 0.5 s later: s_client sends close_notify). The answer must be HTTP 200.
sc() {
  local mode=$1 out
  shift
  case $mode in
    close) out=$( (printf "${REQ}Connection: close\r\n\r\n" "s_client-$mode") | in_c timeout 10 openssl s_client -quiet \
      -CAfile "$CA" -verify_return_error -keylogfile "$KEYLOG" -servername api.lab.test "$@" 2>>"$LAB_TMP/s_client.err") ;;
    idle) out=$( (printf "${REQ}\r\n" "s_client-$mode") | in_c timeout 10 openssl s_client -ign_eof \
      -CAfile "$CA" -verify_return_error -keylogfile "$KEYLOG" -servername api.lab.test "$@" 2>>"$LAB_TMP/s_client.err") ;;
    stdin) out=$( (printf "${REQ}\r\n" "s_client-$mode"; sleep 0.5) | in_c timeout 10 openssl s_client \
      -CAfile "$CA" -verify_return_error -keylogfile "$KEYLOG" -servername api.lab.test "$@" 2>>"$LAB_TMP/s_client.err") ;;
  esac
  grep -q '^HTTP/1.1 200' <<<"$out" || die "s_client $mode $* got no 200"
  CALLS=$((CALLS + 1))
}
# gc MODE ARGS... — gnutls-cli in the client namespace (the lab CA, --logfile for its chatter);
# MODE stdin: keep-alive request, stdin closes 0.7 s later (gnutls-cli sends close_notify);
# close: a "Connection: close" request, stdin open until the server has closed.
gc() {
  local mode=$1 out
  shift
  case $mode in
    stdin) out=$( (printf "${REQ}\r\n" "gnutls-cli-$mode"; sleep 0.7) | in_c timeout 10 gnutls-cli --x509cafile "$CA" \
      --logfile "$LAB_TMP/gnutls.log" "$@" 2>>"$LAB_TMP/gnutls.err") ;;
    close) out=$( (printf "${REQ}Connection: close\r\n\r\n" "gnutls-cli-$mode"; sleep 1) | in_c timeout 10 gnutls-cli \
      --x509cafile "$CA" --logfile "$LAB_TMP/gnutls.log" "$@" 2>>"$LAB_TMP/gnutls.err") ;;
  esac
  grep -q '^HTTP/1.1 200' <<<"$out" || die "gnutls-cli $mode $* got no 200"
  CALLS=$((CALLS + 1))
}

# ---------------------------------------------------------------- HTTPS
cap_https=$LAB_TMP/healthy-suite-https.pcapng
capture_start "$cap_https" pcapng "tcp port 443 or icmp or icmp6"
# The Python pool runs in the background (its idle periods overlap the curl calls).
in_c timeout 40 python3 "$lab_dir/servers/pool_client.py" https 443 8 "$CA" "$SERVER4" "$SERVER6" \
  >"$LAB_TMP/pool-https.out" 2>"$LAB_TMP/pool-https.err" &
pool_pid=$!
LAB_PIDS+=("$pool_pid")
methods=(GET POST HEAD)
for ((i = 0; i < 60; i++)); do
  if ((i % 2)); then h=$H6; else h=$H4; fi
  if (((i / 2) % 2)); then tls=(--tlsv1.2 --tls-max 1.2); else tls=(--tlsv1.3); fi
  case ${methods[i % 3]} in
    GET) cw "${tls[@]}" "https://$h/items.json" ;;
    POST) cw "${tls[@]}" -H 'Content-Type: application/json' -d "{\"n\":$i}" "https://$h/api/orders" ;;
    HEAD) cw "${tls[@]}" -I "https://$h/status.json" ;;
  esac
  ((i % 7 != 6)) || sleep "0.$((3 + i % 4))"
done
for ((i = 0; i < 8; i++)); do
  if ((i % 2)); then h=$H6; else h=$H4; fi
  if (((i / 2) % 2)); then tls=(--tlsv1.2 --tls-max 1.2); else tls=(--tlsv1.3); fi
  if ((i < 6)); then
    cw "${tls[@]}" "https://$h/status.json" "https://$h/items.json" "https://$h/status.json" \
      "https://$h/items.json" "https://$h/status.json"
  else
    cw "${tls[@]}" -d '{"batch":1}' -H 'Content-Type: application/json' "https://$h/api/a" \
      "https://$h/api/b" "https://$h/api/c" "https://$h/api/d" "https://$h/api/e"
  fi
  sleep 0.2
done
for tls in 1.2 1.3; do
  for h in "$H4" "$H6"; do
    if [ "$tls" = 1.2 ]; then t=(--tlsv1.2 --tls-max 1.2); else t=(--tlsv1.3); fi
    cw "${t[@]}" -H 'Connection: close' "https://$h/status.json" "https://$h/items.json" \
      "https://$h/status.json" "https://$h/items.json"
  done
done
cw --tlsv1.3 -o /dev/null "https://$H6/big2.bin"
sc close -tls1_2 -connect "$SERVER4:443"
sc close -tls1_3 -connect "[$SERVER6]:443"
sc idle -tls1_2 -connect "$SERVER4:443" >/dev/null &
idle1=$!
sc idle -tls1_3 -connect "[$SERVER6]:443" >/dev/null &
idle2=$!
sc stdin -tls1_2 -connect "[$SERVER6]:443"
sc stdin -tls1_3 -connect "$SERVER4:443"
sc stdin -tls1_2 -connect "$SERVER4:443" -sess_out "$LAB_TMP/s12.sess"
sc stdin -tls1_2 -connect "$SERVER4:443" -sess_in "$LAB_TMP/s12.sess"
sc stdin -tls1_3 -connect "[$SERVER6]:443" -sess_out "$LAB_TMP/s13.sess"
sc stdin -tls1_3 -connect "[$SERVER6]:443" -sess_in "$LAB_TMP/s13.sess"
wait "$idle1" || die "s_client -ign_eof (TLS 1.2) failed"
wait "$idle2" || die "s_client -ign_eof (TLS 1.3) failed"
CALLS=$((CALLS + 2))
gc stdin -p 443 "$SERVER4" --verify-hostname api.lab.test
gc stdin -p 443 "$SERVER6" --verify-hostname api.lab.test --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2'
gc close -p 443 "$SERVER4" --verify-hostname api.lab.test --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2'
gc stdin -p 443 "$SERVER4" --verify-hostname api.lab.test --resume
gc stdin -p 443 "$SERVER6" --verify-hostname api.lab.test --resume --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2'
wait "$pool_pid" || die "Python https pool failed: $(cat "$LAB_TMP/pool-https.err")"
CALLS=$((CALLS + $(cat "$LAB_TMP/pool-https.out")))
CALLS_HTTPS=$CALLS
capture_stop 2.5

# ---------------------------------------------------------------- HTTP and DNS
CALLS=0
cap_http=$LAB_TMP/healthy-suite-http.pcap
capture_start "$cap_http" pcap "tcp port 80 or tcp port 8080 or port 53 or icmp or icmp6"
in_c timeout 40 python3 "$lab_dir/servers/pool_client.py" http 80 6 "$CA" "$SERVER4" "$SERVER6" \
  >"$LAB_TMP/pool-http.out" 2>"$LAB_TMP/pool-http.err" &
pool_pid=$!
LAB_PIDS+=("$pool_pid")
for ((i = 0; i < 30; i++)); do
  if ((i % 2)); then h=$H6; else h=$H4; fi
  case ${methods[i % 3]} in
    GET) cw "http://$h/items.json" ;;
    POST) cw -H 'Content-Type: application/json' -d "{\"n\":$i}" "http://$h/api/orders" ;;
    HEAD) cw -I "http://$h/status.json" ;;
  esac
  ((i % 7 != 6)) || sleep "0.$((2 + i % 5))"
done
for ((i = 0; i < 6; i++)); do
  if ((i % 2)); then h=$H6; else h=$H4; fi
  if ((i < 4)); then
    cw "http://$h/status.json" "http://$h/items.json" "http://$h/status.json" "http://$h/items.json" \
      "http://$h/status.json"
  else
    cw -d '{"batch":2}' -H 'Content-Type: application/json' "http://$h/api/a" "http://$h/api/b" \
      "http://$h/api/c" "http://$h/api/d" "http://$h/api/e"
  fi
done
cw --compressed "http://$H4/items.json" "http://$H4/status.json" "http://$H4/items.json"
cw --compressed "http://$H6/items.json" "http://$H6/items.json" "http://$H6/status.json"
cw "http://$H4/empty" "http://$H4/empty"
cw -X DELETE "http://$H6/empty" "http://$H6/empty"
for h in "$H4" "$H6"; do
  rm -f "$LAB_TMP/etag"
  cw --etag-save "$LAB_TMP/etag" -o /dev/null "http://$h/items.json"
  cw --etag-compare "$LAB_TMP/etag" -o /dev/null "http://$h/items.json"
done
cw -o /dev/null "http://$H4/big.bin"
cw "http://api.lab.test/status.json"
cw "http://v4only.lab.test/status.json"
[ "$(cdig @"$SERVER4" +time=2 +tries=1 api.lab.test A)" = NOERROR ] || die "dig A failed"
[ "$(cdig @"$SERVER6" +time=2 +tries=1 api.lab.test AAAA)" = NOERROR ] || die "dig AAAA failed"
in_c timeout 30 python3 - "$SERVER4" "$SERVER6" <<'PY' >"$LAB_TMP/urllib.out" || die "urllib calls failed"
import sys, time, urllib.request
n = 0
for i in range(20):
    host = sys.argv[1] if i % 2 == 0 else f"[{sys.argv[2]}]"
    data = b'{"x": %d}' % i if i % 4 == 3 else None
    with urllib.request.urlopen(f"http://{host}:8080/v1/thing/{i}", data=data, timeout=10) as r:
        r.read()
        assert r.status == 200, r.status
    n += 1
    if i % 5 == 4:
        time.sleep(0.3)
print(n)
PY
CALLS=$((CALLS + $(cat "$LAB_TMP/urllib.out")))
for ((i = 0; i < 10; i++)); do
  if ((i % 2)); then h=$H6; else h=$H4; fi
  if ((i % 3 == 2)); then cw -d "n=$i" "http://$h:8080/v1/form"; else cw "http://$h:8080/v1/item/$i"; fi
done
wait "$pool_pid" || die "Python http pool failed: $(cat "$LAB_TMP/pool-http.err")"
CALLS=$((CALLS + $(cat "$LAB_TMP/pool-http.out")))
CALLS_HTTP=$CALLS
capture_stop 2.5

# ---------------------------------------------------------------- HTTP/2
CALLS=0
cap_h2=$LAB_TMP/healthy-suite-h2.pcapng
capture_start "$cap_h2" pcapng "tcp port 8443 or tcp port 8081 or icmp or icmp6"
for h in "$H4" "$H6" "$H4" "$H6"; do cw --http2 "https://$h:8443/status.json"; done
cw --http2 "https://$H4:8443/status.json" "https://$H4:8443/items.json" "https://$H4:8443/status.json" \
  "https://$H4:8443/items.json"
cw --http2 --tlsv1.2 --tls-max 1.2 "https://$H6:8443/items.json" "https://$H6:8443/status.json" \
  "https://$H6:8443/items.json" "https://$H6:8443/status.json"
cw --http2-prior-knowledge "http://$H4:8081/status.json"
cw --http2-prior-knowledge "http://$H6:8081/items.json"
# Several h2c streams on one connection: nghttp (curl 7.88 stops with "Error in the HTTP2 framing
# layer" when it reuses an h2c prior-knowledge connection).
out=$(in_c timeout 10 nghttp -nv "http://$H4:8081/status.json" "http://$H4:8081/items.json" \
  "http://$H4:8081/status.json?2" "http://$H4:8081/items.json?2" 2>&1) || die "nghttp h2c failed"
[ "$(grep -ac 'recv (stream_id=[0-9]*) :status: 200' <<<"$out")" -eq 4 ] || die "nghttp: not 4 x 200: $(grep -a status <<<"$out")"
CALLS=$((CALLS + 4))
CALLS_H2=$CALLS
capture_stop 2.5

# ---------------------------------------------------------------- checks
# HEALTHY_DEBUG_DIR=DIR keeps the unchecked captures and the TLS key log there, to look into a
# failed check (the key log decrypts them: tshark -o tls.keylog_file:DIR/keys.log).
if [ -n "${HEALTHY_DEBUG_DIR:-}" ]; then
  mkdir -p "$HEALTHY_DEBUG_DIR"
  cp "$cap_https" "$cap_http" "$cap_h2" "$KEYLOG" "$HEALTHY_DEBUG_DIR/"
fi
grep -v '^[0-9]* [23][0-9][0-9] ' "$ngx/logs/access.log" >"$LAB_TMP/bad-status.log" || true
[ ! -s "$LAB_TMP/bad-status.log" ] || die "nginx logged failures: $(head -n5 "$LAB_TMP/bad-status.log")"
# check CAPTURE EXPECTED_CALLS [TSHARK_OPTION...] — tshark agrees: the calls and nothing wrong.
check() {
  local cap=$1 want=$2 out
  shift 2
  out=$(python3 "$lab_dir/healthy_check.py" "$cap" "$KEYLOG" "$@") ||
    die "$(basename "$cap"): the capture shows a failure (see above)"
  local got
  got=$(sed -n 's/^CALLS //p' <<<"$out")
  [ "$got" -eq "$want" ] || die "$(basename "$cap"): tshark sees $got calls, the clients made $want"
  log "$(basename "$cap"): $got calls in $(sed -n 's/^STREAMS //p' <<<"$out") connections, all healthy"
}
check "$cap_https" "$CALLS_HTTPS"
check "$cap_http" "$CALLS_HTTP"
check "$cap_h2" "$CALLS_H2" -d tcp.port==8081,http2
total=$((CALLS_HTTPS + CALLS_HTTP + CALLS_H2))
[ "$total" -ge 300 ] || die "only $total calls"
# What the suite claims to cover is in the packets.
must "$cap_https" "tls.handshake.type == 2 && tls.handshake.extensions.supported_version == 0x0304" "TLS 1.3"
must "$cap_https" "tls.handshake.type == 2 && !tls.handshake.extensions.supported_version" "TLS 1.2"
must "$cap_https" "tls.handshake.type == 2 && tls.handshake.extensions.supported_version == 0x0304 && tls.handshake.extension.type == 41" \
  "a resumed TLS 1.3 session (pre_shared_key in the ServerHello)"
must "$cap_https" "ipv6 && tls.handshake.type == 2" "TLS over IPv6"
# A resumed TLS 1.2 session: a TLS 1.2 ServerHello on a connection without a Certificate message.
resumed12=$(comm -23 \
  <(tsh "$cap_https" -Y "tls.handshake.type == 2 && !tls.handshake.extensions.supported_version" -T fields -e tcp.stream | sort -u) \
  <(tsh "$cap_https" -Y "tls.handshake.type == 11" -T fields -e tcp.stream | sort -u) | wc -l)
[ "$resumed12" -ge 8 ] || die "expected resumed TLS 1.2 sessions (curl x6, s_client, gnutls-cli), found $resumed12"
must "$cap_http" "http.transfer_encoding == \"chunked\"" "a chunked response"
must "$cap_http" "http.response.code == 204" "a 204"
must "$cap_http" "http.response.code == 304" "a 304"
must "$cap_http" "http.response.version == \"HTTP/1.0\"" "the HTTP/1.0 server"
must "$cap_http" "dns.flags.response == 1 && dns.qry.name == \"v4only.lab.test\" && dns.qry.type == 28 && dns.count.answers == 0" \
  "the AAAA NODATA for the A-only name"
must "$cap_http" "dns.flags.response == 1 && dns.qry.name == \"api.lab.test\" && dns.aaaa" "an AAAA answer"
log "healthy suite: $CALLS_HTTPS HTTPS + $CALLS_HTTP HTTP + $CALLS_H2 HTTP/2 = $total calls"

expect_begin "Healthy suite, HTTPS part ($CALLS_HTTPS calls, all 2xx/3xx, nginx :443 with a lab-CA certificate every client verifies, keepalive_timeout 2s): curl connection-per-call (60 sequential GET/POST/HEAD, TLS 1.2/1.3, IPv4/IPv6, pauses), curl keep-alive (8 connections x 5 requests), curl session resumption (4 x 4 connections with Connection: close), a 2 MB download (TLS 1.3, IPv6), a Python http.client pool (8 threads: 3 calls, idle until nginx closes it, pool closes it with close_notify unread so its kernel RSTs, reconnect, 4 calls, client closes), openssl s_client (-quiet with Connection: close, -ign_eof idled out by nginx, stdin closing, -sess_out/-sess_in resumption; TLS 1.2 and 1.3) and gnutls-cli (stdin closing, Connection: close, --resume in TLS 1.2 and 1.3, whose first connection only handshakes); no fault"
publish "$cap_https" healthy-suite-https.pcapng
expect_write healthy-suite-https.pcapng
expect_begin "Healthy suite, plain HTTP and DNS part ($CALLS_HTTP calls, all 2xx/3xx): nginx :80 (keepalive_timeout 2s) with curl connection-per-call (30 GET/POST/HEAD, IPv4/IPv6), keep-alive (6 x 5), chunked gzip responses, 204s, 304s (ETag), a 3 MB download; curl by name through dnsmasq (api.lab.test A+AAAA, v4only.lab.test whose AAAA is NODATA) and dig A/AAAA; a Python http.client pool (6 threads, idled out by nginx, then closed by the client); Python's ThreadingHTTPServer with HTTP/1.0 (server closes each connection) called by urllib (20) and curl (10); no fault"
publish "$cap_http" healthy-suite-http.pcap
expect_write healthy-suite-http.pcap
expect_begin "Healthy suite, HTTP/2 part ($CALLS_H2 calls, all 200): nginx h2 over TLS on :8443 (ALPN h2, TLS 1.3 and 1.2, one-call connections and 4 streams on one connection, IPv4/IPv6) and h2c with prior knowledge on :8081, curl; no fault: faultline must not call what it does not understand a failure"
publish "$cap_h2" healthy-suite-h2.pcapng
expect_write healthy-suite-h2.pcapng
