#!/usr/bin/env bash
# Servers refusing the client's handshake, and protocols crossed:
#   :443   nginx TLS 1.3 only; curl --tls-max 1.2 and Python ssl (maximum TLS 1.2) -> protocol_version
#   :8443  nginx TLS 1.2 with one ECDSA AES-256 suite; curl offering only AES-128 -> handshake_failure
#   :10443 nginx ssl_reject_handshake for names it does not serve; curl for wrong.lab.test -> unrecognized_name
#   :9443  openssl s_server -Verify 1 (client certificate required); curl TLS 1.2 (alert in clear)
#          and TLS 1.3 (the server's alert is encrypted) without a certificate
#   :443   curl http:// (plain HTTP to the TLS port) -> nginx's 400 "plain HTTP request was sent to HTTPS port"
#   :80    curl https:// (TLS to the plain port) -> nginx answers the ClientHello with an HTTP 400
# IPv4. Makes captures/tls-refused.pcapng (dumpcap on c0).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/tls-certs.sh
source "$lab_dir/tls-certs.sh"
require_cmds openssl nginx

topo_up fl-tlsref 20

pki=$LAB_TMP/pki
tls_ca "$pki" ca
tls_leaf "$pki" server ca "DNS:api.lab.test,IP:$SERVER4" 20240101000000Z 20360101000000Z

ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "80" "access_log off;
  ssl_certificate $pki/server.pem; ssl_certificate_key $pki/server.key;
  server { listen 443 ssl; ssl_protocols TLSv1.3; root $ngx/www; }
  server { listen 8443 ssl; ssl_protocols TLSv1.2; ssl_ciphers ECDHE-ECDSA-AES256-GCM-SHA384; root $ngx/www; }
  server { listen 10443 ssl default_server; ssl_reject_handshake on; }
  server { listen 10443 ssl; server_name api.lab.test; root $ngx/www; }"
printf '{"status":"ok"}\n' >"$ngx/www/status.json"
chmod -R a+rX "$LAB_TMP"
start_nginx "$TOPO_S" "$ngx"
start_bg "$TOPO_S" "$LAB_TMP/s_server.log" openssl s_server -accept 9443 -Verify 1 \
  -cert "$pki/server.pem" -key "$pki/server.key" -CAfile "$pki/ca.pem" -www
for port in 80 443 8443 9443 10443; do wait_listen "$TOPO_S" "$port"; done

cap="$LAB_TMP/tls-refused.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
ca=(--cacert "$pki/ca.pem")
url=https://api.lab.test
pin() { echo "api.lab.test:$1:$SERVER4"; }
[ "$(ccurl "${ca[@]}" --resolve "$(pin 443)" --tls-max 1.2 "$url/status.json")" = 35 ] ||
  die "curl TLS 1.2 to the TLS 1.3-only port did not fail"
in_c timeout 10 python3 - "$SERVER4" "$pki/ca.pem" <<'PY' || die "python did not fail as expected"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
try:
    with socket.create_connection((sys.argv[1], 443), timeout=5) as s:
        ctx.wrap_socket(s, server_hostname="api.lab.test")
    sys.exit("handshake succeeded")
except ssl.SSLError as e:
    print(e)
PY
[ "$(ccurl "${ca[@]}" --resolve "$(pin 8443)" --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256 "$url:8443/status.json")" = 35 ] ||
  die "curl with no shared cipher did not fail"
[ "$(ccurl "${ca[@]}" --resolve "wrong.lab.test:10443:$SERVER4" -k https://wrong.lab.test:10443/status.json)" = 35 ] ||
  die "curl with an unknown SNI did not fail"
[ "$(ccurl "${ca[@]}" --resolve "$(pin 9443)" --tls-max 1.2 "$url:9443/")" = 56 ] ||
  [ "$(tail -n1 "$LAB_TMP/curl.err" | grep -c 'alert')" = 1 ] || die "curl TLS 1.2 without a client certificate did not fail"
