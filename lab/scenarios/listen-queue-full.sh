#!/usr/bin/env bash
# server.listen_queue_full: lab/servers/slow_accept.py listens with backlog 1 and serves one
# connection at a time (0.25 s of work each). lab/burst.py in the client starts 10 GETs 60 ms
# apart (each its own connection): once two handshakes wait in the accept queue, Linux drops
# further SYNs (ListenOverflows), the clients retransmit them (1 s apart: tcp_syn_linear_timeouts)
# and each is answered once the server has caught up; every call ends 200. Three captures:
#   listen-queue-full.pcapng           the burst over the lab path (dumpcap on c0)
#   listen-queue-full-loopback.pcap    the same server and burst (20 GETs 10 ms apart) on 127.0.0.1
#                                      in the server namespace (tcpdump on lo)
#   healthy-listen-burst.pcap          the same burst against backlog 128, no work: no SYN is lost
# shellcheck source=lab/scenario-lib.sh
source "$(dirname "$0")/../scenario-lib.sh"

topo_up fl-lqf 20

# burst NS HOST PORT COUNT GAP — the burst; dies unless every call got 200.
burst() {
  local out
  out=$(ip netns exec "$1" timeout 40 python3 "$lab_dir/burst.py" "$2" "$3" "$4" "$5")
  log "burst to $2:$3: $(awk '{print $2 "/" $3 "s"}' <<<"$out" | paste -sd' ' -)"
  [ "$(awk '$2 == 200' <<<"$out" | wc -l)" -eq "$4" ] || die "not every call of the burst got 200: $out"
}

# expect_lqf CAP SERVER_IP PORT — one finding per stream whose SYN was retransmitted: the first
# SYN, its retransmissions and the SYN-ACK that finally answered. Dies unless some SYN was
# retransmitted, every stream was answered, and nothing was retransmitted on any other stream.
# (On loopback the SYN retransmissions of several sockets fire in the same timer tick: one of them
# may then complete its handshake while the queue is full again, so the server drops its ACK and
# retransmits the SYN-ACK, and the client's request is retransmitted: the same fault, same stream.)
expect_lqf() {
  local cap=$1 ip=$2 port=$3 f s n=0 lqf_streams other
  f=$(ipf "$ip")
  must_not "$cap" "tcp.flags.reset == 1" "a reset"
  lqf_streams=$(tsh "$cap" -Y "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.analysis.retransmission && $f.dst == $ip && tcp.dstport == $port" -T fields -e tcp.stream | sort -nu)
  other=$(tsh "$cap" -Y "tcp.analysis.retransmission" -T fields -e tcp.stream | sort -nu | grep -vxF -f <(printf '%s\n' $lqf_streams) || true)
  [ -z "$other" ] || die "retransmissions on streams without a retransmitted SYN: $other"
  for s in $lqf_streams; do
    mapfile -t syns < <(frames "$cap" "tcp.stream == $s && tcp.flags.syn == 1 && tcp.flags.ack == 0")
    synack=$(first_frame "$cap" "tcp.stream == $s && tcp.flags.syn == 1 && tcp.flags.ack == 1")
    must "$cap" "tcp.stream == $s && http.response.code == 200" "the 200 on stream $s"
    expect_finding server.listen_queue_full "$s" "${syns[@]}" "$synack"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || die "no SYN was retransmitted in $cap"
  log "$cap: $n streams with retransmitted SYNs"
}

# The fault over the lab path.
start_bg "$TOPO_S" "$LAB_TMP/slow.log" python3 "$lab_dir/servers/slow_accept.py" "$SERVER4" 8080 1 0.25 60
srv=$BG_PID
wait_listen "$TOPO_S" 8080
cap="$LAB_TMP/listen-queue-full.pcapng"
capture_start "$cap" pcapng "tcp or icmp"
burst "$TOPO_C" "$SERVER4" 8080 10 0.06
capture_stop 0.5
expect_begin "slow_accept.py (listen backlog 1, one connection at a time, 0.25 s each) under a burst of 10 GETs 60 ms apart (Python http.client, one connection each): SYNs that meet the full accept queue are dropped and retransmitted 1 s later; every call ends 200"
expect_lqf "$cap" "$SERVER4" 8080
publish "$cap" listen-queue-full.pcapng
expect_write listen-queue-full.pcapng

# The loopback variant: client and server in the server namespace, no gap between connects.
lcap="$LAB_TMP/listen-queue-full-loopback.pcap"
ip netns exec "$TOPO_S" tcpdump -i lo --immediate-mode -U -s 0 -w "$lcap" "tcp port 8081" >"$lcap.log" 2>&1 &
CAP_PID=$!
LAB_PIDS+=("$CAP_PID")
wait_for_log "$lcap.log" "listening on"
start_bg "$TOPO_S" "$LAB_TMP/slow-lo.log" python3 "$lab_dir/servers/slow_accept.py" 127.0.0.1 8081 1 0.1 60
wait_listen "$TOPO_S" 8081
sleep 0.3
burst "$TOPO_S" 127.0.0.1 8081 20 0.01
capture_stop 0.5
expect_begin "loopback: slow_accept.py on 127.0.0.1 (listen backlog 1, 0.1 s per connection) under a burst of 20 GETs 10 ms apart from the same namespace: SYNs that meet the full accept queue are dropped and retransmitted; every call ends 200"
expect_lqf "$lcap" 127.0.0.1 8081
publish "$lcap" listen-queue-full-loopback.pcap
expect_write listen-queue-full-loopback.pcap

# The healthy twin: the same burst against a normal backlog and no work.
kill_pid "$srv"
start_bg "$TOPO_S" "$LAB_TMP/fast.log" python3 "$lab_dir/servers/slow_accept.py" "$SERVER4" 8082 128 0 60
wait_listen "$TOPO_S" 8082
hcap="$LAB_TMP/healthy-listen-burst.pcap"
capture_start "$hcap" pcap "tcp or icmp"
burst "$TOPO_C" "$SERVER4" 8082 10 0.06
capture_stop 0.5
expect_begin "the same burst of 10 GETs 60 ms apart against slow_accept.py with listen backlog 128 and no work: every SYN answered at once, every call 200"
must_not "$hcap" "tcp.analysis.retransmission" "a retransmission"
[ "$(count "$hcap" "http.response.code == 200")" -eq 10 ] || die "expected 10 responses 200"
publish "$hcap" healthy-listen-burst.pcap
expect_write healthy-listen-burst.pcap
