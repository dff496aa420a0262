# shellcheck shell=bash
# DNS in the lab: dnsmasq as the lab's DNS server (in the server namespace, on the server's
# addresses, port 53), and a resolv.conf of the scenario's own for the client namespace
# (`ip netns exec` bind-mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf).
# Source after topo.sh; functions only.

# Zone the lab's dnsmasq serves: api.lab.test has both families, v4only.lab.test only A, every
# other name under lab.test is NXDOMAIN (local domain, never forwarded).
DNS_ZONE_ARGS=(
  --local=/lab.test/
  "--host-record=api.lab.test,$SERVER4,$SERVER6"
  "--host-record=v4only.lab.test,$SERVER4"
)

# start_dnsmasq LOGFILE ARGS... — dnsmasq in the server namespace on port 53 of the server's
# addresses, no upstream unless ARGS give one (--server=...), queries logged to LOGFILE.
start_dnsmasq() {
  local logfile=$1
  shift
  start_bg "$TOPO_S" "$logfile.out" dnsmasq --keep-in-foreground --conf-file=/dev/null \
    --no-resolv --no-hosts --no-poll --bind-interfaces --pid-file= --user=root \
    "--listen-address=$SERVER4" "--listen-address=$SERVER6" --port=53 \
    --log-queries "--log-facility=$logfile" "${DNS_ZONE_ARGS[@]}" "$@"
  wait_listen "$TOPO_S" 53
}

# client_resolv_conf LINES... — the client namespace's /etc/resolv.conf (one line per
# argument), removed again by dns_cleanup.
DNS_NETNS_DIRS=()
client_resolv_conf() {
  local dir=/etc/netns/$TOPO_C
  mkdir -p "$dir"
  DNS_NETNS_DIRS+=("$dir")
  printf '%s\n' "$@" >"$dir/resolv.conf"
}

dns_cleanup() {
  local dir
  for dir in "${DNS_NETNS_DIRS[@]}"; do rm -rf "$dir"; done
}

# cdig ARGS... — dig in the client namespace (bounded by its own +time/+tries); prints the
# status line's rcode (NOERROR, NXDOMAIN, ...) or "timeout".
cdig() {
  local out
  out=$(in_c dig "$@" 2>&1) || true
  case $out in
    *"status: "*) sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out" | head -n1 ;;
    *) echo timeout ;;
  esac
}

# expect_dns_finding CODE NAME QTYPE FRAME... — a DNS finding: it has no TCP stream, it is
# keyed by the name and the type asked (numeric, e.g. 1 for A, 28 for AAAA).
expect_dns_finding() {
  local code=$1 name=$2 qtype=$3
  shift 3
  local frames_json
  frames_json=$(printf '%s\n' "$@" | sort -n -u | paste -sd, -)
  EXPECT_FINDINGS+=("{\"code\": \"$code\", \"category\": \"${code%%.*}\", \"dns\": \"$name $qtype\", \"evidence_frames\": [$frames_json]}")
}

# expect_finding_named CODE STREAM NAME FRAME... — a connection's finding whose server address
# was answered by a DNS lookup of NAME in the capture: the finding carries names.dns = NAME.
expect_finding_named() {
  local code=$1 stream=$2 name=$3
  shift 3
  local frames_json
  frames_json=$(printf '%s\n' "$@" | sort -n -u | paste -sd, -)
  EXPECT_FINDINGS+=("{\"code\": \"$code\", \"category\": \"${code%%.*}\", \"stream\": $stream, \"names_dns\": \"$name\", \"evidence_frames\": [$frames_json]}")
}
