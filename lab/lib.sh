# shellcheck shell=bash
# Helpers shared by the lab and bench scripts: two network namespaces joined by a veth pair,
# nginx inside the server namespace, and process bookkeeping for cleanup.
# Source this file; it defines functions only. Everything here needs root.
#
# Network rules the lab follows: only namespaces it creates, addresses in 198.18.0.0/15,
# no default route, IPv6 off on the lab links, every process killed by its PID on exit.

# PIDs of processes started by the sourcing script (killed by lab_cleanup).
LAB_PIDS=()
# Namespaces created by the sourcing script (deleted by lab_cleanup).
LAB_NETNS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

require_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, packet capture)"
}

require_cmds() {
  local c missing=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] || die "missing commands: ${missing[*]}"
}

# Kill one process we started (SIGTERM, then SIGKILL after ~2 s) and reap it.
kill_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Stop a capture process gracefully (SIGINT makes dumpcap/tcpdump flush and close the file).
stop_capture() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -INT "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill_pid "$pid"
}

# Kill everything we started, then delete our namespaces (which also removes the veths).
lab_cleanup() {
  local pid ns
  for pid in "${LAB_PIDS[@]}"; do kill_pid "$pid"; done
  for ns in "${LAB_NETNS[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
  done
}

# Remove a namespace left behind by an earlier, interrupted run of the same script
# (names are specific to each script, so this never touches anything else).
remove_stale_netns() {
  local ns
  for ns in "$@"; do
    if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
      log "removing stale namespace $ns from an earlier run"
      # Processes still inside it belong to the interrupted run of this script.
      local pid
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill_pid "$pid"; done
      ip netns del "$ns"
    fi
  done
}

# netns_pair CLIENT_NS SERVER_NS CLIENT_IF SERVER_IF CLIENT_ADDR/LEN SERVER_ADDR/LEN
# Creates both namespaces, a veth pair between them, addresses, no default route,
# IPv6 disabled (no ND/RS noise), and offloads off so the capture shows real wire segments
# with correct checksums.
netns_pair() {
  local cns=$1 sns=$2 cif=$3 sif=$4 caddr=$5 saddr=$6
  ip netns add "$cns"; LAB_NETNS+=("$cns")
  ip netns add "$sns"; LAB_NETNS+=("$sns")
  ip link add "$cif" netns "$cns" type veth peer name "$sif" netns "$sns"
  local ns ifc addr
  for ns in "$cns" "$sns"; do
    if [ "$ns" = "$cns" ]; then ifc=$cif addr=$caddr; else ifc=$sif addr=$saddr; fi
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$addr" dev "$ifc"
    ip -n "$ns" link set "$ifc" up
    offloads_off "$ns" "$ifc"
  done
}

# Segmentation/receive offloads off (real MSS-sized segments on the wire) and TX checksum
# offload off (otherwise veth captures carry unfilled checksums, which Zeek discards).
offloads_off() {
  local ns=$1 ifc=$2
  if command -v ethtool >/dev/null 2>&1; then
    ip netns exec "$ns" ethtool -K "$ifc" tso off gso off gro off tx off >/dev/null 2>&1 ||
      log "warning: ethtool -K $ifc failed; capture may contain offloaded super-segments"
  else
    log "warning: ethtool not installed (apt-get install -y ethtool); offloads stay on"
  fi
}

# write_nginx_conf DIR LISTEN_ADDR EXTRA_HTTP_DIRECTIVES
# Minimal nginx.conf serving DIR/www, with every path (pid, logs, temp dirs) inside DIR.
write_nginx_conf() {
  local dir=$1 listen=$2 extra=${3:-}
  mkdir -p "$dir/www" "$dir/logs" "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  default_type application/octet-stream;
  types { application/json json; }
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server_tokens off;
  $extra
  server {
    listen $listen;
    root $dir/www;
  }
}
EOF
  # nginx workers run as nobody: the tree (and every parent of DIR) must be world-readable.
  chmod -R a+rX "$dir"
}

# start_nginx NS DIR — runs nginx in the foreground (daemon off) as a background job.
start_nginx() {
  local ns=$1 dir=$2
  ip netns exec "$ns" nginx -e "$dir/logs/error.log" -p "$dir" -c "$dir/nginx.conf" \
    >"$dir/logs/stdout.log" 2>&1 &
  LAB_PIDS+=("$!")
}

# wait_listen NS PORT — wait (up to ~5 s) until something listens on PORT inside NS,
# checked with ss so that no packet is sent before the capture starts.
wait_listen() {
  local ns=$1 port=$2 i
  for ((i = 0; i < 50; i++)); do
    if ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q .; then return 0; fi
    sleep 0.1
  done
  die "nothing listening on port $port in namespace $ns after 5 s"
}

# wait_for_log FILE PATTERN — wait (up to ~5 s) until a capture tool reports it is capturing.
wait_for_log() {
  local file=$1 pattern=$2 i
  for ((i = 0; i < 50; i++)); do
    if grep -q "$pattern" "$file" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  cat "$file" >&2 || true
  die "capture did not start (no '$pattern' in $file after 5 s)"
}
