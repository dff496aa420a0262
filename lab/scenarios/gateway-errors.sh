#!/usr/bin/env bash
# nginx as an API gateway (reverse proxy, plain HTTP on :80) in front of servers/errors_api.py,
# which answers each route with an error in a vendor's documented shape, and the gateway's own
# failures (502 upstream refused, 504 upstream timeout), with healthy calls between them; the
# calls and expectations are lab/gateway-errors-lib.sh's (see there). The expected file names
# the words each finding must quote (the server's own), each checked with tshark on the key
# frames. Makes captures/gateway-errors.pcapng (dumpcap on c0).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/gateway-errors-lib.sh
source "$lab_dir/gateway-errors-lib.sh"
require_cmds nginx

GWE_TLS=0
gcurl() { # gcurl V ARGS... — curl to the gateway (V is in the URLs); prints curl's exit code
  shift
  ccurl "$@"
}
gwe_url() { if [ "$1" = 4 ]; then echo "http://$SERVER4$2"; else echo "http://[$SERVER6]$2"; fi; }
gpython() { # gpython V — the script on stdin, given the gateway's address and port
  local a=$SERVER4
  [ "$1" = 6 ] && a=$SERVER6
  in_c timeout 30 python3 - "$a" 80
}

topo_up fl-gwe 20
gwe_backends
ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "80" "access_log off;"
gwe_locations >"$LAB_TMP/locations.conf"
printf '    listen [::]:80;\n' >>"$LAB_TMP/locations.conf"
sed -i "/listen 80;/r $LAB_TMP/locations.conf" "$ngx/nginx.conf"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 80

cap="$LAB_TMP/gateway-errors.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
gwe_traffic
capture_stop 0.5

expect_begin "nginx on :80 as an API gateway in front of lab/servers/errors_api.py: problem+json 400/422, bearer 401 expired vs bad signature, 403 insufficient_scope, OAuth token endpoint invalid_client / invalid_grant, 403 APIG.0302 (error_code/error_msg), 403 AWS AccessDeniedException, 403 Google PERMISSION_DENIED (gzip), 404 APIG.0101 not published vs wrong X-Stage, 429 quota (RateLimit-Policy 1000;w=86400, br) vs 429 throttled after RateLimit-Remaining fell to 0 on one keep-alive connection (Python), AWS ThrottlingException 400, 410 with Sunset and Deprecation, 406 (Accept: application/xml), 426 Upgrade: TLS/1.2, GraphQL errors in 200s (FORBIDDEN, INTERNAL_SERVER_ERROR), a 302 redirect loop, nginx's own 502 (upstream refused) and 504 (upstream silent, proxy_read_timeout 1s); healthy 200s between. Each finding names the words it must quote."
gwe_expect "$cap"
must_not "$cap" "tcp.flags.reset == 1" "a reset"
publish "$cap" gateway-errors.pcapng
expect_write gateway-errors.pcapng
