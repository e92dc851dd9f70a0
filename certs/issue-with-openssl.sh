#!/usr/bin/env bash
# Issue a borderx client certificate with the openssl CLI from an agency CA.
#
#   certs/issue-with-openssl.sh CA_DIR SPIFFE_ID OUT_PREFIX [serverAuth]
#
# CA_DIR holds ca.pem and ca.key; writes OUT_PREFIX.key (mode 0600) and OUT_PREFIX.pem.
# The extensions are the ones borderx's verifier requires (Web PKI profile): critical
# basicConstraints CA:FALSE, critical keyUsage digitalSignature, extendedKeyUsage
# clientAuth, subject and authority key identifiers, and the SPIFFE ID as a URI SAN.
# Pass "serverAuth" as a fourth argument for a gateway certificate (adds serverAuth and
# the localhost / 127.0.0.1 SANs).
set -euo pipefail
ca_dir=$1 spiffe=$2 out=$3 server=${4:-}
eku="clientAuth"
san="URI:${spiffe}"
if [[ $server == serverAuth ]]; then
  eku="serverAuth,clientAuth"
  san="${san},DNS:localhost,IP:127.0.0.1"
fi
ext=$(mktemp)
trap 'rm -f "$ext" "$out.csr"' EXIT
cat >"$ext" <<EXT
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = ${eku}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = ${san}
EXT
umask 077
openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out "$out.key"
openssl req -new -key "$out.key" -subj "/CN=${spiffe##*/}" -out "$out.csr"
openssl x509 -req -in "$out.csr" -CA "$ca_dir/ca.pem" -CAkey "$ca_dir/ca.key" -CAcreateserial \
  -CAserial "$out.srl" -days 397 -sha256 -extfile "$ext" -out "$out.pem" 2>/dev/null
rm -f "$out.srl"
chmod 0644 "$out.pem"
