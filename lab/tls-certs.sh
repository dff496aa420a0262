# shellcheck shell=bash
# Certificates for the TLS scenarios, made with openssl only (no faketime): a lab CA, and leaf
# certificates with any validity window through `openssl ca -startdate/-enddate`, which
# OpenSSL 3.0 (whose x509 has no -not_before/-not_after) offers. Source after scenario-lib.sh.
#
#   tls_ca DIR NAME                         -> DIR/NAME.pem, DIR/NAME.key (self-signed CA)
#   tls_leaf DIR NAME CA SAN START END      -> DIR/NAME.pem (leaf + nothing), DIR/NAME.key
#     SAN like "DNS:api.lab.test,IP:198.18.1.2"; START/END as YYYYMMDDHHMMSSZ

tls_ca() {
  local dir=$1 name=$2
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=faultline lab $name" -keyout "$dir/$name.key" -out "$dir/$name.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>>"$LAB_TMP/openssl.log" || die "openssl: CA $name failed"
}

tls_leaf() {
  local dir=$1 name=$2 ca=$3 san=$4 start=$5 end=$6
  local db="$dir/ca-$name" cn=${4#*:}
  cn=${cn%%,*}
  mkdir -p "$db"
  : >"$db/index.txt"
  cat >"$db/ca.cnf" <<CNF
[ca]
default_ca = lab
[lab]
database = $db/index.txt
new_certs_dir = $db
serial = $db/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
x509_extensions = leaf
[any]
commonName = supplied
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = $san
CNF
  printf '%s\n' "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" >"$db/serial"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=$cn" -keyout "$dir/$name.key" -out "$db/req.pem" \
    2>>"$LAB_TMP/openssl.log" || die "openssl: request $name failed"
  openssl ca -batch -config "$db/ca.cnf" -cert "$dir/$ca.pem" -keyfile "$dir/$ca.key" \
    -startdate "$start" -enddate "$end" -in "$db/req.pem" -out "$dir/$name.pem" -notext \
    >>"$LAB_TMP/openssl.log" 2>&1 || die "openssl: certificate $name failed"
}

# tls_alert_name DESC — the registry name of an alert description (tshark's number).
tls_alert_name() {
  case $1 in
    40) echo handshake_failure ;; 42) echo bad_certificate ;; 43) echo unsupported_certificate ;;
    44) echo certificate_revoked ;; 45) echo certificate_expired ;; 46) echo certificate_unknown ;;
    48) echo unknown_ca ;; 70) echo protocol_version ;; 112) echo unrecognized_name ;;
    116) echo certificate_required ;; *) die "alert description $1 has no name here" ;;
  esac
}
