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
#   Then one table with the keys/no-keys ratio of each tool and faultline against tshark.
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

rows=()
declare -A secs
# calls_of REPORT — "N calls, F failed" from a faultline JSON report.
calls_of() {
  python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["calls"]; print("%d calls, %d failed" % (c["total"], c["failed"]))' "$1" 2>/dev/null || echo "no report"
}
# faultline_row LABEL EXTRA_ARGS... — one faultline row: time, RSS, calls and findings.
faultline_row() {
  local label=$1 out=$work/$1.json; shift
  log "faultline analyze $*: $RUNS runs"
  bench "$out" "$FAULTLINE" analyze --format json --no-system-ca --ca-file "$ca" "$@" "$pcap"
  local s=${b_fail:-$b_s} kib=$b_kib nfind top
  read -r nfind top < <(findings_of "$out")
  rows+=("$label|$s|$kib|$(calls_of "$out"); $nfind findings: $top")
  secs[$label]=$s
}
faultline_row faultline-no-keys
faultline_row faultline-keys --keylog "$keys"

# tshark_row LABEL EXTRA_ARGS... — one tshark row: time, RSS, HTTP messages found.
tshark_row() {
  local label=$1 out=$work/$1.txt; shift
  log "tshark $* -Y http: $RUNS runs"
  bench "$out" tshark -n -r "$pcap" "$@" -Y http -T fields -e frame.number -e http.response.code
  local s=${b_fail:-$b_s} kib=$b_kib http responses
  http=$(wc -l <"$out")
  responses=$(awk -F'\t' '$2 != ""' "$out" | wc -l)
  rows+=("$label|$s|$kib|$http HTTP frames, $responses responses")
  secs[$label]=$s
}
tshark_row tshark-no-keys
tshark_row tshark-keys -o "tls.keylog_file:$keys"

printf '\nkeys vs no keys on %d HTTPS connections: %d packets, %d MB (generated in %d s); %s, median of %d runs, peak RSS the max\n' \
  "$COUNT" "$packets" $((bytes / 1000000)) "$gen_s" "$("$FAULTLINE" --version 2>/dev/null || echo faultline)" "$RUNS"
printf '%s\n' "${rows[@]}" | awk -F'|' '
function mib(k) { return k ~ /^[0-9]+$/ ? sprintf("%.0f", k / 1024) : "-" }
BEGIN { print "| run | s | RSS MiB | found |"; print "|---|--:|--:|---|" }
{ printf "| %s | %s | %s | %s |\n", $1, $2, mib($3), $4 }'
awk -v fk="${secs[faultline-keys]}" -v fn="${secs[faultline-no-keys]}" \
  -v tk="${secs[tshark-keys]}" -v tn="${secs[tshark-no-keys]}" '
function ratio(a, b) { return (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) ? sprintf("%.2fx", a / b) : "-" }
BEGIN {
  printf "\nfaultline keys/no keys: %s (issue 16 bound: 2x)   tshark keys/no keys: %s\n", ratio(fk, fn), ratio(tk, tn)
  printf "faultline/tshark: no keys %s, keys %s\n", ratio(fn, tn), ratio(fk, tk)
}'
