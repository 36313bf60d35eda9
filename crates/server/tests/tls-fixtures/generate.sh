#!/usr/bin/env bash
# Makes the TLS test stores in this folder, with openssl and Java's keytool (run once; the files
# are committed). Certificates are valid for 100 years. Everything is signed by a throwaway CA
# whose key is deleted at the end; "stranger" is a self-signed client no store trusts.
set -euo pipefail
cd "$(dirname "$0")"
DAYS=36500
PASS=quorum-test

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days "$DAYS" \
    -subj "/CN=Quorum test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

# A leaf certificate signed by the CA: $1 is the name, $2 the common name.
leaf() {
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n' > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$DAYS" \
        -extfile "$1.ext" -out "$1.crt"
    rm "$1.csr" "$1.ext"
}
leaf server localhost
leaf client client

# The server's key store in the three formats ZooKeeper reads: PEM (key and chain in one
# file), PKCS12 (made by openssl) and JKS (converted by keytool).
cat server.key server.crt ca.pem > server.pem
openssl pkcs12 -export -in server.crt -inkey server.key -certfile ca.pem -name server \
    -out server.p12 -passout "pass:$PASS"
keytool -importkeystore -noprompt -srckeystore server.p12 -srcstoretype PKCS12 \
    -srcstorepass "$PASS" -destkeystore server.jks -deststoretype JKS -deststorepass "$PASS"

# Trust stores holding the CA, made by keytool as Java users make them.
keytool -importcert -noprompt -alias ca -file ca.pem -keystore truststore.jks \
    -storetype JKS -storepass "$PASS"
keytool -importcert -noprompt -alias ca -file ca.pem -keystore truststore.p12 \
    -storetype PKCS12 -storepass "$PASS"

# A client the CA did not sign.
openssl req -x509 -newkey rsa:2048 -nodes -keyout stranger.key -out stranger.crt \
    -days "$DAYS" -subj "/CN=stranger"

rm -f ca.key ca.srl server.key server.crt
chmod 644 ./*.key ./*.p12
