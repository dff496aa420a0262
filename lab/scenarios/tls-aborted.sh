#!/usr/bin/env bash
# Handshakes that die without an alert:
#   :8443 a server (Python, inline) that reads the ClientHello and closes (FIN), then one that
#         closes with SO_LINGER 0 (RST); curl (TLS 1.3) and Python ssl
#   :443  nginx behind a router that resets connections whose ClientHello names
#         blocked.lab.test (iptables -m string ... REJECT --reject-with tcp-reset: an SNI
#         filter): the transport cause stays the finding, with the handshake's context
# IPv4. Makes captures/tls-aborted.pcapng (dumpcap on c0).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/tls-certs.sh
source "$lab_dir/tls-certs.sh"
require_cmds openssl nginx

topo_up fl-tlsabrt 20

pki=$LAB_TMP/pki
tls_ca "$pki" ca
tls_leaf "$pki" server ca "DNS:api.lab.test,DNS:blocked.lab.test,IP:$SERVER4" 20240101000000Z 20360101000000Z
ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "443 ssl" "access_log off;
  ssl_certificate $pki/server.pem; ssl_certificate_key $pki/server.key;"
printf '{"status":"ok"}\n' >"$ngx/www/status.json"
chmod -R a+rX "$LAB_TMP"
start_nginx "$TOPO_S" "$ngx"
cat >"$LAB_TMP/closer.py" <<'PY'
import socket, struct, sys, time
# Reads what the client sends first (its ClientHello), then closes: gracefully for the first
# two connections, abortively (SO_LINGER 0: RST) for the next two. Ends after 4 or 60 s.
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], 8443))
srv.listen(8)
srv.settimeout(60)
for n in range(4):
    conn, peer = srv.accept()
    conn.settimeout(5)
    print(n, peer, len(conn.recv(65536)), flush=True)
    time.sleep(0.05)
    if n >= 2:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
PY
start_bg "$TOPO_S" "$LAB_TMP/closer.log" python3 "$LAB_TMP/closer.py" "$SERVER4"
for port in 443 8443; do wait_listen "$TOPO_S" "$port"; done
in_r iptables -A FORWARD -p tcp --dport 443 -m string --algo bm --string "blocked.lab.test" \
  -j REJECT --reject-with tcp-reset

cap="$LAB_TMP/tls-aborted.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
ca=(--cacert "$pki/ca.pem")
python_call() {
  in_c timeout 10 python3 - "$SERVER4" "$1" "$2" "$pki/ca.pem" >>"$LAB_TMP/python.log" 2>&1 <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[4])
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
        ctx.wrap_socket(s, server_hostname=sys.argv[3])
    sys.exit("handshake succeeded")
except (ssl.SSLError, OSError) as e:
    print(e)
PY
}
for i in 1 2; do
  rc=$(ccurl "${ca[@]}" --resolve "api.lab.test:8443:$SERVER4" https://api.lab.test:8443/status.json)
  [ "$rc" = 35 ] || [ "$rc" = 56 ] || die "curl to the closing server ended with $rc"
  python_call 8443 api.lab.test || die "python to the closing server did not fail"
done
[ "$(ccurl "${ca[@]}" --resolve "api.lab.test:443:$SERVER4" https://api.lab.test/status.json)" = 0 ] ||
  die "the healthy call through the router failed"
rc=$(ccurl "${ca[@]}" --resolve "blocked.lab.test:443:$SERVER4" https://blocked.lab.test/status.json)
[ "$rc" = 35 ] || [ "$rc" = 56 ] || die "curl to blocked.lab.test ended with $rc, not a reset"
capture_stop 0.5

# The packets must show it: on :8443 a ClientHello, no TLS record back, and the server's FIN
# (streams 0, 1) or RST (2, 3) first; a healthy handshake on :443 (stream 4), and on stream 5 a
# RST with the router's TTL 64 (the server's packets have 62) right after the ClientHello.
C="ip.src == $CLIENT4" S="ip.src == $SERVER4"
[ "$(tsh "$cap" -Y tcp -T fields -e tcp.stream | sort -u | wc -l)" -eq 6 ] || die "expected 6 TCP streams"
must_not "$cap" "tcp.port == 8443 && $S && tls" "a TLS record from the closing server"
expect_begin "Handshakes that die without an alert: a server that reads the ClientHello and closes (FIN, then SO_LINGER 0 RST; curl and Python ssl), and a router's SNI filter (iptables string match on blocked.lab.test, REJECT with tcp-reset) after a healthy call; IPv4"
for t in 0 1 2 3; do
  hello=$(first_frame "$cap" "tcp.stream == $t && tls.handshake.type == 1")
  if [ "$t" -lt 2 ]; then flag=fin; else flag=reset; fi
  close=$(first_frame "$cap" "tcp.stream == $t && $S && tcp.flags.$flag == 1")
  must_not "$cap" "tcp.stream == $t && $C && (tcp.flags.fin == 1 || tcp.flags.reset == 1) && frame.number < $close" \
    "a client close before the server's on stream $t"
  expect_finding tls.handshake_aborted_by_server "$t" "$hello" "$close"
done
must "$cap" "tcp.stream == 4 && tls.handshake.type == 2" "the healthy ServerHello"
hello=$(first_frame "$cap" "tcp.stream == 5 && tls.handshake.extensions_server_name == \"blocked.lab.test\"")
rst=$(first_frame "$cap" "tcp.stream == 5 && $S && tcp.flags.reset == 1")
synack=$(first_frame "$cap" "tcp.stream == 5 && $S && tcp.flags.syn == 1 && tcp.flags.ack == 1")
[ "$(field "$cap" "frame.number == $rst" ip.ttl)" = 64 ] || die "the RST does not carry the router's TTL 64"
[ "$(field "$cap" "frame.number == $synack" ip.ttl)" = 62 ] || die "the SYN-ACK does not carry the server's TTL 62"
must_not "$cap" "tcp.stream == 5 && $S && tls" "a TLS record from the server on the filtered connection"
expect_finding firewall.injected_rst 5 "$rst" "$hello" "$synack"
publish "$cap" tls-aborted.pcapng
expect_write tls-aborted.pcapng
