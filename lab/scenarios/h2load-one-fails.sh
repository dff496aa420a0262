#!/usr/bin/env bash
# A needle in a multiplexed haystack: h2load (nghttp2) makes 200 requests on ONE h2c connection
# with up to 50 streams in flight (-n 200 -c 1 -m 50) to nginx 1.22 `listen 8081 http2`, from a
# URI list (-i) of 199 existing files and, at position 137, one missing file: exactly one stream
# is answered 404, so exactly one finding names that h2 stream.
# Makes captures/h2load-one-fails.pcapng (dumpcap on c0).
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"
# shellcheck source=lab/h2-lib.sh
source "$lab_dir/h2-lib.sh"
require_cmds nginx h2load

topo_up fl-h2load 20
ngx=$LAB_TMP/nginx
write_nginx_conf "$ngx" "8081 http2" "keepalive_timeout 10s;"
mkdir -p "$ngx/www/items"
for ((i = 0; i < 200; i++)); do printf '{"item": %d}\n' "$i" >"$ngx/www/items/$i.json"; done
chmod -R a+rX "$ngx"
start_nginx "$TOPO_S" "$ngx"
wait_listen "$TOPO_S" 8081
uris=$LAB_TMP/uris.txt
for ((i = 0; i < 200; i++)); do
  if ((i == 137)); then echo "http://$SERVER4:8081/items/missing-137.json"; else echo "http://$SERVER4:8081/items/$i.json"; fi
done >"$uris"

cap="$LAB_TMP/h2load-one-fails.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
out=$(in_c timeout 30 h2load -n 200 -c 1 -m 50 -i "$uris" 2>&1) || die "h2load failed: $out"
capture_stop 0.5
grep -a -E "^requests:|^status codes:" <<<"$out" >&2
grep -aq "200 total, 200 started, 200 done, 199 succeeded, 1 failed, 0 errored, 0 timeout" <<<"$out" || die "h2load: not 200 done with one failed"
grep -aq "status codes: 199 2xx, 0 3xx, 1 4xx, 0 5xx" <<<"$out" || die "h2load: not exactly one 4xx"

TSH_ARGS=(-d tcp.port==8081,http2)
h2_index "$cap" "${TSH_ARGS[@]}"
[ "$(tsh "$cap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e tcp.stream | sort -u | wc -l)" -eq 1 ] ||
  die "expected one TCP connection"
[ "$(h2_rows '$4 == 8081 && $6 == 1 { print }' | wc -l)" -eq 200 ] || die "tshark does not show 200 requests"
[ "$(h2_rows '$3 == 8081 && $6 == 1 && $10 == "200" { print }' | wc -l)" -eq 199 ] || die "tshark does not show 199 answers 200"
[ "$(h2_rows '$3 == 8081 && $6 == 1 && $10 != "200" { print }' | wc -l)" -eq 1 ] || die "tshark does not show exactly one other answer"
[ "$(h2_rows '$6 == 3 { print }' | wc -l)" -eq 0 ] || die "a stream was reset"
# Many streams in flight at once: the most requests sent before the first answer.
first_answer=$(h2_one "an answer" '$3 == 8081 && $6 == 1')
inflight=$(h2_rows "\$4 == 8081 && \$6 == 1 && \$1 < $first_answer { print }" | wc -l)
[ "$inflight" -ge 20 ] || die "only $inflight requests were in flight before the first answer"
t=0
h=$(h2_stream_of "$t" /items/missing-137.json 8081)
expect_begin "h2load -n 200 -c 1 -m 50 to nginx 1.22 h2c (:8081): 200 requests on one connection ($inflight sent before the first answer), 199 answered 200 and one, /items/missing-137.json (h2 stream $h), answered 404: exactly one finding; key frames: its request HEADERS and the response HEADERS with :status 404"
expect_finding_h2 client.http_404 "$t" "$h" "$(h2_req "$t" "$h" 8081)" "$(h2_status "$t" "$h" 8081 404)"
publish "$cap" h2load-one-fails.pcapng
expect_write h2load-one-fails.pcapng
