# shellcheck shell=bash
# Certificates for the TLS scenarios, made with openssl only (no faketime): a lab CA, and leaf
# certificates with any validity window through `openssl ca -startdate/-enddate`, which
# OpenSSL 3.0 (whose x509 has no -not_before/-not_after) offers. Source after scenario-lib.sh.
#
#   tls_ca DIR NAME                         -> DIR/NAME.pem, DIR/NAME.key (self-signed CA)
#   tls_leaf DIR NAME CA SAN START END [rsa] -> DIR/NAME.pem (leaf + nothing), DIR/NAME.key
#     SAN like "DNS:api.lab.test,IP:198.18.1.2"; START/END as YYYYMMDDHHMMSSZ; the key is
#     P-256 unless "rsa" (2048 bits, for the TLS 1.2 ECDHE-RSA and RSA-kx suites) is given
#   tls_intermediate DIR NAME CA            -> DIR/NAME.pem, DIR/NAME.key (a CA signed by CA)

tls_ca() {
  local dir=$1 name=$2
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=faultline lab $name" -keyout "$dir/$name.key" -out "$dir/$name.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>>"$LAB_TMP/openssl.log" || die "openssl: CA $name failed"
}

tls_leaf() {
  local dir=$1 name=$2 ca=$3 san=$4 start=$5 end=$6 alg=${7:-ec}
  local db="$dir/ca-$name" cn=${4#*:} newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
  if [ "$alg" = rsa ]; then newkey=(-newkey rsa:2048); fi
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
  openssl req -new "${newkey[@]}" -nodes \
    -subj "/CN=$cn" -keyout "$dir/$name.key" -out "$db/req.pem" \
    2>>"$LAB_TMP/openssl.log" || die "openssl: request $name failed"
  openssl ca -batch -config "$db/ca.cnf" -cert "$dir/$ca.pem" -keyfile "$dir/$ca.key" \
    -startdate "$start" -enddate "$end" -in "$db/req.pem" -out "$dir/$name.pem" -notext \
    >>"$LAB_TMP/openssl.log" 2>&1 || die "openssl: certificate $name failed"
}

tls_intermediate() {
  local dir=$1 name=$2 ca=$3
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=faultline lab $name" -keyout "$dir/$name.key" -out "$dir/$name.csr" \
    2>>"$LAB_TMP/openssl.log" || die "openssl: request $name failed"
  printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' \
    >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.pem" -CAkey "$dir/$ca.key" \
    -CAcreateserial -days 3650 -sha256 -extfile "$dir/$name.ext" -out "$dir/$name.pem" \
    2>>"$LAB_TMP/openssl.log" || die "openssl: intermediate $name failed"
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
