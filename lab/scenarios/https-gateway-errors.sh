#!/usr/bin/env bash
# gateway-errors over TLS with keys: nginx on :443 (ssl, TLS 1.2 and 1.3, lab-CA RSA certificate
# for api.lab.test, verified by every client) as the gateway in front of servers/errors_api.py,
# the same calls and expectations (lab/gateway-errors-lib.sh) but the 426 (an upgrade to TLS
# means nothing on TLS), read in the decrypted streams; curl (TLS 1.3) logs its keys through
# SSLKEYLOGFILE, Python (TLS 1.2) through SSLContext.keylog_filename. Plus one call whose Host
# differs from its SNI: curl to https://api.lab.test/v1/ok (SNI api.lab.test) with
# `Host: other.test`, a name nginx serves in another server block that verifies client
# certificates (ssl_verify_client optional_no_ca): nginx answers 421 Misdirected Request itself.
# Makes captures/https-gateway-errors.pcapng (dumpcap) and its key log
# captures/https-gateway-errors.keys.
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/tls-certs.sh
source "$lab_dir/tls-certs.sh"
# shellcheck source=lab/https-lib.sh
source "$lab_dir/https-lib.sh"
# shellcheck source=lab/gateway-errors-lib.sh
source "$lab_dir/gateway-errors-lib.sh"
require_cmds nginx

GWE_TLS=1
pki=$LAB_TMP/pki
gcurl() { # gcurl V ARGS... — verified curl over TLS to api.lab.test at the IPv4 / IPv6 address
  local a=$SERVER4
  [ "$1" = 6 ] && a="[$SERVER6]"
  shift
  ccurl --cacert "$pki/ca.pem" --resolve "api.lab.test:443:$a" "$@"
}
GWE_NEXT=(--cacert "$pki/ca.pem" --resolve "api.lab.test:443:$SERVER4")
gwe_url() { echo "https://api.lab.test$2"; }
gpython() { # gpython V — the script on stdin, given the gateway's address, port, CA, key log
  local a=$SERVER4
  [ "$1" = 6 ] && a=$SERVER6
  in_c timeout 30 python3 - "$a" 443 "$pki/ca.pem" "$KEYLOG"
}

topo_up fl-hsgwe 20
https_pki "$pki"
gwe_backends
ngx=$LAB_TMP/nginx
tls="ssl_certificate $pki/api.pem; ssl_certificate_key $pki/api.key;"
write_nginx_conf "$ngx" "443 ssl" "access_log off;
  ssl_protocols TLSv1.2 TLSv1.3;
  server {
    listen 443 ssl; listen [::]:443 ssl;
    server_name other.test;
    $tls
    ssl_verify_client optional_no_ca;
    return 200 '{\"host\":\"other.test\"}\n';
  }"
{
  printf '    listen [::]:443 ssl;\n    server_name api.lab.test;\n    %s\n' "$tls"
  gwe_locations
} >"$LAB_TMP/locations.conf"
sed -i "/listen 443 ssl;$/r $LAB_TMP/locations.conf" "$ngx/nginx.conf"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 443

cap="$LAB_TMP/https-gateway-errors.pcapng"
keys_reset
capture_start "$cap" pcapng "tcp or icmp or icmp6"
gwe_traffic
g 4 -H 'Host: other.test' "$(gwe_url 4 /v1/ok)"
capture_stop 0.5

keys_check "$cap"
for s in $(tsh "$cap" -Y "tls.handshake.type == 1" -T fields -e tcp.stream); do decrypted "$cap" "$s"; done
must "$cap" "tls.handshake.type == 2 && tls.handshake.extensions.supported_version == 0x0304" "a TLS 1.3 ServerHello (curl)"
must "$cap" "tls.handshake.type == 2 && !tls.handshake.extensions.supported_version" "a TLS 1.2 ServerHello (Python)"
expect_begin "gateway-errors over TLS (nginx ssl :443 as an API gateway in front of lab/servers/errors_api.py; curl TLS 1.3, Python TLS 1.2, keys logged by the clients): the same error shapes and gateway failures as gateway-errors but the 426, read decrypted, and a call whose Host (other.test) differs from its SNI (api.lab.test), answered 421 Misdirected Request by nginx. Each finding names the words it must quote."
gwe_expect "$cap"
answered 'http.host == "other.test"' 421
must "$cap" "tcp.stream == $S && tls.handshake.extensions_server_name == \"api.lab.test\"" "the SNI api.lab.test on the 421's connection"
expect_finding client.wrong_host "$S" "$RQ" "$RS"
expect_quote "Misdirected Request"
publish "$cap" https-gateway-errors.pcapng
publish_keys https-gateway-errors.pcapng
expect_write https-gateway-errors.pcapng
