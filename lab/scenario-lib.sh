# shellcheck shell=bash
# Common start of every lab scenario script: helpers, a temp dir, cleanup on every exit.
# A scenario sources this, then calls topo_up, makes its traffic and faults, checks the capture
# with tshark and writes CAPTURE.expected.json beside the capture in captures/.
set -euo pipefail
lab_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$lab_dir/.." && pwd)
# shellcheck source=lab/lib.sh
source "$lab_dir/lib.sh"
# shellcheck source=lab/topo.sh
source "$lab_dir/topo.sh"
# shellcheck source=lab/expect.sh
source "$lab_dir/expect.sh"

require_root
require_cmds ip iptables ip6tables tcpdump dumpcap tshark curl python3 ss ethtool
LAB_SCENARIO="lab/scenarios/$(basename "$0")"
CAPTURES=${LAB_CAPTURES:-$repo/captures}
LAB_TMP=$(mktemp -d /tmp/faultline-lab.XXXXXX)
chmod 755 "$LAB_TMP"
lab_exit() {
  lab_cleanup
  rm -rf "$LAB_TMP"
}
trap lab_exit EXIT
trap 'exit 130' INT TERM
mkdir -p "$CAPTURES"

# publish TMPFILE NAME — copy a checked capture into captures/ under NAME.
publish() {
  cp "$1" "$CAPTURES/$2"
  chmod 644 "$CAPTURES/$2"
  log "wrote $CAPTURES/$2 ($(count "$CAPTURES/$2" frame) frames)"
}

# ccurl ARGS... — curl in the client namespace, bounded in time; prints curl's exit code.
ccurl() {
  local rc=0
  in_c curl --silent --show-error --max-time "${CURL_MAX_TIME:-10}" "$@" >/dev/null 2>>"$LAB_TMP/curl.err" || rc=$?
  echo "$rc"
}
