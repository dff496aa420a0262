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
#   expect_quote WORDS                     the last finding must quote WORDS: its summary (or a
#                                          string of its server_said) contains them, case-sensitive;
#                                          written as "quotes": [...]. Checked first with tshark:
#                                          one of the finding's key frames in EXPECT_CAP shows WORDS
#                                          in the (decompressed) body or a header that carries them
#   expect_quote_from FILE WORDS           the same, for words tshark cannot show: checked in FILE
#                                          (the server's source) instead
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

EXPECT_DESC='' EXPECT_FINDINGS=() EXPECT_QUOTES=() EXPECT_CAP='' EXPECT_LAST_FRAMES=''

expect_begin() {
  EXPECT_DESC=$1 EXPECT_FINDINGS=() EXPECT_QUOTES=()
}

# The fields a server's words can be in, as tshark shows them (bodies decompressed: gzip,
# deflate, br) and the request's Accept (a 406 names what the client asked for).
QUOTE_FIELDS=(http.file_data json.value.string http.www_authenticate http.location http.upgrade
  http.server http.response.phrase http.accept http.content_type)

expect_quote() {
  local words=$1 esc f filter=''
  [ ${#EXPECT_FINDINGS[@]} -gt 0 ] || die "expect_quote before any expect_finding"
  [ -n "$EXPECT_CAP" ] || die "expect_quote needs EXPECT_CAP (the capture the frames are in)"
  esc=$(printf '%s' "$words" | sed 's/\\/\\\\/g; s/"/\\"/g')
  for f in "${QUOTE_FIELDS[@]}"; do filter+="${filter:+ || }$f contains \"$esc\""; done
  [ "$(count "$EXPECT_CAP" "frame.number in {$EXPECT_LAST_FRAMES} && ($filter)")" -gt 0 ] ||
    die "no key frame ($EXPECT_LAST_FRAMES) of the last finding shows '$words' in $EXPECT_CAP"
  quote_add "$words"
}

expect_quote_from() {
  grep -qF -- "$2" "$1" || die "'$2' is not in $1"
  quote_add "$2"
}

quote_add() {
  local i=$((${#EXPECT_FINDINGS[@]} - 1)) j
  j=$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')
  EXPECT_QUOTES[i]="${EXPECT_QUOTES[i]:+${EXPECT_QUOTES[i]}, }\"$j\""
}

expect_finding() {
  local code=$1 stream=$2
  shift 2
  local frames_json
  frames_json=$(printf '%s\n' "$@" | sort -n -u | paste -sd, -)
  EXPECT_LAST_FRAMES=$(printf '%s\n' "$@" | paste -sd, -)
  EXPECT_FINDINGS+=("{\"code\": \"$code\", \"category\": \"${code%%.*}\", \"stream\": $stream, \"evidence_frames\": [$frames_json]}")
}

expect_finding_h2() {
  local code=$1 stream=$2 h2=$3
  shift 3
  local frames_json
  frames_json=$(printf '%s\n' "$@" | sort -n -u | paste -sd, -)
  EXPECT_LAST_FRAMES=$(printf '%s\n' "$@" | paste -sd, -)
  EXPECT_FINDINGS+=("{\"code\": \"$code\", \"category\": \"${code%%.*}\", \"stream\": $stream, \"h2_stream\": $h2, \"evidence_frames\": [$frames_json]}")
}

expect_finding_h2s() {
  local code=$1 stream=$2 h2s frames_json
  h2s=$(printf '%s\n' $3 | sort -n -u | paste -sd, -)
  shift 3
  frames_json=$(printf '%s\n' "$@" | sort -n -u | paste -sd, -)
  EXPECT_LAST_FRAMES=$(printf '%s\n' "$@" | paste -sd, -)
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
      if [ -n "${EXPECT_QUOTES[i]:-}" ]; then
        printf '\n    %s, "quotes": [%s]}' "${EXPECT_FINDINGS[$i]%\}}" "${EXPECT_QUOTES[i]}"
      else
        printf '\n    %s' "${EXPECT_FINDINGS[$i]}"
      fi
    done
    [ ${#EXPECT_FINDINGS[@]} -eq 0 ] || printf '\n  '
    printf ']\n}\n'
  } >"$out"
  log "wrote $out (${#EXPECT_FINDINGS[@]} findings)"
}
