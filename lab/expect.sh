# shellcheck shell=bash
# Expected-findings files, written only after tshark has shown the fault is in the packets.
# Source after lib.sh; functions only.
#
#   expect_begin DESCRIPTION
#   expect_finding CODE STREAM FRAME...   (category = the part of CODE before the dot)
#   expect_finding_h2 CODE STREAM H2STREAM FRAME...
#                                          a finding about one HTTP/2 stream: also "h2_stream"
#                                          (the stream id), checked against wire.h2_stream
#   expect_finding_h2s CODE STREAM "H2 H2..." FRAME...
#                                          a finding about several HTTP/2 streams of one
#                                          connection (a GOAWAY's killed calls): "h2_streams"
#   expect_write NAME                      (writes captures/NAME-without-ext.expected.json)
#
# The frames of a finding are the key evidence frames: faultline's evidence for that finding must
# contain every one of them (it may add more). Frames come from tshark queries in the scenario,
# never from faultline.

# tsh FILE ARGS... — tshark on a capture, without its "running as root" notice. With TSH_KEYLOG
# set (the keyed HTTPS scenarios), tshark decrypts TLS with that key log; TSH_ARGS (an array)
# adds options to every query (e.g. -d tcp.port==8081,http2 for h2c on a non-standard port).
TSH_ARGS=()
tsh() {
  local file=$1 rc=0
  shift
  tshark -r "$file" ${TSH_KEYLOG:+-o "tls.keylog_file:$TSH_KEYLOG"} ${TSH_ARGS[@]+"${TSH_ARGS[@]}"} "$@" 2>"${LAB_TMP:-/tmp}/tshark.err" || rc=$?
  grep -v -e '^Running as user' -e 'dumpcap' "${LAB_TMP:-/tmp}/tshark.err" >&2 || true
  return "$rc"
}

# frames FILE FILTER — frame numbers matching a display filter, one per line.
frames() { tsh "$1" -Y "$2" -T fields -e frame.number; }
# first_frame / last_frame FILE FILTER — the first / last matching frame; dies when none matches.
first_frame() {
  local f
  f=$(frames "$1" "$2" | head -n1)
  [ -n "$f" ] || die "tshark: no frame matches '$2' in $1"
  echo "$f"
}
last_frame() {
  local f
  f=$(frames "$1" "$2" | tail -n1)
  [ -n "$f" ] || die "tshark: no frame matches '$2' in $1"
  echo "$f"
}
# field FILE FILTER FIELD — the field of the first matching frame.
field() { tsh "$1" -Y "$2" -T fields -e "$3" | head -n1; }
# count FILE FILTER — how many frames match.
count() { frames "$1" "$2" | wc -l; }
# must FILE FILTER WHAT — dies unless some frame matches (the fault is in the packets).
must() {
  [ "$(count "$1" "$2")" -gt 0 ] || die "the capture does not show $3 (no '$2' in $1)"
}
# must_not FILE FILTER WHAT — dies if any frame matches.
must_not() {
  [ "$(count "$1" "$2")" -eq 0 ] || die "the capture unexpectedly shows $3 ('$2' in $1)"
}

# ipf ADDR — the display-filter protocol for an address: ip or ipv6.
ipf() { case $1 in *:*) echo ipv6 ;; *) echo ip ;; esac; }

EXPECT_DESC='' EXPECT_FINDINGS=()

expect_begin() {
  EXPECT_DESC=$1 EXPECT_FINDINGS=()
}

expect_finding() {
  local code=$1 stream=$2
  shift 2
  local frames_json
  frames_json=$(printf '%s\n' "$@" | sort -n -u | paste -sd, -)
  EXPECT_FINDINGS+=("{\"code\": \"$code\", \"category\": \"${code%%.*}\", \"stream\": $stream, \"evidence_frames\": [$frames_json]}")
}

expect_finding_h2() {
  local code=$1 stream=$2 h2=$3
  shift 3
  local frames_json
  frames_json=$(printf '%s\n' "$@" | sort -n -u | paste -sd, -)
  EXPECT_FINDINGS+=("{\"code\": \"$code\", \"category\": \"${code%%.*}\", \"stream\": $stream, \"h2_stream\": $h2, \"evidence_frames\": [$frames_json]}")
}

expect_finding_h2s() {
  local code=$1 stream=$2 h2s frames_json
  h2s=$(printf '%s\n' $3 | sort -n -u | paste -sd, -)
  shift 3
  frames_json=$(printf '%s\n' "$@" | sort -n -u | paste -sd, -)
  EXPECT_FINDINGS+=("{\"code\": \"$code\", \"category\": \"${code%%.*}\", \"stream\": $stream, \"h2_streams\": [$h2s], \"evidence_frames\": [$frames_json]}")
}

expect_write() {
  local name=$1 out="$CAPTURES/${1%.*}.expected.json" desc
  desc=$(printf '%s' "$EXPECT_DESC" | sed 's/\\/\\\\/g; s/"/\\"/g')
  {
    printf '{\n  "capture": "%s",\n  "made_by": "%s",\n  "description": "%s",\n  "findings": [' \
      "$name" "${LAB_SCENARIO:-lab}" "$desc"
    local i
    for i in "${!EXPECT_FINDINGS[@]}"; do
      [ "$i" -eq 0 ] || printf ','
      printf '\n    %s' "${EXPECT_FINDINGS[$i]}"
    done
    [ ${#EXPECT_FINDINGS[@]} -eq 0 ] || printf '\n  '
    printf ']\n}\n'
  } >"$out"
  log "wrote $out (${#EXPECT_FINDINGS[@]} findings)"
}
