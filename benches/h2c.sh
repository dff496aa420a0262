#!/usr/bin/env bash
# h2c against HTTP/1.1 (issue 17): faultline's bytes per second on a capture of many HTTP/2
# streams against the same calls on keep-alive HTTP/1.1, and tshark on both, in the same run.
#
#   (a) cargo build --release (once), then benches/h2c/gen.py writes the h2c capture (real
#       HTTP/2 bytes from the `h2` library's state machines: HPACK with the dynamic table,
#       1-10 concurrent streams, DATA of a few KB, ~5 % 404) and, with --http1, the same calls
#       on HTTP/1.1 into a temp dir.
#   (b) RUNS times each (medians of the times, max of the peak RSS):
#         faultline analyze --format json FILE
#         tshark -n -r FILE -d tcp.port==8080,http2 -Y http2.headers.status -T fields ...
#         tshark -n -r FILE -Y http.response -T fields -e http.response.code
#       (the display filters make tshark dissect every message; without them it reads little)
#   Then one table: wall and CPU seconds, MB/s of capture, peak RSS, what each found; the
#   h2c/HTTP1 throughput ratio of each tool and faultline/tshark. The issue's bound: faultline
#   reads h2c at no fewer bytes per second than HTTP/1.1 (ratio >= 1). It is measured here, not
#   asserted by a timed test.
#
# Usage: benches/h2c.sh
# Environment:
#   RUNS (5)            runs of each command; the time is the median
#   FAULTLINE           binary to time (set it to skip cargo build)
#   COUNT (300)         connections (20-200 calls each, ~800 KB each); COUNT=10 for a smoke run
#   SEED (17)           generator seed
#   TIMEOUT_S (3600)    each command is killed after this (reported as "timeout")
#   KEEP_DIR            keep the captures and outputs here instead of a removed temp dir
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lab/lib.sh
source "$repo/lab/lib.sh"
# shellcheck source=benches/timing.sh
source "$repo/benches/timing.sh"

RUNS=${RUNS:-5}
SEED=${SEED:-17}
COUNT=${COUNT:-300}
TIMEOUT_S=${TIMEOUT_S:-3600}

require_cmds python3 tshark capinfos awk sort
[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install -y time)"
python3 -c 'import h2' 2>/dev/null || die "python3 has no h2 (pip install h2)"

if [ -n "${KEEP_DIR:-}" ]; then
  work=$KEEP_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d /tmp/faultline-h2c.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
trap 'exit 130' INT TERM

if [ -z "${FAULTLINE:-}" ]; then
  log "cargo build --release"
  (cd "$repo" && cargo build --release)
  FAULTLINE=$repo/target/release/faultline
fi
[ -x "$FAULTLINE" ] || die "no faultline binary at $FAULTLINE"

h2c=$work/h2c.pcap http1=$work/http1.pcap
log "generating $COUNT h2c connections and their HTTP/1.1 twin (seed $SEED)"
python3 "$repo/benches/h2c/gen.py" "$h2c" --count "$COUNT" --seed "$SEED"
python3 "$repo/benches/h2c/gen.py" "$http1" --count "$COUNT" --seed "$SEED" --http1

rows=()
declare -A secs cpus bytes
bytes[h2c]=$(stat -c %s "$h2c")
bytes[http1]=$(stat -c %s "$http1")
# calls_of REPORT — "N calls, F failed" from a faultline JSON report.
calls_of() {
  python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["calls"]; print("%d calls, %d failed" % (c["total"], c["failed"]))' "$1" 2>/dev/null || echo "no report"
}
# mbps BYTES SECONDS — megabytes of capture per second.
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { print (s ~ /^[0-9.]+$/ && s > 0) ? sprintf("%.0f", b / s / 1e6) : "-" }'; }
# faultline_row KIND FILE — one faultline row: time, RSS, throughput, calls and findings.
faultline_row() {
  local kind=$1 label=faultline-$1 out=$work/faultline-$1.json
  log "faultline analyze $kind: $RUNS runs"
  bench "$out" "$FAULTLINE" analyze --format json "$2"
  local s=${b_fail:-$b_s} nfind top
  read -r nfind top < <(findings_of "$out")
  rows+=("$label|$s|$b_cpu|$(mbps "${bytes[$kind]}" "$b_cpu")|$b_kib|$(calls_of "$out"); $nfind findings: $top")
  secs[$label]=$s cpus[$label]=$b_cpu
}
faultline_row h2c "$h2c"
faultline_row http1 "$http1"

# tshark_row KIND FIELD ARGS... — one tshark row: time, RSS, throughput, statuses found.
tshark_row() {
  local kind=$1 label=tshark-$1 field=$2 out=$work/tshark-$1.txt; shift 2
  log "tshark $kind: $RUNS runs"
  bench "$out" tshark -n -r "$@" -T fields -E aggregator=/s -e "$field"
  local s=${b_fail:-$b_s} found
  found=$(tr ' ' '\n' <"$out" | awk 'NF { n++; if ($1 >= 400) f++ } END { printf "%d responses, %d 4xx/5xx", n, f }')
  rows+=("$label|$s|$b_cpu|$(mbps "${bytes[$kind]}" "$b_cpu")|$b_kib|$found")
  secs[$label]=$s cpus[$label]=$b_cpu
}
tshark_row h2c http2.headers.status "$h2c" -d tcp.port==8080,http2 -Y http2.headers.status
tshark_row http1 http.response.code "$http1" -Y http.response

packets() { capinfos -T -r -M -c "$1" 2>/dev/null | cut -f2; }
printf '\nh2c vs HTTP/1.1, %d connections: h2c %d packets, %d MB; HTTP/1.1 %d packets, %d MB; %s, median of %d runs, MB/s of CPU time, peak RSS the max\n' \
  "$COUNT" "$(packets "$h2c")" $((bytes[h2c] / 1000000)) "$(packets "$http1")" $((bytes[http1] / 1000000)) \
  "$("$FAULTLINE" --version 2>/dev/null || echo faultline)" "$RUNS"
printf '%s\n' "${rows[@]}" | awk -F'|' '
function mib(k) { return k ~ /^[0-9]+$/ ? sprintf("%.0f", k / 1024) : "-" }
BEGIN { print "| run | wall s | CPU s | MB/s | RSS MiB | found |"; print "|---|--:|--:|--:|--:|---|" }
{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, mib($5), $6 }'
# ratios LABEL SECONDS_ARRAY_NAME — each tool's h2c/HTTP1 bytes-per-second ratio and
# faultline/tshark time ratios.
ratios() {
  local -n t=$2
  awk -v what="$1" -v fh="${t[faultline-h2c]}" -v f1="${t[faultline-http1]}" \
    -v th="${t[tshark-h2c]}" -v t1="${t[tshark-http1]}" -v bh="${bytes[h2c]}" -v b1="${bytes[http1]}" '
function num(x) { return x ~ /^[0-9.]+$/ && x > 0 }
function rate(a, b) { return (num(a) && num(b)) ? sprintf("%.2fx", (bh / a) / (b1 / b)) : "-" }
function ratio(a, b) { return (num(a) && num(b)) ? sprintf("%.2fx", a / b) : "-" }
BEGIN {
  printf "%s: h2c/HTTP1 bytes per second: faultline %s (issue 17 bound: >= 1), tshark %s; faultline/tshark time: h2c %s, HTTP/1.1 %s\n",
    what, rate(fh, f1), rate(th, t1), ratio(fh, th), ratio(f1, t1)
}'
}
echo
ratios "wall time" secs
ratios "CPU time " cpus
