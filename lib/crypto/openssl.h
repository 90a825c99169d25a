// ironroot crypto: owning pointers for OpenSSL objects, and OpenSSL's error queue as an Error.
// For the .cc files of layers that call OpenSSL directly (crypto, tpm2, audit); public headers
// keep OpenSSL types out.
//
//   PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
//   if (!key) return openssl_error("cannot generate a key");
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "core/result.h"

namespace ironroot::crypto {

template <typename T, void (*Free)(T*)>
struct OpensslDeleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using OpensslPtr = std::unique_ptr<T, OpensslDeleter<T, Free>>;

using PkeyPtr = OpensslPtr<EVP_PKEY, EVP_PKEY_free>;
using PkeyCtxPtr = OpensslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using MdPtr = OpensslPtr<EVP_MD, EVP_MD_free>;
using MdCtxPtr = OpensslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using X509Ptr = OpensslPtr<X509, X509_free>;
using X509ReqPtr = OpensslPtr<X509_REQ, X509_REQ_free>;
using BioPtr = OpensslPtr<BIO, BIO_free_all>;

// "what: <OpenSSL's first queued error>" as a kInternal Error; clears the thread's error queue.
Error openssl_error(const std::string& what);

}  // namespace ironroot::crypto
