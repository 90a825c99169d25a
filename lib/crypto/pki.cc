#include "crypto/pki.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <memory>

#include "core/hex.h"
#include "crypto/openssl.h"

namespace ironroot::crypto {
namespace {

using ReqPtr = X509ReqPtr;

BioPtr mem_bio(const std::string& s) {
  return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len > 0 ? len : 0));
}

Result<PkeyPtr> load_key(const std::string& pem) {
  auto bio = mem_bio(pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return openssl_error("cannot read private key");
  return key;
}

Result<X509Ptr> load_cert(const std::string& pem) {
  auto bio = mem_bio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return openssl_error("cannot read certificate");
  return cert;
}

Status add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return openssl_error("cannot make extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return {};
}

Status set_validity_and_serial(X509* cert, int days) {
  X509_set_version(cert, 2);
  auto serial = random_bytes(16);
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert), -300);
  X509_gmtime_adj(X509_getm_notAfter(cert), static_cast<long>(days) * 24 * 3600);
  return {};
}

std::string pem_of(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return bio_string(bio.get());
}

}  // namespace

Error openssl_error(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "no detail";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return Error(ErrorCode::kInternal, what + ": " + buf);
}

std::vector<uint8_t> random_bytes(size_t n) {
  std::vector<uint8_t> out(n);
  if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) std::abort();  // no entropy: stop
  return out;
}

std::string random_token(size_t n) {
  return to_hex(random_bytes(n));
}

Result<std::string> generate_key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return openssl_error("cannot generate a P-256 key");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return openssl_error("cannot encode the key");
  }
  return bio_string(bio.get());
}

Result<std::string> make_ca_certificate(const std::string& key_pem, const std::string& common_name,
                                        int days) {
  IRONROOT_ASSIGN_OR_RETURN(PkeyPtr key, load_key(key_pem));
  X509Ptr cert(X509_new());
  IRONROOT_RETURN_IF_ERROR(set_validity_and_serial(cert.get(), days));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  IRONROOT_RETURN_IF_ERROR(
      add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  IRONROOT_RETURN_IF_ERROR(
      add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  IRONROOT_RETURN_IF_ERROR(add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return openssl_error("cannot sign CA");
  return pem_of(cert.get());
}

Result<std::string> make_csr(const std::string& key_pem, const std::string& common_name) {
  IRONROOT_ASSIGN_OR_RETURN(PkeyPtr key, load_key(key_pem));
  ReqPtr req(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_REQ_set_pubkey(req.get(), key.get());
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0)
    return openssl_error("cannot sign CSR");
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  return bio_string(bio.get());
}

Result<std::string> issue_certificate(const std::string& ca_key_pem, const std::string& ca_cert_pem,
                                      const std::string& csr_pem, const IssueOptions& options) {
  IRONROOT_ASSIGN_OR_RETURN(PkeyPtr ca_key, load_key(ca_key_pem));
  IRONROOT_ASSIGN_OR_RETURN(X509Ptr ca, load_cert(ca_cert_pem));
  if (csr_pem.size() > 16 * 1024) return invalid_argument("certificate request over 16 KiB");
  auto bio = mem_bio(csr_pem);
  ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return invalid_argument("not a PEM certificate request");
  PkeyPtr pub(X509_REQ_get_pubkey(req.get()));
  if (!pub || X509_REQ_verify(req.get(), pub.get()) != 1) {
    ERR_clear_error();
    return invalid_argument("the certificate request's signature does not verify");
  }
  X509Ptr cert(X509_new());
  IRONROOT_RETURN_IF_ERROR(set_validity_and_serial(cert.get(), options.days));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(options.common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get()));
  X509_set_pubkey(cert.get(), pub.get());
  IRONROOT_RETURN_IF_ERROR(
      add_ext(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE"));
  IRONROOT_RETURN_IF_ERROR(
      add_ext(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature"));
  std::string eku;
  if (options.server) eku = "serverAuth";
  if (options.client) eku += eku.empty() ? "clientAuth" : ",clientAuth";
  if (!eku.empty()) IRONROOT_RETURN_IF_ERROR(add_ext(cert.get(), ca.get(), NID_ext_key_usage, eku));
  std::string san;
  for (const auto& d : options.dns) san += (san.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& ip : options.ips) san += (san.empty() ? "IP:" : ",IP:") + ip;
  if (!san.empty())
    IRONROOT_RETURN_IF_ERROR(add_ext(cert.get(), ca.get(), NID_subject_alt_name, san));
  IRONROOT_RETURN_IF_ERROR(add_ext(cert.get(), ca.get(), NID_authority_key_identifier, "keyid"));
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) return openssl_error("cannot sign");
  return pem_of(cert.get());
}

Result<std::string> certificate_common_name(const std::string& cert_pem) {
  IRONROOT_ASSIGN_OR_RETURN(X509Ptr cert, load_cert(cert_pem));
  char buf[256] = {0};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, buf,
                                sizeof buf) < 0) {
    return malformed("certificate has no common name");
  }
  return std::string(buf);
}

Result<std::string> certificate_fingerprint(const std::string& cert_pem) {
  IRONROOT_ASSIGN_OR_RETURN(X509Ptr cert, load_cert(cert_pem));
  unsigned char md[32];
  unsigned int n = 0;
  X509_digest(cert.get(), EVP_sha256(), md, &n);
  return to_hex(Bytes(md, n));
}

}  // namespace ironroot::crypto
