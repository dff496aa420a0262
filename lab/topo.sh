# shellcheck shell=bash disable=SC2034
# The fault lab's topology: client — router/firewall — server, three network namespaces joined by
# veth pairs, IPv4 and IPv6, with a userspace delay line in the router so the path has a WAN-like
# round-trip time. Source after lib.sh; functions only. Needs root.
#
#   ${P}-c  c0 198.18.0.2/24  fd0f:a17:f17:0::2/64         (client: curl, python, capture)
#      |
#   ${P}-r  r0 198.18.0.1/24  fd0f:a17:f17:0::1/64         (router: forwarding, iptables faults,
#           r1 198.18.1.1/24  fd0f:a17:f17:1::1/64          dl0 = TUN delay line, policy-routed)
#      |
#   ${P}-s  s0 198.18.1.2/24  fd0f:a17:f17:1::2/64         (servers)
#
# Routes: the client reaches 198.18.0.0/15 and fd0f:a17::/32 through the router, the server
# reaches them back the same way; the router knows only its two links. Nothing has a default
# route, so no packet can leave the lab. Transit packets that enter the router on r0 or r1 are
# routed into dl0 (table 100), come back out of it DELAY ms later and are forwarded on: each
# direction gets DELAY ms, a round trip 2 x DELAY.

CLIENT4=198.18.0.2 ROUTER4_C=198.18.0.1 ROUTER4_S=198.18.1.1 SERVER4=198.18.1.2
CLIENT6=fd0f:a17:f17:0::2 ROUTER6_C=fd0f:a17:f17:0::1 ROUTER6_S=fd0f:a17:f17:1::1
SERVER6=fd0f:a17:f17:1::2
# Addresses inside the lab's ranges that the router has no route to (net unreachable) and that
# are on the server's link but have no host (host unreachable after neighbour discovery fails).
NOROUTE4=198.19.7.2 NOROUTE6=fd0f:a17:dead::2
NOHOST4=198.18.1.99 NOHOST6=fd0f:a17:f17:1::99

lab_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ns_sysctls NS — IPv6 on without DAD delays (addresses usable at once), no RAs.
ns_sysctls() {
  local ns=$1 k
  for k in all default; do
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$k.disable_ipv6=0"
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$k.accept_dad=0"
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$k.accept_ra=0"
  done
  ip -n "$ns" link set lo up
}

# topo_up PREFIX DELAY_MS [TUN_MTU] — builds the three namespaces and starts the delay line
# (bounded to 15 minutes). Namespaces are registered for lab_cleanup.
topo_up() {
  local p=$1 delay=$2 mtu=${3:-1500}
  TOPO_C=$p-c TOPO_R=$p-r TOPO_S=$p-s
  remove_stale_netns "$TOPO_C" "$TOPO_R" "$TOPO_S"
  local ns
  for ns in "$TOPO_C" "$TOPO_R" "$TOPO_S"; do
    ip netns add "$ns"
    LAB_NETNS+=("$ns")
    ns_sysctls "$ns"
  done
  ip link add c0 netns "$TOPO_C" type veth peer name r0 netns "$TOPO_R"
  ip link add r1 netns "$TOPO_R" type veth peer name s0 netns "$TOPO_S"

  link_up "$TOPO_C" c0 "$CLIENT4/24" "$CLIENT6/64"
  link_up "$TOPO_R" r0 "$ROUTER4_C/24" "$ROUTER6_C/64"
  link_up "$TOPO_R" r1 "$ROUTER4_S/24" "$ROUTER6_S/64"
  link_up "$TOPO_S" s0 "$SERVER4/24" "$SERVER6/64"

  ip -n "$TOPO_C" route add 198.18.0.0/15 via "$ROUTER4_C"
  ip -n "$TOPO_C" -6 route add fd0f:a17::/32 via "$ROUTER6_C"
  ip -n "$TOPO_S" route add 198.18.0.0/15 via "$ROUTER4_S"
  ip -n "$TOPO_S" -6 route add fd0f:a17::/32 via "$ROUTER6_S"

  ip netns exec "$TOPO_R" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$TOPO_R" sysctl -qw net.ipv6.conf.all.forwarding=1
  ip netns exec "$TOPO_R" sysctl -qw net.ipv4.conf.all.rp_filter=0
  ip netns exec "$TOPO_R" sysctl -qw net.ipv4.conf.default.rp_filter=0

  ip netns exec "$TOPO_R" python3 "$lab_here/delayline.py" dl0 "$delay" 900 \
    2>"${LAB_TMP:-/tmp}/delayline-$p.log" &
  LAB_PIDS+=("$!")
  local i
  for ((i = 0; i < 50; i++)); do
    ip -n "$TOPO_R" link show dl0 >/dev/null 2>&1 && break
    sleep 0.1
  done
  ip -n "$TOPO_R" link show dl0 >/dev/null 2>&1 || die "delay line did not create dl0"
  ip netns exec "$TOPO_R" sysctl -qw net.ipv4.conf.dl0.rp_filter=0
  ip -n "$TOPO_R" link set dl0 mtu "$mtu" up
  local fam
  for fam in -4 -6; do
    ip -n "$TOPO_R" "$fam" rule add iif r0 lookup 100 pref 100
    ip -n "$TOPO_R" "$fam" rule add iif r1 lookup 100 pref 101
    ip -n "$TOPO_R" "$fam" route add default dev dl0 table 100
  done
  # The first packets also resolve neighbours; settle that now so captures start clean.
  ip netns exec "$TOPO_C" ping -c1 -W2 "$SERVER4" >/dev/null || die "no IPv4 path client->server"
  ip netns exec "$TOPO_C" ping -6 -c1 -W2 "$SERVER6" >/dev/null || die "no IPv6 path client->server"
}

