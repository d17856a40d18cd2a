# Sourced by bash scripts (bench/http.sh, tests/cli/tls_http.sh): make_test_ca FOLDER makes a
# throw-away CA with the openssl CLI, valid for two days, nothing of it kept:
#   FOLDER/ca.pem                      the CA's certificate (what HTTP_CA_BUNDLE names)
#   FOLDER/server.pem, server.key      signed by it, for 127.0.0.1, ::1 and localhost
#   FOLDER/other-ca.pem                an unrelated CA, which signs nothing here
# RSA 2048 keys, as most public servers still have.

make_test_ca() {
  local dir=$1
  mkdir -p "$dir"
  (
    cd "$dir" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=poolkit test CA" \
      -keyout ca.key -out ca.pem 2>/dev/null &&
      openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=poolkit other CA" \
        -keyout other-ca.key -out other-ca.pem 2>/dev/null &&
      openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout server.key -out server.csr 2>/dev/null &&
      printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n' >server.ext &&
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile server.ext -out server.pem 2>/dev/null &&
      chmod 644 server.key  # nginx's master reads it as root; workers never do
  ) || { echo "make_test_ca: openssl could not make the test CA in $dir" >&2; return 1; }
}
