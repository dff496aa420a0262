#!/usr/bin/env bash
# NTLM-style multi-leg HTTP authentication on one keep-alive connection (lab/servers/ntlm.py,
# lab/ntlm_client.py, plausible tokens, no real crypto): GET -> 401 WWW-Authenticate: NTLM;
# Authorization: NTLM <type 1> -> 401 WWW-Authenticate: NTLM <type 2>; NTLM <type 3> -> 200.
# The 401 legs are login steps, not failures.
#   captures/healthy-ntlm.pcapng: the handshake succeeding, IPv4 (stream 0) and IPv6 (stream 1)
#   captures/ntlm-401.pcapng: a successful handshake (stream 0, nothing expected), then against a
#     server that rejects the credentials (stream 1): the type 3 leg gets 401 again
#     -> client.http_401 on that last exchange only
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-ntlm 20
start_bg "$TOPO_S" "$LAB_TMP/ok4.log" python3 "$lab_dir/servers/ntlm.py" ok "$SERVER4" 8080 90
start_bg "$TOPO_S" "$LAB_TMP/ok6.log" python3 "$lab_dir/servers/ntlm.py" ok "$SERVER6" 8080 90
start_bg "$TOPO_S" "$LAB_TMP/fail.log" python3 "$lab_dir/servers/ntlm.py" fail "$SERVER4" 8081 90
wait_listen "$TOPO_S" 8080
wait_listen "$TOPO_S" 8081

ntlm() { in_c timeout 20 python3 "$lab_dir/ntlm_client.py" "$@" 2>>"$LAB_TMP/client.err" || echo error; }

# check_legs CAP STREAM LAST_STATUS — three requests and three responses on the stream, with the
# NTLM headers of each leg.
check_legs() {
  local cap=$1 s=$2 last=$3
  [ "$(count "$cap" "tcp.stream == $s && http.request")" -eq 3 ] || die "stream $s: expected 3 requests"
  [ "$(count "$cap" "tcp.stream == $s && tcp.flags.syn == 1 && tcp.flags.ack == 0")" -eq 1 ] || die "stream $s: expected one connection"
  must "$cap" "tcp.stream == $s && http.response.code == 401 && http.www_authenticate matches \"^NTLM [A-Za-z0-9+/]\"" "the type 2 challenge on stream $s"
  must "$cap" "tcp.stream == $s && http.authorization contains \"NTLM TlRMTVNTUAAB\"" "the type 1 leg on stream $s"
  must "$cap" "tcp.stream == $s && http.authorization contains \"NTLM TlRMTVNTUAAD\"" "the type 3 leg on stream $s"
  [ "$(count "$cap" "tcp.stream == $s && http.response.code == 401")" -eq $((last == 401 ? 3 : 2)) ] || die "stream $s: wrong number of 401s"
  must "$cap" "tcp.stream == $s && http.response.code == $last" "the last status $last on stream $s"
}

hcap="$LAB_TMP/healthy-ntlm.pcapng"
capture_start "$hcap" pcapng "tcp or icmp or icmp6"
for host in "$SERVER4" "$SERVER6"; do
  r=$(ntlm "$host" 8080)
  [ "$r" = "401 401 200" ] || die "NTLM handshake to $host: $r"
done
capture_stop 0.5
expect_begin "NTLM-style handshake on one keep-alive connection (Python http.client to a Python server): 401 WWW-Authenticate NTLM, type 1 -> 401 with the type 2 challenge, type 3 -> 200; IPv4 then IPv6"
check_legs "$hcap" 0 200
check_legs "$hcap" 1 200
publish "$hcap" healthy-ntlm.pcapng
expect_write healthy-ntlm.pcapng

cap="$LAB_TMP/ntlm-401.pcapng"
capture_start "$cap" pcapng "tcp or icmp or icmp6"
r=$(ntlm "$SERVER4" 8080); [ "$r" = "401 401 200" ] || die "NTLM handshake: $r"
r=$(ntlm "$SERVER4" 8081); [ "$r" = "401 401 401" ] || die "NTLM handshake with rejected credentials: $r"
capture_stop 0.5
expect_begin "NTLM-style handshakes on one keep-alive connection each: stream 0 succeeds (401, 401 with the challenge, 200); on stream 1 the server rejects the type 3 credentials with 401 again"
check_legs "$cap" 0 200
check_legs "$cap" 1 401
req=$(first_frame "$cap" "tcp.stream == 1 && http.authorization contains \"NTLM TlRMTVNTUAAD\"")
resp=$(last_frame "$cap" "tcp.stream == 1 && http.response.code == 401")
[ "$resp" -gt "$req" ] || die "the last 401 is not after the type 3 request"
expect_finding client.http_401 1 "$req" "$resp"
publish "$cap" ntlm-401.pcapng
expect_write ntlm-401.pcapng
