#!/usr/bin/env bash
# Creates a private CA and a broker certificate signed by it, once:
#
#   deploy/tls-certs.sh DIR [HOST...]      (default hosts: localhost 127.0.0.1)
#
# DIR/ca.pem        the CA certificate: every process's AMQP_SSL_CA_FILE
# DIR/ca.key        the CA key (0600): keep it off the application hosts
# DIR/server.pem    the broker's certificate, valid for each HOST (DNS name or IP address)
# DIR/server.key    its key (0640; readable by the group that runs the broker)
# Idempotent: existing files are kept; the certificate is remade only when a HOST is missing
# from it. Needs openssl.
set -euo pipefail

DIR="${1:?usage: tls-certs.sh DIR [HOST...]}"
shift
HOSTS=("$@")
[ "${#HOSTS[@]}" -gt 0 ] || HOSTS=(localhost 127.0.0.1)
mkdir -p "$DIR"
cd "$DIR"

san=""
for host in "${HOSTS[@]}"; do
    if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then san+="IP:$host,"; else san+="DNS:$host,"; fi
done
san="${san%,}"

if [ ! -f ca.pem ] || [ ! -f ca.key ]; then
    (umask 077; openssl genrsa -out ca.key 3072 2>/dev/null)
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=enrollment-platform broker CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out ca.pem
    rm -f server.pem
fi

have_all_hosts() {
    local text host
    text="$(openssl x509 -in server.pem -noout -ext subjectAltName 2>/dev/null)" || return 1
    for host in "${HOSTS[@]}"; do
        grep -qE "(DNS|IP Address):$host(,|$)" <<<"$text" || return 1
    done
    openssl verify -CAfile ca.pem server.pem >/dev/null 2>&1
}

if [ ! -f server.key ] || ! have_all_hosts; then
    [ -f server.key ] || (umask 027; openssl genrsa -out server.key 2048 2>/dev/null)
    openssl req -new -key server.key -subj "/CN=${HOSTS[0]}" -out server.csr
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$san" \
        >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
        -sha256 -extfile server.ext -out server.pem 2>/dev/null
    rm -f server.csr server.ext
    echo "tls: broker certificate for ${HOSTS[*]} in $DIR/server.pem"
fi
