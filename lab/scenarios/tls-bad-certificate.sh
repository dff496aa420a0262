#!/usr/bin/env bash
# Clients refusing the server's certificate: nginx serves, on three ports, a certificate from
# the lab CA that expired in 2020 (:443), one from a CA the clients do not trust (:8443), and
# one for another name (:9443). The clients trust the lab CA and call https://api.lab.test.
# Per port, over IPv4: curl (OpenSSL) with TLS 1.2, curl with TLS 1.3 (OpenSSL verifies the
# certificate before it has handshake keys and sends its alert in clear), and gnutls-cli with
# TLS 1.3 (which encrypts its alert: only an alert-sized record and a close are visible).
# Makes captures/tls-bad-certificate.pcap (tcpdump on c0, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/tls-certs.sh
source "$lab_dir/tls-certs.sh"
require_cmds openssl nginx gnutls-cli

topo_up fl-tlscert 20

pki=$LAB_TMP/pki
tls_ca "$pki" ca
tls_ca "$pki" rogue
san="DNS:api.lab.test,IP:$SERVER4"
tls_leaf "$pki" expired ca "$san" 20190101000000Z 20200101000000Z
tls_leaf "$pki" untrusted rogue "$san" 20240101000000Z 20360101000000Z
tls_leaf "$pki" othername ca "DNS:other.lab.test" 20240101000000Z 20360101000000Z

ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "443 ssl" "access_log off;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate $pki/expired.pem; ssl_certificate_key $pki/expired.key;
  server { listen 8443 ssl; ssl_certificate $pki/untrusted.pem; ssl_certificate_key $pki/untrusted.key; }
  server { listen 9443 ssl; ssl_certificate $pki/othername.pem; ssl_certificate_key $pki/othername.key; }"
printf '{"status":"ok"}\n' >"$ngx/www/status.json"
chmod -R a+rX "$LAB_TMP"
start_nginx "$TOPO_S" "$ngx"
for port in 443 8443 9443; do wait_listen "$TOPO_S" "$port"; done

cap="$LAB_TMP/tls-bad-certificate.pcap"
capture_start "$cap" pcap "tcp or icmp or icmp6"
for port in 443 8443 9443; do
  url="https://api.lab.test:$port/status.json"
  pin="api.lab.test:$port:$SERVER4"
  [ "$(ccurl --cacert "$pki/ca.pem" --resolve "$pin" --tlsv1.2 --tls-max 1.2 "$url")" = 60 ] ||
    die "curl TLS 1.2 to :$port did not fail verification"
  [ "$(ccurl --cacert "$pki/ca.pem" --resolve "$pin" --tlsv1.3 "$url")" = 60 ] ||
    die "curl TLS 1.3 to :$port did not fail verification"
  rc=0
  in_c timeout 10 gnutls-cli --x509cafile "$pki/ca.pem" --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3' \
    --sni-hostname api.lab.test --verify-hostname api.lab.test -p "$port" "$SERVER4" \
    </dev/null >>"$LAB_TMP/gnutls.log" 2>&1 || rc=$?
  [ "$rc" = 1 ] || die "gnutls-cli to :$port ended with $rc, not a verification failure"
done
capture_stop 0.5

# The packets must show it: 9 connections in the order made, each with a ClientHello; the
# OpenSSL clients' alerts in clear where verification failed during the handshake
# (certificate_expired, unknown_ca), the name check after the handshake (curl closes with
# close_notify, no request), and GnuTLS's one encrypted alert-sized record before its FIN.
C="ip.src == $CLIENT4"
[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 9 ] || die "expected 9 TCP streams"
[ "$(count "$cap" "tls.handshake.type == 1")" -eq 9 ] || die "expected 9 ClientHellos"
must_not "$cap" "$C && tls.app_data && tls.record.length > 100" "a request from the client"
hello() { first_frame "$cap" "tcp.stream == $1 && tls.handshake.type == 1"; }
fin() { first_frame "$cap" "tcp.stream == $1 && $C && tcp.flags.fin == 1"; }
expect_begin "Clients refusing nginx's certificate (lab CA trusted, https://api.lab.test): expired in 2020 (:443), from an untrusted CA (:8443), for another name (:9443); per port curl TLS 1.2, curl TLS 1.3 (OpenSSL alerts in clear), gnutls-cli TLS 1.3 (encrypted alert); IPv4"
for i in 0 1 2; do
  s=$((3 * i))
  for t in $s $((s + 1)); do
    desc=$(field "$cap" "tcp.stream == $t && $C && tls.alert_message.desc" tls.alert_message.desc)
    if [ -n "$desc" ]; then
      alert=$(first_frame "$cap" "tcp.stream == $t && $C && tls.alert_message.desc")
      expect_finding "tls.alert_$(tls_alert_name "$desc")" "$t" "$(hello "$t")" "$alert"
    elif [ "$t" = "$s" ]; then
      # TLS 1.2: the certificate is in clear; curl finished the handshake and closed.
      must "$cap" "tcp.stream == $t && tls.handshake.type == 11" "the server's Certificate"
      cert=$(first_frame "$cap" "tcp.stream == $t && tls.handshake.type == 11")
      expect_finding tls.certificate_name_mismatch "$t" "$(hello "$t")" "$cert" "$(fin "$t")"
    else
      expect_finding tls.handshake_aborted_by_client "$t" "$(hello "$t")" "$(fin "$t")"
    fi
  done
  g=$((s + 2))
  rec=$(first_frame "$cap" "tcp.stream == $g && $C && tls.record.opaque_type == 23 && tls.record.length <= 32")
  must_not "$cap" "tcp.stream == $g && $C && tls.record.opaque_type == 23 && tls.record.length > 32" \
    "a client Finished from gnutls-cli on stream $g"
  expect_finding tls.handshake_aborted_by_client "$g" "$(hello "$g")" "$rec" "$(fin "$g")"
done
[ "$(count "$cap" "$C && tls.alert_message.desc == 45")" -eq 2 ] || die "expected 2 certificate_expired alerts"
[ "$(count "$cap" "$C && tls.alert_message.desc == 48")" -eq 2 ] || die "expected 2 unknown_ca alerts"
publish "$cap" tls-bad-certificate.pcap
expect_write tls-bad-certificate.pcap