rc=$(ccurl "${ca[@]}" --resolve "$(pin 9443)" --tlsv1.3 "$url:9443/")
[ "$rc" != 0 ] || die "curl TLS 1.3 without a client certificate succeeded"
[ "$(in_c curl --silent --max-time 10 -o /dev/null -w '%{http_code}' "http://$SERVER4:443/status.json")" = 400 ] ||
  die "plain HTTP to the TLS port did not get a 400"
[ "$(ccurl -k "https://$SERVER4:80/status.json")" = 35 ] || die "TLS to the plain port did not fail"
capture_stop 0.5

# The packets must show it: 8 connections in the order made; the servers' alerts in clear
# (protocol_version twice, handshake_failure before any ServerHello, unrecognized_name, and
# handshake_failure after a CertificateRequest answered with an empty Certificate); in TLS 1.3
# the server's one alert-sized encrypted record and its FIN after the client's Finished; and
# the crossed protocols' answers: nginx's 400 page on the TLS port and an HTTP 400 to a
# ClientHello on port 80.
C="ip.src == $CLIENT4" S="ip.src == $SERVER4"
[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 8 ] || die "expected 8 TCP streams"
hello() { first_frame "$cap" "tcp.stream == $1 && tls.handshake.type == 1"; }
server_alert() { first_frame "$cap" "tcp.stream == $1 && $S && tls.alert_message.desc == $2"; }
for t in 0 1 2 3; do
  must_not "$cap" "tcp.stream == $t && tls.handshake.type == 2" "a ServerHello on stream $t"
done
expect_begin "Servers refusing handshakes: TLS 1.3-only nginx vs curl and Python ssl capped at TLS 1.2; no shared cipher; nginx ssl_reject_handshake for an unknown SNI; openssl s_server -Verify 1 vs curl without a certificate in TLS 1.2 and 1.3; plain HTTP to nginx's TLS port; TLS to its plain port; IPv4"
expect_finding tls.version_mismatch 0 "$(hello 0)" "$(server_alert 0 70)"
expect_finding tls.version_mismatch 1 "$(hello 1)" "$(server_alert 1 70)"
expect_finding tls.no_shared_cipher 2 "$(hello 2)" "$(server_alert 2 40)"
expect_finding tls.sni_rejected 3 "$(hello 3)" "$(server_alert 3 112)"
must "$cap" "tcp.stream == 4 && $C && tls.handshake.type == 11 && tls.handshake.certificates_length == 0" \
  "the client's empty Certificate"
expect_finding tls.client_certificate_required 4 \
  "$(first_frame "$cap" "tcp.stream == 4 && tls.handshake.type == 13")" \
  "$(first_frame "$cap" "tcp.stream == 4 && $C && tls.handshake.type == 11")" "$(server_alert 4 40)"
finished=$(last_frame "$cap" "tcp.stream == 5 && $C && tls.record.opaque_type == 23 && tls.record.length > 32")
alert=$(first_frame "$cap" "tcp.stream == 5 && $S && frame.number > $finished && tls.record.opaque_type == 23")
[ "$(field "$cap" "frame.number == $alert" tls.record.length)" -le 32 ] || die "the server's answer on stream 5 is not alert-sized"
must_not "$cap" "tcp.stream == 5 && $S && frame.number > $alert && tls.record.opaque_type == 23" "more server records on stream 5"
expect_finding tls.client_certificate_required 5 "$alert" \
  "$(first_frame "$cap" "tcp.stream == 5 && $S && tcp.flags.fin == 1")"
must "$cap" "tcp.stream == 6 && $S && tcp.payload contains \"plain HTTP request was sent to HTTPS port\"" "nginx's 400 page"
expect_finding client.protocol_mismatch 6 "$(first_frame "$cap" "tcp.stream == 6 && $C && tcp.len > 0")" \
  "$(first_frame "$cap" "tcp.stream == 6 && $S && tcp.len > 0")"
must "$cap" "tcp.stream == 7 && $S && tcp.payload contains \"HTTP/1.1 400\"" "an HTTP 400 to the ClientHello"
expect_finding client.protocol_mismatch 7 "$(first_frame "$cap" "tcp.stream == 7 && $C && tcp.len > 0")" \
  "$(first_frame "$cap" "tcp.stream == 7 && $S && tcp.len > 0")"
publish "$cap" tls-refused.pcapng
expect_write tls-refused.pcapng
