#!/usr/bin/env bash
# faultline on the hostile captures of issue 15 (floods, damaged clocks, a large realistic mix)
# against tshark on the same files, in the same run.
#
#   (a) cargo build --release (once), then benches/hostile/gen.py writes each capture into a
#       temp dir (deterministic: same kind, count and seed give the same bytes).
#   (b) per capture, RUNS times each (medians of the times, max of the peak RSS):
#         faultline analyze --format json FILE     time, peak RSS, JSON bytes, findings by code
#         tshark -q -r FILE -z conv,tcp            time, peak RSS
#   (c) faultline conns --format json on api-mix: time and peak RSS.
#   Then one table. No root, no network namespaces, no farm-bench.
#
# Usage: benches/hostile.sh [KIND...]   (default: syn-flood dns-flood healthy-2106 api-mix backwards)
# Environment:
#   RUNS (3)            runs of each command; the time is the median
#   FAULTLINE           binary to time (set it to skip cargo build)
#   SYN_COUNT (2000000) DNS_COUNT (1000000) HEALTHY_COUNT (200000 conversations)
#   MIX_COUNT (5000000) BACKWARDS_COUNT (2000 conversations)   generator counts, for quick runs
#   SEED (15)           generator seed
#   TIMEOUT_S (3600)    each command is killed after this (reported as "timeout")
#   KEEP_DIR            keep captures and outputs here instead of a removed temp dir
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lab/lib.sh
source "$repo/lab/lib.sh"

RUNS=${RUNS:-3}
SEED=${SEED:-15}
TIMEOUT_S=${TIMEOUT_S:-3600}
ALL_KINDS=(syn-flood dns-flood healthy-2106 api-mix backwards)
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=("${ALL_KINDS[@]}")

count_of() {
  case $1 in
  syn-flood) echo "${SYN_COUNT:-2000000}" ;;
  dns-flood) echo "${DNS_COUNT:-1000000}" ;;
  healthy-2106) echo "${HEALTHY_COUNT:-200000}" ;;
  api-mix) echo "${MIX_COUNT:-5000000}" ;;
  backwards) echo "${BACKWARDS_COUNT:-2000}" ;;
  *) die "unknown kind $1 (kinds: ${ALL_KINDS[*]})" ;;
  esac
}
for k in "${kinds[@]}"; do count_of "$k" >/dev/null; done

require_cmds python3 tshark capinfos awk sort
[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install -y time)"

if [ -n "${KEEP_DIR:-}" ]; then
  work=$KEEP_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d /tmp/faultline-hostile.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
trap 'exit 130' INT TERM

if [ -z "${FAULTLINE:-}" ]; then
  log "cargo build --release"
  (cd "$repo" && cargo build --release)
  FAULTLINE=$repo/target/release/faultline
fi
[ -x "$FAULTLINE" ] || die "no faultline binary at $FAULTLINE"

# shellcheck source=benches/timing.sh
source "$repo/benches/timing.sh"

rows=()
for kind in "${kinds[@]}"; do
  pcap=$work/$kind.pcap
  count=$(count_of "$kind")
  log "$kind: generating (count $count, seed $SEED)"
  started=$SECONDS
  python3 "$repo/benches/hostile/gen.py" "$kind" "$pcap" --count "$count" --seed "$SEED"
  gen_s=$((SECONDS - started))
  packets=$(capinfos -T -r -M -c "$pcap" 2>/dev/null | cut -f2)

  log "$kind: faultline analyze --format json, $RUNS runs"
  bench "$work/$kind.json" "$FAULTLINE" analyze --format json "$pcap"
  fl_s=$b_s fl_kib=$b_kib fl_fail=$b_fail
  json_bytes=$(stat -c %s "$work/$kind.json")
  read -r nfind top < <(findings_of "$work/$kind.json")
  [ -z "$fl_fail" ] || { fl_s=$fl_fail; nfind=- top=-; }

  log "$kind: tshark -z conv,tcp, $RUNS runs"
  bench /dev/null tshark -q -r "$pcap" -z conv,tcp
  ts_s=$b_s ts_kib=$b_kib
  [ -z "$b_fail" ] || ts_s=$b_fail
  rows+=("$kind|$packets|$gen_s|$fl_s|$ts_s|$fl_kib|$ts_kib|$json_bytes|$nfind|$top")
  [ -n "${KEEP_DIR:-}" ] || rm -f "$work/$kind.json"

  if [ "$kind" = api-mix ]; then
    log "$kind: faultline conns --format json, $RUNS runs"
    bench "$work/$kind.conns.json" "$FAULTLINE" conns --format json "$pcap"
    conns_s=${b_fail:-$b_s} conns_kib=$b_kib
    conns_bytes=$(stat -c %s "$work/$kind.conns.json")
    [ -n "${KEEP_DIR:-}" ] || rm -f "$work/$kind.conns.json"
  fi
  [ -n "${KEEP_DIR:-}" ] || rm -f "$pcap"
done

# ---------------------------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------------------------
printf '\nfaultline analyze --format json vs tshark -q -z conv,tcp (%s, median of %d runs, peak RSS the max)\n' \
  "$("$FAULTLINE" --version 2>/dev/null || echo faultline)" "$RUNS"
printf '%s\n' "${rows[@]}" | awk -F'|' '
function mib(k) { return k ~ /^[0-9]+$/ ? sprintf("%.0f", k / 1024) : "-" }
function ratio(a, b) { return (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) ? sprintf("%.1fx", a / b) : "-" }
BEGIN {
  printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", "capture", "packets", "gen s",
    "faultline s", "tshark s", "faultline/tshark", "RSS MiB (fl / tshark)", "JSON bytes", "findings", "top codes"
  print "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|"
}
{ printf "| %s | %d | %s | %s | %s | %s | %s / %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, ratio($4, $5),
    mib($6), mib($7), $8, $9, $10 }'
if [ -n "${conns_s:-}" ]; then
  awk -v s="$conns_s" -v k="$conns_kib" -v b="$conns_bytes" 'BEGIN {
    printf "\nfaultline conns --format json on api-mix: %s s (median), peak RSS %s MiB, %d bytes of JSON\n",
      s, (k ~ /^[0-9]+$/ ? sprintf("%.0f", k / 1024) : "-"), b }'
fi
