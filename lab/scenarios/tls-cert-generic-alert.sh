#!/usr/bin/env bash
# Clients that refuse a certificate with a generic alert (bad_certificate), where only the
# certificate itself, in clear in TLS 1.2, says why: nginx serves a lab-CA certificate that
# expired in 2020 (:443), one for another name (:9443) and one from a CA nobody trusts (:8443). Per port, over IPv4: gnutls-cli
# (TLS 1.2; bad_certificate for both) and Python ssl (OpenSSL, TLS 1.2; certificate_expired, and
# bad_certificate for the name). The expected code of a generic alert comes from the
# certificate as tshark decodes it: notAfter before the capture time -> certificate_expired; no
# dNSName equal to the SNI -> certificate_name_mismatch; issued by the lab's rogue CA ->
# certificate_untrusted.
# Makes captures/tls-cert-generic-alert.pcap (tcpdump on c0, Ethernet).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/tls-certs.sh
source "$lab_dir/tls-certs.sh"
require_cmds openssl nginx gnutls-cli

topo_up fl-tlsgen 20

pki=$LAB_TMP/pki
tls_ca "$pki" ca
tls_leaf "$pki" expired ca "DNS:api.lab.test,IP:$SERVER4" 20190101000000Z 20200101000000Z
tls_leaf "$pki" othername ca "DNS:other.lab.test" 20240101000000Z 20360101000000Z
tls_ca "$pki" rogue
tls_leaf "$pki" untrusted rogue "DNS:api.lab.test,IP:$SERVER4" 20240101000000Z 20360101000000Z

ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "443 ssl" "access_log off;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate $pki/expired.pem; ssl_certificate_key $pki/expired.key;
  server { listen 9443 ssl; ssl_certificate $pki/othername.pem; ssl_certificate_key $pki/othername.key; }
  server { listen 8443 ssl; ssl_certificate $pki/untrusted.pem; ssl_certificate_key $pki/untrusted.key; }"
chmod -R a+rX "$LAB_TMP"
start_nginx "$TOPO_S" "$ngx"
for port in 443 9443 8443; do wait_listen "$TOPO_S" "$port"; done

cap="$LAB_TMP/tls-cert-generic-alert.pcap"
capture_start "$cap" pcap "tcp or icmp or icmp6"
for port in 443 9443 8443; do
  rc=0
  in_c timeout 10 gnutls-cli --x509cafile "$pki/ca.pem" --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2' \
    --sni-hostname api.lab.test --verify-hostname api.lab.test -p "$port" "$SERVER4" \
    </dev/null >>"$LAB_TMP/gnutls.log" 2>&1 || rc=$?
  [ "$rc" = 1 ] || die "gnutls-cli to :$port ended with $rc, not a verification failure"
  in_c timeout 10 python3 - "$SERVER4" "$port" "$pki/ca.pem" >>"$LAB_TMP/python.log" 2>&1 <<'PY' ||
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[3])
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
        ctx.wrap_socket(s, server_hostname="api.lab.test")
    sys.exit("handshake succeeded")
except ssl.SSLCertVerificationError as e:
    print(e)
PY
    die "python to :$port did not fail verification"
done
capture_stop 0.5

# The packets must show it: 4 connections, each a TLS 1.2 handshake the client ends with an
# alert in clear right after the server's Certificate.
C="ip.src == $CLIENT4"
[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 6 ] || die "expected 6 TCP streams"
must_not "$cap" "tls.handshake.extensions.supported_version == 0x0304 && tls.handshake.type == 2" "a TLS 1.3 ServerHello"
expect_begin "Clients refusing a certificate with generic alerts (TLS 1.2, lab CA trusted, SNI api.lab.test): nginx's certificate expired in 2020 (:443), one for other.lab.test (:9443), one from a CA nobody trusts (:8443); gnutls-cli and Python ssl per port; IPv4"
for t in 0 1 2 3 4 5; do
  hello=$(first_frame "$cap" "tcp.stream == $t && tls.handshake.type == 1")
  cert=$(first_frame "$cap" "tcp.stream == $t && tls.handshake.type == 11")
  alert=$(first_frame "$cap" "tcp.stream == $t && $C && tls.alert_message.desc")
  desc=$(field "$cap" "frame.number == $alert" tls.alert_message.desc)
  case $desc in
    42 | 43 | 46)
      not_after=$(tsh "$cap" -Y "frame.number == $cert" -T fields -E occurrence=l -e x509af.utcTime | sed 's/ (UTC)//')
      now=$(field "$cap" "frame.number == $alert" frame.time_epoch)
      sni=$(field "$cap" "frame.number == $hello" tls.handshake.extensions_server_name)
      names=$(tsh "$cap" -Y "frame.number == $cert" -T fields -E occurrence=a -e x509ce.dNSName)
      if [ "$(date -u -d "$not_after" +%s)" -lt "${now%.*}" ]; then
        code=tls.certificate_expired
      elif ! tr ',' '\n' <<<"$names" | grep -qx "$sni"; then
        code=tls.certificate_name_mismatch
      elif tsh "$cap" -Y "frame.number == $cert" -V | grep -A1 "issuer: rdnSequence" |
        grep -q "commonName=faultline lab rogue"; then
        # The lab's rogue CA is in no trust store: not in the Mozilla roots, not given to the client.
        code=tls.certificate_untrusted
      else
        die "stream $t: a generic alert for a certificate that looks right"
      fi
      ;;
    *) code="tls.alert_$(tls_alert_name "$desc")" ;;
  esac
  expect_finding "$code" "$t" "$hello" "$alert"
done
[ "$(count "$cap" "$C && tls.alert_message.desc == 42")" -ge 3 ] || die "expected at least 3 bad_certificate alerts"
publish "$cap" tls-cert-generic-alert.pcap
expect_write tls-cert-generic-alert.pcap
