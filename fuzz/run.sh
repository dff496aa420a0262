#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 30) from its seeds in fuzz/corpus/<target>/ (make
# them with fuzz/seed.sh), one target at a time; stops with status 1 at the first crash, timeout
# or out-of-memory, printing the panic and the input kept under fuzz/artifacts/<target>/.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]   Needs cargo-fuzz and a nightly toolchain.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
secs=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(capture_reader decode tcp_reassembly tls http http2 dns said)

cargo +nightly fuzz build

logs=$(mktemp -d /tmp/faultline-fuzz.XXXXXX)
for target in "${targets[@]}"; do
  case $target in
    capture_reader) max_len=262144 ;;
    decode) max_len=16384 ;;
    said) max_len=16384 ;;
    *) max_len=65536 ;;
  esac
  mkdir -p "corpus/$target"
  log="$logs/$target.log"
  start=$(date +%s)
  # -timeout: one input taking longer is a hang (or a superlinear cost), reported as a crash.
  if cargo +nightly fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$secs" -max_len="$max_len" -timeout=25 -rss_limit_mb=2048 \
      -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  if [ -z "$runs" ]; then
    runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  fi
  printf '%-15s %-5s %10s executions in %4s s, corpus %s inputs\n' "$target" "$status" \
    "${runs:-?}" "$(( $(date +%s) - start ))" "$(ls "corpus/$target" | wc -l)"
  if [ "$status" != ok ]; then
    # The panic or sanitizer report, without the input's Debug dump that cargo-fuzz prints.
    grep -m1 -B2 -A25 -E "panicked at|ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)" "$log" \
      | cut -c1-300 || tail -40 "$log"
    ls -1 "artifacts/$target" 2>/dev/null | sed "s|^|artifact: fuzz/artifacts/$target/|"
    echo "full log: $log" >&2
    exit 1
  fi
done
rm -rf "$logs"
