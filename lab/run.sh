#!/usr/bin/env bash
# Rebuilds every capture in captures/ from real traffic: each scenario script builds its own
# namespaces, makes its calls and faults, checks with tshark that the fault is in the packets,
# and only then writes the capture and its *.expected.json (the keyed HTTPS scenarios, https-*
# and healthy-https-keyed, also the clients' key log as captures/NAME.keys). Needs root.
#
#   sudo lab/run.sh              every scenario
#   sudo lab/run.sh refused ...  only the named scenarios (lab/scenarios/NAME.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "run as root (namespaces, packet capture)" >&2; exit 1; }

if [ $# -eq 0 ]; then
  for f in "$here"/scenarios/*.sh; do set -- "$@" "$(basename "$f" .sh)"; done
  "$here/record-http-with-refused.sh"
fi
failed=()
for name in "$@"; do
  script="$here/scenarios/$name.sh"
  [ -x "$script" ] || { echo "no scenario $script" >&2; exit 1; }
  echo "==== $name" >&2
  # Every scenario is bounded in time; a stuck one fails instead of hanging the lab.
  timeout --signal=TERM --kill-after=10 300 "$script" || failed+=("$name")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed scenarios: ${failed[*]}" >&2
  exit 1
fi
echo "all scenarios done" >&2
