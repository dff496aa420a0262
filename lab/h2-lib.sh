# shellcheck shell=bash
# The HTTP/2 and gRPC scenarios' common part: tshark's dissection of every HTTP/2 frame
# (lab/h2frames.py), indexed once per capture, and the key frames of the HTTP/2 findings read
# from it. Source after scenario-lib.sh. Nothing here parses HTTP/2: every row is a frame tshark
# shows (frame number = the packet that carries, or completes, the HTTP/2 frame).
#
#   h2_index CAP [TSHARK_OPTION...]  dissect CAP (e.g. -d tcp.port==8081,http2 for h2c on a
#                                    non-standard port; TSH_KEYLOG decrypts TLS); sets H2_TSV
#   h2_rows AWK_CONDITION            rows matching, columns: $1 frame $2 tcp.stream $3 srcport
#                                    $4 dstport $5 h2 stream $6 type $7 flags $8 error code
#                                    $9 last-stream-id $10 :status $11 grpc-status $12 :path
#   h2_req TCP H2 SPORT              the first frame of the client's request HEADERS on H2
#                                    (client = the side whose dstport is the server's SPORT)
#   h2_status TCP H2 SPORT CODE      the server's HEADERS frame with :status CODE on H2
#   h2_rst TCP H2 FROMPORT ERR       the first RST_STREAM with error ERR sent from FROMPORT
#   h2_grpc TCP H2 SPORT CODE        the server's HEADERS frame with grpc-status CODE on H2
#   h2_stream_of TCP PATH SPORT      the h2 stream id of the single request for :path PATH
#   tcp_of PATH SPORT                the tcp.stream of the single h2 request for :path PATH
#
# Frame types: 0 DATA, 1 HEADERS, 3 RST_STREAM, 4 SETTINGS, 6 PING, 7 GOAWAY, 8 WINDOW_UPDATE.
# Error codes: 0 NO_ERROR, 1 PROTOCOL_ERROR, 2 INTERNAL_ERROR, 3 FLOW_CONTROL_ERROR, 7
# REFUSED_STREAM, 8 CANCEL, 11 ENHANCE_YOUR_CALM.

H2_TSV=''
h2_index() {
  local cap=$1
  shift
  H2_TSV=$LAB_TMP/h2-$(basename "$cap").tsv
  python3 "$lab_dir/h2frames.py" "$cap" ${TSH_KEYLOG:+-o "tls.keylog_file:$TSH_KEYLOG"} "$@" \
    >"$H2_TSV" 2>"$LAB_TMP/h2frames.err" || die "h2frames.py failed: $(cat "$LAB_TMP/h2frames.err")"
  [ -s "$H2_TSV" ] || die "tshark shows no HTTP/2 frame in $cap"
}
h2_rows() { awk -F'\t' "$1" "$H2_TSV"; }
# h2_one WHAT AWK_CONDITION — the frame of the first matching row; dies when none matches.
h2_one() {
  local f
  f=$(awk -F'\t' "$2 { print \$1; exit }" "$H2_TSV")
  [ -n "$f" ] || die "tshark shows no $1"
  echo "$f"
}
h2_req() { h2_one "request HEADERS on tcp $1 h2 $2" "\$2 == $1 && \$5 == $2 && \$6 == 1 && \$4 == $3"; }
h2_status() { h2_one ":status $4 on tcp $1 h2 $2" "\$2 == $1 && \$5 == $2 && \$6 == 1 && \$3 == $3 && \$10 == \"$4\""; }
h2_rst() { h2_one "RST_STREAM $4 from :$3 on tcp $1 h2 $2" "\$2 == $1 && \$5 == $2 && \$6 == 3 && \$3 == $3 && \$8 == $4"; }
h2_grpc() { h2_one "grpc-status $4 on tcp $1 h2 $2" "\$2 == $1 && \$5 == $2 && \$6 == 1 && \$3 == $3 && \$11 == \"$4\""; }
h2_stream_of() {
  local s
  s=$(h2_rows "\$2 == $1 && \$6 == 1 && \$4 == $3 && \$12 == \"$2\" { print \$5 }" | sort -u)
  [ "$(printf '%s\n' "$s" | grep -c .)" -eq 1 ] || die "expected one h2 stream for $2 on tcp $1, got '$s'"
  echo "$s"
}
tcp_of() {
  local s
  s=$(h2_rows "\$6 == 1 && \$4 == $2 && \$12 == \"$1\" { print \$2 }" | sort -u)
  [ "$(printf '%s\n' "$s" | grep -c .)" -eq 1 ] || die "expected one connection for $1, got '$s'"
  echo "$s"
}
