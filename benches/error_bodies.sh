#!/usr/bin/env bash
# What reading error bodies costs (issue 18): faultline on a capture of healthy JSON API calls
# with a handful of errors, with body inspection off (--error-body-bytes 0) and on (the
# default, 8 KiB of each 3xx-5xx or GraphQL answer), and tshark on the same file, in one run.
#
#   (a) cargo build --release (once), then benches/error_bodies/gen.py writes the capture:
#       CALLS calls (10,000) on CONNS keep-alive HTTP/1.1 connections (300), JSON bodies of
#       0.5-4 KiB, and ten error answers in the shapes the issue names (bearer 401, APIG 403,
#       problem+json 404 and gzip 400, RateLimit 429, 503, Google 403 gzip, 410 Sunset, nginx's
#       502 page, GraphQL errors in a 200).
#   (b) RUNS times each (medians of the times, max of the peak RSS):
#         faultline analyze --format json --error-body-bytes 0 FILE     (inspection off)
#         faultline analyze --format json FILE                          (inspection on)
#         tshark -n -r FILE -Y http.response -T fields -e http.response.code
#       (the display filter makes tshark dissect every HTTP message, bodies decompressed)
#   Then one table, and faultline's on/off ratio in wall and CPU time (user + system: steadier
#   on a shared machine). The issue's bound: inspection on costs at most 10 % more (ratio
#   <= 1.10); bodies of successful answers are not parsed. It is measured here, not asserted by
#   a timed test. A faultline without --error-body-bytes is timed with its defaults only, and
#   the script says so.
#
# Usage: benches/error_bodies.sh
# Environment:
#   RUNS (5)            runs of each command; the time is the median
#   FAULTLINE           binary to time (set it to skip cargo build)
#   CALLS (10000)       calls in the capture; CONNS (300) connections
#   SEED (18)           generator seed
#   TIMEOUT_S (3600)    each command is killed after this (reported as "timeout")
#   KEEP_DIR            keep the capture and outputs here instead of a removed temp dir
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lab/lib.sh
source "$repo/lab/lib.sh"
# shellcheck source=benches/timing.sh
source "$repo/benches/timing.sh"

RUNS=${RUNS:-5}
SEED=${SEED:-18}
CALLS=${CALLS:-10000}
CONNS=${CONNS:-300}
TIMEOUT_S=${TIMEOUT_S:-3600}

require_cmds python3 tshark capinfos awk sort
[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install -y time)"

if [ -n "${KEEP_DIR:-}" ]; then
  work=$KEEP_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d /tmp/faultline-error-bodies.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
trap 'exit 130' INT TERM

if [ -z "${FAULTLINE:-}" ]; then
  log "cargo build --release"
  (cd "$repo" && cargo build --release)
  FAULTLINE=$repo/target/release/faultline
fi
[ -x "$FAULTLINE" ] || die "no faultline binary at $FAULTLINE"
has_flag=0
if "$FAULTLINE" analyze --help | grep -q -- --error-body-bytes; then
  has_flag=1
else
  log "note: $FAULTLINE has no --error-body-bytes: timing its defaults only (no on/off ratio)"
fi

pcap=$work/error-bodies.pcap
log "generating $CALLS calls on $CONNS connections (seed $SEED)"
python3 "$repo/benches/error_bodies/gen.py" "$pcap" --calls "$CALLS" --conns "$CONNS" --seed "$SEED"
packets=$(capinfos -T -r -M -c "$pcap" 2>/dev/null | cut -f2)
bytes=$(stat -c %s "$pcap")

rows=()
# shellcheck disable=SC2034 # read through ratio's nameref
declare -A secs cpus
# calls_of REPORT — "N calls, F failed" from a faultline JSON report.
calls_of() {
  python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["calls"]; print("%d calls, %d failed" % (c["total"], c["failed"]))' "$1" 2>/dev/null || echo "no report"
}
# faultline_row LABEL EXTRA_ARGS... — one faultline row: time, RSS, calls and findings.
faultline_row() {
  local label=$1 out=$work/$1.json
  shift
  log "$label: $RUNS runs"
  bench "$out" "$FAULTLINE" analyze --format json "$@" "$pcap"
  local s=${b_fail:-$b_s} nfind top
  read -r nfind top < <(findings_of "$out")
  rows+=("$label|$s|$b_cpu|$b_kib|$(calls_of "$out"); $nfind findings: $top")
  secs[$label]=$s cpus[$label]=$b_cpu
}
[ "$has_flag" -eq 0 ] || faultline_row "faultline-bodies-off" --error-body-bytes 0
faultline_row "faultline-bodies-on"

log "tshark: $RUNS runs"
bench "$work/tshark.txt" tshark -n -r "$pcap" -Y http.response -T fields -e http.response.code
found=$(awk 'NF { n++; if ($1 >= 400) f++ } END { printf "%d responses, %d 4xx/5xx", n, f }' "$work/tshark.txt")
rows+=("tshark|${b_fail:-$b_s}|$b_cpu|$b_kib|$found")
# shellcheck disable=SC2034
secs[tshark]=${b_fail:-$b_s} cpus[tshark]=$b_cpu

printf '\nerror bodies: %d calls on %d connections, %d packets, %d MB; %s, median of %d runs, peak RSS the max\n' \
  "$CALLS" "$CONNS" "$packets" $((bytes / 1000000)) "$("$FAULTLINE" --version 2>/dev/null || echo faultline)" "$RUNS"
printf '%s\n' "${rows[@]}" | awk -F'|' '
function mib(k) { return k ~ /^[0-9]+$/ ? sprintf("%.0f", k / 1024) : "-" }
BEGIN { print "| run | wall s | CPU s | RSS MiB | found |"; print "|---|--:|--:|--:|---|" }
{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, mib($4), $5 }'
echo
if [ "$has_flag" -eq 0 ]; then
  echo "no on/off ratio: this faultline has no --error-body-bytes option yet"
  exit 0
fi
# ratio WHAT ARRAY_NAME — faultline on/off and faultline(on)/tshark.
ratio() {
  local -n t=$2
  awk -v what="$1" -v on="${t[faultline-bodies-on]}" -v off="${t[faultline-bodies-off]}" -v ts="${t[tshark]}" '
function num(x) { return x ~ /^[0-9.]+$/ && x > 0 }
function r(a, b) { return (num(a) && num(b)) ? sprintf("%.2fx", a / b) : "-" }
BEGIN { printf "%s: faultline bodies on/off %s (issue 18 bound: <= 1.10x); faultline/tshark %s\n", what, r(on, off), r(on, ts) }'
}
ratio "wall time" secs
ratio "CPU time " cpus
