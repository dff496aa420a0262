#!/usr/bin/env bash
# TLS 1.3 certificate failures with the clients' keys: the server's Certificate and the
# clients' encrypted alerts are readable with the key log, so each refusal has an exact cause.
# nginx (TLS 1.3 only) serves, per port, a lab-CA certificate that expired in 2020 (:443), one
# from a CA nobody trusts (:8443), one for another name (:9443), one signed by a lab
# intermediate that the server does not send (:7443, missing intermediate), and one valid only
# from 2035 (:6443). The clients trust the lab CA and call https://api.lab.test. Per port, over
# IPv4: curl --tlsv1.3 (SSLKEYLOGFILE; OpenSSL's alerts are in clear, the name is checked after
# the handshake), Python ssl (SSLContext.keylog_filename; the name checked in the handshake) and
# gnutls-cli (SSLKEYLOGFILE; its alerts are encrypted).
# Expected codes follow the TLS 1.2 rules on what the decrypted handshake shows: an alert that
# names the reason gives tls.alert_<name>; a generic one (bad_certificate, certificate_unknown,
# unsupported_certificate) the cause the decrypted certificate shows (expired, not yet valid,
# another name than the SNI, an issuer in no trust store); a handshake the client finished and
# left without a request, for a certificate of another name, tls.certificate_name_mismatch.
# Makes captures/https-cert-tls13.pcap (tcpdump on c0) and https-cert-tls13.keys.
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/tls-certs.sh
source "$lab_dir/tls-certs.sh"
# shellcheck source=lab/https-lib.sh
source "$lab_dir/https-lib.sh"
require_cmds nginx gnutls-cli

topo_up fl-hscert 20

pki=$LAB_TMP/pki
tls_ca "$pki" ca
tls_ca "$pki" rogue
tls_intermediate "$pki" inter ca
san="DNS:api.lab.test,IP:$SERVER4"
tls_leaf "$pki" expired ca "$san" 20190101000000Z 20200101000000Z
tls_leaf "$pki" untrusted rogue "$san" 20240101000000Z 20360101000000Z
tls_leaf "$pki" othername ca "DNS:other.lab.test" 20240101000000Z 20360101000000Z
tls_leaf "$pki" nointer inter "$san" 20240101000000Z 20360101000000Z
tls_leaf "$pki" future ca "$san" 20350101000000Z 20360101000000Z
ports=(443 8443 9443 7443 6443)

ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "443 ssl" "access_log off;
  ssl_protocols TLSv1.3;
  ssl_certificate $pki/expired.pem; ssl_certificate_key $pki/expired.key;
  server { listen 8443 ssl; ssl_certificate $pki/untrusted.pem; ssl_certificate_key $pki/untrusted.key; }
  server { listen 9443 ssl; ssl_certificate $pki/othername.pem; ssl_certificate_key $pki/othername.key; }
  server { listen 7443 ssl; ssl_certificate $pki/nointer.pem; ssl_certificate_key $pki/nointer.key; }
  server { listen 6443 ssl; ssl_certificate $pki/future.pem; ssl_certificate_key $pki/future.key; }"
printf '{"status":"ok"}\n' >"$ngx/www/status.json"
chmod -R a+rX "$LAB_TMP"
start_nginx "$TOPO_S" "$ngx"
for port in "${ports[@]}"; do wait_listen "$TOPO_S" "$port"; done
# The missing intermediate is the only fault on :7443: with it the chain verifies.
openssl verify -CAfile "$pki/ca.pem" -untrusted "$pki/inter.pem" "$pki/nointer.pem" >/dev/null ||
  die "the :7443 chain does not verify even with its intermediate"

cap="$LAB_TMP/https-cert-tls13.pcap"
capture_start "$cap" pcap "tcp or icmp or icmp6"
for port in "${ports[@]}"; do
  url="https://api.lab.test:$port/status.json"
  [ "$(ccurl --cacert "$pki/ca.pem" --resolve "api.lab.test:$port:$SERVER4" --tlsv1.3 "$url")" = 60 ] ||
    die "curl TLS 1.3 to :$port did not fail verification"
  in_c timeout 10 python3 - "$SERVER4" "$port" "$pki/ca.pem" "$KEYLOG" >>"$LAB_TMP/python.log" 2>&1 <<'PY' ||
import socket, ssl, sys
host, port, ca, keylog = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
ctx.keylog_filename = keylog
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
try:
    with socket.create_connection((host, port), timeout=5) as s:
        ctx.wrap_socket(s, server_hostname="api.lab.test")
    sys.exit("handshake succeeded")
except ssl.SSLCertVerificationError as e:
    print(port, e)
PY
    die "python to :$port did not fail verification"
  rc=0
  in_c timeout 10 gnutls-cli --x509cafile "$pki/ca.pem" --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3' \
    --sni-hostname api.lab.test --verify-hostname api.lab.test -p "$port" "$SERVER4" \
    </dev/null >>"$LAB_TMP/gnutls.log" 2>&1 || rc=$?
  [ "$rc" = 1 ] || die "gnutls-cli to :$port ended with $rc, not a verification failure"
