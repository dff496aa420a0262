# shellcheck shell=bash
# Timing helpers shared by the bench scripts (hostile.sh, tls_keys.sh). Source this file; it
# defines functions only. The sourcing script sets $work (a scratch directory), $RUNS and
# $TIMEOUT_S, and has lab/lib.sh's log.

# timed OUT CMD... — runs CMD under GNU time with stdout to OUT; prints "SECONDS MAXRSS_KIB
# CPU_SECONDS" (wall time, peak RSS, user + system time),
# or "timeout"/"error" (faultline analyze exits 0, or 1 for --fail-on; anything else is an error).
timed() {
  local out=$1 rc=0; shift
  /usr/bin/time -f '%e %M %U %S' -o "$work/time.txt" timeout "$TIMEOUT_S" "$@" >"$out" 2>"$work/stderr.txt" || rc=$?
  if [ "$rc" -eq 124 ]; then
    echo timeout
  elif [ "$rc" -gt 1 ]; then
    log "  failed ($rc): $* :: $(tail -n 2 "$work/stderr.txt" | tr '\n' ' ')"
    echo error
  else
    tail -n 1 "$work/time.txt" | awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }'
  fi
}

# median of the numbers on stdin (one per line); "-" when there are none.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# max of the numbers on stdin; "-" when there are none.
maximum() { sort -g | tail -n 1 | awk 'END { print (NR ? $1 : "-") }'; }

# bench OUT CMD... — RUNS runs; sets b_s (median wall seconds), b_cpu (median CPU seconds),
# b_kib (max peak RSS KiB), b_fail.
bench() {
  local out=$1 r res s kib cpu; shift
  : >"$work/times"; : >"$work/cpu"; : >"$work/rss"; b_fail=""
  for ((r = 1; r <= RUNS; r++)); do
    res=$(timed "$out" "$@")
    case $res in
    timeout | error) b_fail=$res; break ;;
    *)
      read -r s kib cpu <<<"$res"
      echo "$s" >>"$work/times"; echo "$cpu" >>"$work/cpu"; echo "$kib" >>"$work/rss"
      ;;
    esac
  done
  b_s=$(median <"$work/times")
  b_cpu=$(median <"$work/cpu")
  b_kib=$(maximum <"$work/rss")
}

# Findings of a faultline JSON report, streamed (a flood's report can be gigabytes): the
# top-level findings are the objects of the "findings" array, whose "code" line is indented
# six spaces in the pretty-printed report. Prints "COUNT TOP" (TOP: "n code, ..." up to 3).
findings_of() {
  LC_ALL=C grep -E '^      "code": "' "$1" | cut -d'"' -f4 | sort | uniq -c | sort -rn |
    awk '{ n += $1; if (NR <= 3) top = top (NR > 1 ? ", " : "") $1 " " $2 } END { print n + 0, (top == "" ? "-" : top) }'
}