# link_up NS IF ADDR4 ADDR6 — addresses, link up, offloads off.
link_up() {
  local ns=$1 ifc=$2
  ip -n "$ns" addr add "$3" dev "$ifc"
  ip -n "$ns" -6 addr add "$4" dev "$ifc" nodad
  ip -n "$ns" link set "$ifc" up
  offloads_off "$ns" "$ifc"
}

# in_c / in_r / in_s CMD... — run a command in the client, router or server namespace.
in_c() { ip netns exec "$TOPO_C" "$@"; }
in_r() { ip netns exec "$TOPO_R" "$@"; }
in_s() { ip netns exec "$TOPO_S" "$@"; }

# capture_start FILE KIND [FILTER] — capture at the client. KIND: pcap (tcpdump on c0, Ethernet),
# pcapng (dumpcap on c0, Ethernet), sll2 (tcpdump -i any, Linux cooked v2, pcap).
# Sets CAP_PID; stop with capture_stop.
capture_start() {
  local file=$1 kind=$2 filter=${3:-}
  local log="$file.log"
  # Started with ip netns exec directly (not through a shell function) so that CAP_PID is the
  # capture process itself and SIGINT reaches it; immediate mode so nothing waits in a buffer.
  case $kind in
    pcap) ip netns exec "$TOPO_C" tcpdump -i c0 --immediate-mode -U -s 0 -w "$file" ${filter:+"$filter"} >"$log" 2>&1 & ;;
    sll2) ip netns exec "$TOPO_C" tcpdump -i any -y LINUX_SLL2 --immediate-mode -U -s 0 -w "$file" ${filter:+"$filter"} >"$log" 2>&1 & ;;
    pcapng) ip netns exec "$TOPO_C" dumpcap -i c0 ${filter:+-f "$filter"} -w "$file" >"$log" 2>&1 & ;;
    *) die "unknown capture kind $kind" ;;
  esac
  CAP_PID=$!
  LAB_PIDS+=("$CAP_PID")
  case $kind in
    pcapng) wait_for_log "$log" "Capturing on" ;;
    *) wait_for_log "$log" "listening on" ;;
  esac
  sleep 0.3
}

capture_stop() {
  sleep "${1:-0.5}"
  stop_capture "$CAP_PID"
}

# start_bg NS LOGFILE CMD... — a background process in a namespace, registered for cleanup;
# its PID is in BG_PID.
start_bg() {
  local ns=$1 logfile=$2
  shift 2
  ip netns exec "$ns" "$@" >"$logfile" 2>&1 &
  BG_PID=$!
  LAB_PIDS+=("$BG_PID")
}
