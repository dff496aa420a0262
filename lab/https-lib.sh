# shellcheck shell=bash
# The keyed HTTPS scenarios' common part: one key log per capture, written by the clients
# themselves (curl and gnutls-cli through SSLKEYLOGFILE, Python through
# SSLContext.keylog_filename, openssl s_client through -keylogfile), tshark decrypting with it,
# and the log published beside the capture as captures/NAME.keys, or embedded in the pcapng as a
# Decryption Secrets Block. Source after scenario-lib.sh and tls-certs.sh; sets
# SSLKEYLOGFILE for every client the scenario starts.
#
#   https_pki DIR                 lab CA DIR/ca.pem; RSA leaf DIR/api.{pem,key} for api.lab.test
#                                 and the server's addresses
#   keys_reset                    start a new, empty key log (one per capture)
#   keys_check CAP                every ClientHello's client random is in the key log
#   decrypted CAP STREAM          dies unless tshark decrypts HTTP in STREAM
#   app_from CAP FILTER           frames of FILTER carrying a decrypted application-data record
#   publish_keys NAME             the key log as captures/STEM.keys
#   publish_dsb CAP NAME          CAP with the key log in a Decryption Secrets Block, no .keys
require_cmds openssl editcap

KEYLOG=$LAB_TMP/keys.log
export SSLKEYLOGFILE=$KEYLOG
# expect.sh's tsh decrypts with the key log from now on.
TSH_KEYLOG=$KEYLOG

keys_reset() {
  KEYLOG=$LAB_TMP/keys-$RANDOM$RANDOM.log
  : >"$KEYLOG"
  chmod 644 "$KEYLOG"
  export SSLKEYLOGFILE=$KEYLOG
  TSH_KEYLOG=$KEYLOG
}
keys_reset

https_pki() {
  local dir=$1
  tls_ca "$dir" ca
  tls_leaf "$dir" api ca "DNS:api.lab.test,IP:$SERVER4,IP:$SERVER6" \
    20240101000000Z 20360101000000Z rsa
  chmod -R a+rX "$dir"
}

# Every ClientHello must have keys in the log, keyed by its client random: CLIENT_RANDOM (TLS
# 1.2) or TLS 1.3 secrets. An OpenSSL client that refuses the server's certificate in TLS 1.3 has
# logged only SERVER_HANDSHAKE_TRAFFIC_SECRET (it derives its own handshake key after the
# server's flight), which is what decrypts that flight.
keys_check() {
  local cap=$1 r n=0
  for r in $(tsh "$cap" -Y "tls.handshake.type == 1" -T fields -e tls.handshake.random); do
    grep -q -i -E "^(CLIENT_RANDOM|[A-Z_]+_TRAFFIC_SECRET(_0)?) $r " "$KEYLOG" ||
      die "the key log has no keys for the ClientHello with random $r"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || die "no ClientHello in $cap"
  log "key log: keys for all $n ClientHellos ($(grep -c . "$KEYLOG") lines)"
}

decrypted() {
  must "$1" "tcp.stream == $2 && http" "HTTP decrypted with the key log on stream $2"
}

# With the key log, tshark gives a decrypted TLS 1.3 record its inner content type, so type 23
# is application data in both versions (TLS 1.3 session tickets are 22, alerts 21).
app_from() { frames "$1" "($2) && tls.record.content_type == 23"; }

publish_keys() {
  local stem=${1%.*}
  cp "$KEYLOG" "$CAPTURES/$stem.keys"
  chmod 644 "$CAPTURES/$stem.keys"
  log "wrote $CAPTURES/$stem.keys ($(grep -c . "$KEYLOG") key log lines)"
}

# The same packets, frame numbers unchanged, and the key log in a Decryption Secrets Block
# (editcap --inject-secrets): tshark must decrypt the result without being given the log.
publish_dsb() {
  local cap=$1 name=$2 out="$LAB_TMP/dsb-$2"
  editcap --inject-secrets "tls,$KEYLOG" "$cap" "$out" 2>>"$LAB_TMP/editcap.log" ||
    die "editcap --inject-secrets failed: $(cat "$LAB_TMP/editcap.log")"
  [ "$(count "$cap" frame)" -eq "$(count "$out" frame)" ] || die "editcap changed the frame count"
  local with without
  with=$(tsh "$cap" -Y http -T fields -e frame.number | paste -sd,)
  without=$(TSH_KEYLOG='' tsh "$out" -Y http -T fields -e frame.number | paste -sd,)
  [ -n "$with" ] && [ "$with" = "$without" ] ||
    die "the embedded secrets do not decrypt as the key log does ($without vs $with)"
  publish "$out" "$name"
  rm -f "$CAPTURES/${name%.*}.keys"
}
