#pragma once
// Owning pointers for the OpenSSL objects poolkit holds (every layer that speaks TLS itself, and
// the TLS file checks): one deleter template instead of one struct per type and file.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

namespace poolkit::detail {

template <auto Free>
struct OpensslFree {
  template <class T>
  void operator()(T* object) const noexcept {
    Free(object);
  }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, OpensslFree<&SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpensslFree<&SSL_free>>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, OpensslFree<&SSL_SESSION_free>>;
using BioPtr = std::unique_ptr<BIO, OpensslFree<&BIO_free>>;
using BioMethodPtr = std::unique_ptr<BIO_METHOD, OpensslFree<&BIO_meth_free>>;
using X509Ptr = std::unique_ptr<X509, OpensslFree<&X509_free>>;
using EvpKeyPtr = std::unique_ptr<EVP_PKEY, OpensslFree<&EVP_PKEY_free>>;

}  // namespace poolkit::detail
