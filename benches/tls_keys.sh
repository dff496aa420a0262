#!/usr/bin/env bash
# What a key log costs (issue 16): faultline on an all-HTTPS capture with its keys against the
# same capture without them, and tshark the same way, in the same run.
#
#   (a) cargo build --release (once), then benches/tls/gen.py writes the capture, its key log
#       and the CA that signed its server certificate into a temp dir.
#   (b) RUNS times each (medians of the times, max of the peak RSS):
#         faultline analyze --format json --ca-file CA FILE                 (no keys)
#         faultline analyze --format json --ca-file CA --keylog KEYS FILE   (decrypts)
#         tshark -n -r FILE -Y http -T fields -e frame.number               (no keys)
#         tshark -n -r FILE -o tls.keylog_file:KEYS -Y http -T fields ...    (decrypts: the
#                                                                             display filter
#                                                                             makes it dissect
#                                                                             the plaintext)
#   (c) the same RUNS for both tools on the plain twin (gen.py --plain: the same HTTP in clear
#       on port 80), which separates decrypting from what the plaintext then costs.
#   Then one table, and the keys/no-keys ratio of each tool and faultline against tshark, in
#   wall time and in CPU time (user + system: steadier on a machine shared with other work).
#   The issue's bound: faultline with keys costs at most 2x faultline without.
#
# Usage: benches/tls_keys.sh
# Environment:
#   RUNS (3)            runs of each command; the time is the median
#   FAULTLINE           binary to time (set it to skip cargo build)
#   COUNT (1000)        TLS connections (~310 packets each); COUNT=30 for a smoke run
#   SEED (16)           generator seed
#   TIMEOUT_S (3600)    each command is killed after this (reported as "timeout")
#   KEEP_DIR            keep the capture, keys and outputs here instead of a removed temp dir
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lab/lib.sh
source "$repo/lab/lib.sh"
# shellcheck source=benches/timing.sh
source "$repo/benches/timing.sh"

RUNS=${RUNS:-3}
SEED=${SEED:-16}
COUNT=${COUNT:-1000}
TIMEOUT_S=${TIMEOUT_S:-3600}

require_cmds python3 openssl tshark capinfos awk sort
[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install -y time)"

if [ -n "${KEEP_DIR:-}" ]; then
  work=$KEEP_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d /tmp/faultline-tls-keys.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
trap 'exit 130' INT TERM

if [ -z "${FAULTLINE:-}" ]; then
  log "cargo build --release"
  (cd "$repo" && cargo build --release)
  FAULTLINE=$repo/target/release/faultline
fi
[ -x "$FAULTLINE" ] || die "no faultline binary at $FAULTLINE"
"$FAULTLINE" analyze --help | grep -q -- --keylog || die "$FAULTLINE has no --keylog"

pcap=$work/https.pcap keys=$work/https.keys ca=$work/https.ca.pem
log "generating $COUNT HTTPS connections (seed $SEED)"
started=$SECONDS
python3 "$repo/benches/tls/gen.py" "$pcap" --count "$COUNT" --seed "$SEED"
gen_s=$((SECONDS - started))
packets=$(capinfos -T -r -M -c "$pcap" 2>/dev/null | cut -f2)
bytes=$(stat -c %s "$pcap")
plain=$work/plain.pcap
python3 "$repo/benches/tls/gen.py" "$plain" --count "$COUNT" --seed "$SEED" --plain

rows=()
declare -A secs cpus
# calls_of REPORT — "N calls, F failed" from a faultline JSON report.
calls_of() {
  python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["calls"]; print("%d calls, %d failed" % (c["total"], c["failed"]))' "$1" 2>/dev/null || echo "no report"
}
# faultline_row LABEL EXTRA_ARGS... — one faultline row: time, RSS, calls and findings.
faultline_row() {
  local label=$1 out=$work/$1.json; shift
  log "faultline analyze $*: $RUNS runs"
  bench "$out" "$FAULTLINE" analyze --format json --no-system-ca --ca-file "$ca" "$@"
  local s=${b_fail:-$b_s} kib=$b_kib nfind top
  read -r nfind top < <(findings_of "$out")
  rows+=("$label|$s|$b_cpu|$kib|$(calls_of "$out"); $nfind findings: $top")
  secs[$label]=$s cpus[$label]=$b_cpu
}
faultline_row faultline-no-keys "$pcap"
faultline_row faultline-keys --keylog "$keys" "$pcap"
faultline_row faultline-plain-twin "$plain"

# tshark_row LABEL EXTRA_ARGS... — one tshark row: time, RSS, HTTP messages found.
tshark_row() {
  local label=$1 out=$work/$1.txt; shift
  log "tshark $* -Y http: $RUNS runs"
  bench "$out" tshark -n -r "$@" -Y http -T fields -e frame.number -e http.response.code
  local s=${b_fail:-$b_s} kib=$b_kib http responses
  http=$(wc -l <"$out")
  responses=$(awk -F'\t' '$2 != ""' "$out" | wc -l)
  rows+=("$label|$s|$b_cpu|$kib|$http HTTP frames, $responses responses")
  secs[$label]=$s cpus[$label]=$b_cpu
}
tshark_row tshark-no-keys "$pcap"
tshark_row tshark-keys "$pcap" -o "tls.keylog_file:$keys"
tshark_row tshark-plain-twin "$plain"

printf '\nkeys vs no keys on %d HTTPS connections: %d packets, %d MB (generated in %d s); %s, median of %d runs, peak RSS the max\n' \
  "$COUNT" "$packets" $((bytes / 1000000)) "$gen_s" "$("$FAULTLINE" --version 2>/dev/null || echo faultline)" "$RUNS"
printf '%s\n' "${rows[@]}" | awk -F'|' '
function mib(k) { return k ~ /^[0-9]+$/ ? sprintf("%.0f", k / 1024) : "-" }
BEGIN { print "| run | wall s | CPU s | RSS MiB | found |"; print "|---|--:|--:|--:|---|" }
{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, mib($4), $5 }'
# ratios LABEL SECONDS_ARRAY_NAME — the keys/no-keys ratio of each tool and faultline/tshark.
ratios() {
  local -n t=$2
  awk -v what="$1" -v fk="${t[faultline-keys]}" -v fn="${t[faultline-no-keys]}" \
    -v tk="${t[tshark-keys]}" -v tn="${t[tshark-no-keys]}" \
    -v fp="${t[faultline-plain-twin]}" -v tp="${t[tshark-plain-twin]}" '
function ratio(a, b) { return (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) ? sprintf("%.2fx", a / b) : "-" }
BEGIN {
  printf "%s: keys/no keys: faultline %s (issue 16 bound: 2x), tshark %s; keys/plain twin: faultline %s, tshark %s; faultline/tshark: no keys %s, keys %s\n",
    what, ratio(fk, fn), ratio(tk, tn), ratio(fk, fp), ratio(tk, tp), ratio(fn, tn), ratio(fk, tk)
}'
}
echo
ratios "wall time" secs
ratios "CPU time " cpus