done
capture_stop 0.5
keys_check "$cap"

# The packets must show it, decrypted: 15 TLS 1.3 connections in the order made, each with the
# server's Certificate readable, no request from any client.
C="ip.src == $CLIENT4"
[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 15 ] || die "expected 15 TCP streams"
[ "$(count "$cap" "tls.handshake.type == 2 && tls.handshake.extensions.supported_version == 0x0304")" -eq 15 ] ||
  die "expected 15 TLS 1.3 ServerHellos"
[ "$(count "$cap" "tls.handshake.type == 11")" -eq 15 ] || die "expected 15 decrypted Certificates"
must_not "$cap" "http.request" "a request from a client"
[ "$(count "$cap" "$C && tls.record.opaque_type == 23 && tls.alert_message.desc > 0")" -ge 5 ] ||
  die "expected gnutls-cli's encrypted alerts to decrypt"

# cert_cause STREAM AT — the cause the decrypted certificate shows at epoch AT (the checks and
# their order are faultline's for a generic alert, run on tshark's fields).
cert_cause() {
  local t=$1 at=$2 cert not_before not_after sni names issuer
  cert=$(first_frame "$cap" "tcp.stream == $t && tls.handshake.type == 11")
  not_before=$(tsh "$cap" -Y "frame.number == $cert" -T fields -E occurrence=f -e x509af.utcTime | sed 's/ (UTC)//')
  not_after=$(tsh "$cap" -Y "frame.number == $cert" -T fields -E occurrence=l -e x509af.utcTime | sed 's/ (UTC)//')
  sni=$(field "$cap" "tcp.stream == $t && tls.handshake.type == 1" tls.handshake.extensions_server_name)
  names=$(tsh "$cap" -Y "frame.number == $cert" -T fields -E occurrence=a -e x509ce.dNSName)
  issuer=$(tsh "$cap" -Y "frame.number == $cert" -V | grep -A1 "issuer: rdnSequence" | sed -n 's/.*commonName=//p' | head -n1)
  if [ "$(date -u -d "$not_after" +%s)" -lt "${at%.*}" ]; then
    echo tls.certificate_expired
  elif [ "$(date -u -d "$not_before" +%s)" -gt "${at%.*}" ]; then
    echo tls.certificate_not_yet_valid
  elif ! tr ',' '\n' <<<"$names" | grep -qx "$sni"; then
    echo tls.certificate_name_mismatch
  elif case $issuer in "faultline lab rogue"* | "faultline lab inter"*) true ;; *) false ;; esac; then
    # The lab's rogue CA and its intermediate are in no trust store (Mozilla's, or any given).
    echo tls.certificate_untrusted
  else
    die "stream $t: a generic alert for a certificate that looks right (issuer '$issuer')"
  fi
}

expect_begin "TLS 1.3 clients refusing nginx's certificate, with their key logs (lab CA trusted, https://api.lab.test): expired in 2020 (:443), from an untrusted CA (:8443), for another name (:9443), signed by an intermediate the server does not send (:7443), valid only from 2035 (:6443); per port curl --tlsv1.3 (OpenSSL alerts in clear, the name checked after the handshake), Python ssl, gnutls-cli (encrypted alerts); IPv4"
for t in $(seq 0 14); do
  hello=$(first_frame "$cap" "tcp.stream == $t && tls.handshake.type == 1")
  alert=$(frames "$cap" "tcp.stream == $t && $C && tls.alert_message.desc > 0" | head -n1)
  if [ -n "$alert" ]; then
    desc=$(field "$cap" "frame.number == $alert" tls.alert_message.desc)
    case $desc in
      42 | 43 | 46) code=$(cert_cause "$t" "$(field "$cap" "frame.number == $alert" frame.time_epoch)") ;;
      *) code="tls.alert_$(tls_alert_name "$desc")" ;;
    esac
    log "stream $t: alert $desc in frame $alert -> $code"
    expect_finding "$code" "$t" "$hello" "$alert"
  else
    # curl: the handshake finished (its Finished decrypts), then close_notify and FIN, no request.
    must "$cap" "tcp.stream == $t && $C && tls.handshake.type == 20" "the client's Finished on stream $t"
    cert=$(first_frame "$cap" "tcp.stream == $t && tls.handshake.type == 11")
    fin=$(first_frame "$cap" "tcp.stream == $t && $C && tcp.flags.fin == 1")
    code=$(cert_cause "$t" "$(field "$cap" "frame.number == $fin" frame.time_epoch)")
    [ "$code" = tls.certificate_name_mismatch ] || die "stream $t: a finished handshake left for $code"
    log "stream $t: handshake finished, closed without a request -> $code"
    expect_finding "$code" "$t" "$hello" "$cert" "$fin"
  fi
done
publish "$cap" https-cert-tls13.pcap
publish_keys https-cert-tls13.pcap
expect_write https-cert-tls13.pcap
