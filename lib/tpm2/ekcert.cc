#include "tpm2/ekcert.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <map>
#include <string_view>

#include "core/file.h"
#include "core/hex.h"
#include "crypto/digest.h"
#include "tpm2/internal.h"

namespace ironroot::tpm2 {

using internal::openssl_error;
using internal::X509Ptr;

namespace {

using StorePtr = std::unique_ptr<X509_STORE, internal::Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, internal::Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, internal::Deleter<BIO, BIO_free_all>>;

struct StackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), StackDeleter>;

constexpr uint64_t kMaxCertificateFile = uint64_t{16}
                                         << 20;  // a CA file larger than this is not one

constexpr const char* kTcgManufacturer = "2.23.133.2.1";
constexpr const char* kTcgModel = "2.23.133.2.2";
constexpr const char* kTcgVersion = "2.23.133.2.3";
constexpr const char* kTcgEkCertificateEku = "2.23.133.8.1";
constexpr const char* kSubjectDirectoryAttributes = "2.5.29.9";

std::string name_text(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    internal::clear_openssl_errors();
    return "?";
  }
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio.get(), &mem);
  return std::string(mem->data, mem->length);
}

std::string subject_of(const X509* x) {
  return name_text(X509_get_subject_name(x));
}
std::string issuer_of(const X509* x) {
  return name_text(X509_get_issuer_name(x));
}

std::string in_quotes(const std::string& name) {
  return "'" + (name.empty() ? std::string("(empty subject)") : name) + "'";
}

std::string oid_text(const ASN1_OBJECT* obj) {
  char buf[128];
  int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  return n > 0 ? std::string(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1)) : "?";
}

time_t asn1_time(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return timegm(&tm);
}

std::string iso_time(time_t t) {
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::vector<uint8_t>> der_of(X509* x) {
  unsigned char* buf = nullptr;
  int len = i2d_X509(x, &buf);
  if (len <= 0) return openssl_error("i2d_X509");
  std::vector<uint8_t> out(buf, buf + len);
  OPENSSL_free(buf);
  return out;
}

// Certificates in `data`: every PEM CERTIFICATE block (other text and other PEM blocks are
// skipped), or else one DER certificate filling `data`. `note` explains a partial or failed read.
std::vector<X509Ptr> read_certificates(Bytes data, std::string* note) {
  std::vector<X509Ptr> out;
  std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  if (text.find("-----BEGIN") != std::string_view::npos) {
    BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    if (!bio) return out;
    for (;;) {
      X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
      if (x == nullptr) break;
      out.emplace_back(x);
    }
    unsigned long err = ERR_peek_last_error();
    if (err != 0 &&
        !(ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE)) {
      *note = "a malformed PEM certificate after " + std::to_string(out.size()) + " good one(s)";
    } else if (out.empty()) {
      *note = "no PEM CERTIFICATE block";
    }
    internal::clear_openssl_errors();
    return out;
  }
  const unsigned char* p = data.data();
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(data.size()));
  internal::clear_openssl_errors();
  if (x == nullptr) {
    *note = "neither PEM nor a DER certificate";
    return out;
  }
  if (p != data.data() + data.size()) {
    X509_free(x);
    *note = "a DER certificate followed by " +
            std::to_string(static_cast<size_t>(data.data() + data.size() - p)) + " other bytes";
    return out;
  }
  out.emplace_back(x);
  return out;
}

// The key of a certificate; an RSA key labelled id-RSAES-OAEP is read as rsaEncryption.
PublicKey certificate_key(X509* x, std::vector<std::string>& relaxed) {
  if (EVP_PKEY* k = X509_get0_pubkey(x)) {
    EVP_PKEY_up_ref(k);
    return PublicKey(k);
  }
  internal::clear_openssl_errors();
  X509_PUBKEY* pub = X509_get_X509_PUBKEY(x);
  ASN1_OBJECT* alg_obj = nullptr;
  const unsigned char* key_bytes = nullptr;
  int key_len = 0;
  if (pub == nullptr || X509_PUBKEY_get0_param(&alg_obj, &key_bytes, &key_len, nullptr, pub) != 1 ||
      OBJ_obj2nid(alg_obj) != NID_rsaesOaep || key_len <= 0) {
    return PublicKey();
  }
  // The subjectPublicKey BIT STRING is an RSAPublicKey either way: re-label it rsaEncryption.
  X509_PUBKEY* relabelled = X509_PUBKEY_new();
  auto* copy = static_cast<unsigned char*>(OPENSSL_memdup(key_bytes, static_cast<size_t>(key_len)));
  EVP_PKEY* k = nullptr;
  if (relabelled != nullptr && copy != nullptr &&
      X509_PUBKEY_set0_param(relabelled, OBJ_nid2obj(NID_rsaEncryption), V_ASN1_NULL, nullptr, copy,
                             key_len) == 1) {
    copy = nullptr;  // owned by relabelled
    // Through DER: a X509_PUBKEY built by set0_param has no decoded key yet.
    unsigned char* der = nullptr;
    int der_len = i2d_X509_PUBKEY(relabelled, &der);
    if (der_len > 0) {
      const unsigned char* p = der;
      k = d2i_PUBKEY(nullptr, &p, der_len);
    }
    OPENSSL_free(der);
  }
  OPENSSL_free(copy);
  X509_PUBKEY_free(relabelled);
  internal::clear_openssl_errors();
  if (k == nullptr) return PublicKey();
  relaxed.push_back(
      "public key algorithm id-RSAES-OAEP (1.2.840.113549.1.1.7) read as rsaEncryption");
  return PublicKey(k);
}

// --- verification callback ----------------------------------------------------------------------

struct VerifyState {
  std::vector<std::string> relaxed;
  std::string refused;  // why an unhandled critical extension was refused
};

int state_index() {
  static const int index = X509_STORE_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// True when every critical extension of `cert` that OpenSSL does not process is
// subjectDirectoryAttributes (recorded in state.relaxed); else records the refusal.
bool unhandled_critical_extensions_ok(X509* cert, VerifyState& state) {
  std::vector<std::string> accepted;
  for (int i = 0; i < X509_get_ext_count(cert); ++i) {
    X509_EXTENSION* ext = X509_get_ext(cert, i);
    if (X509_EXTENSION_get_critical(ext) == 0 || X509_supported_extension(ext) == 1) continue;
    std::string oid = oid_text(X509_EXTENSION_get_object(ext));
    if (oid != kSubjectDirectoryAttributes) {
      state.refused = "unhandled critical extension " + oid + " in " + in_quotes(subject_of(cert));
      return false;
    }
    accepted.push_back(oid);
  }
  for (const auto& oid : accepted) {
    std::string line = "critical extension " + oid + " (subjectDirectoryAttributes) in " +
                       in_quotes(subject_of(cert)) + " accepted unprocessed";
    if (std::find(state.relaxed.begin(), state.relaxed.end(), line) == state.relaxed.end()) {
      state.relaxed.push_back(line);
    }
  }
  return true;
}

// Tolerates X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION when every critical extension OpenSSL does not
// process is subjectDirectoryAttributes; every other error stands.
int verify_callback(int ok, X509_STORE_CTX* ctx) {
  if (ok == 1) return ok;
  if (X509_STORE_CTX_get_error(ctx) != X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION) return ok;
  auto* state = static_cast<VerifyState*>(X509_STORE_CTX_get_ex_data(ctx, state_index()));
  X509* cert = X509_STORE_CTX_get_current_cert(ctx);
  if (state == nullptr || cert == nullptr) return ok;
  return unhandled_critical_extensions_ok(cert, *state) ? 1 : 0;
}

std::string describe_failure(X509_STORE_CTX* ctx, const VerifyState& state) {
  const int err = X509_STORE_CTX_get_error(ctx);
  const int depth = X509_STORE_CTX_get_error_depth(ctx);
  X509* cert = X509_STORE_CTX_get_current_cert(ctx);
  std::string who = cert != nullptr ? in_quotes(subject_of(cert)) : "(unknown certificate)";
  std::string where = " (depth " + std::to_string(depth) + ")";
  std::string reason = X509_verify_cert_error_string(err);
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      return "certificate chain does not verify: issuer " +
             (cert != nullptr ? in_quotes(issuer_of(cert)) : "?") + " of " + who + where +
             " is not in the CA bundle (" + reason + ")";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate chain does not verify: " + who + where + " expired " +
             (cert != nullptr ? iso_time(asn1_time(X509_get0_notAfter(cert))) : "?");
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate chain does not verify: " + who + where + " is not valid before " +
             (cert != nullptr ? iso_time(asn1_time(X509_get0_notBefore(cert))) : "?");
    case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
      return "certificate chain does not verify: " +
             (state.refused.empty() ? reason + " in " + who : state.refused) + where;
    default:
      return "certificate chain does not verify: " + reason + ": " + who + where +
             (cert != nullptr ? ", issued by " + in_quotes(issuer_of(cert)) : "");
  }
}

// "id:474F4F47" -> "GOOG" (printable ASCII, trailing NULs dropped), else "".
std::string vendor_id(const std::string& manufacturer) {
  if (manufacturer.size() != 11 || manufacturer.compare(0, 3, "id:") != 0) return "";
  auto bytes = from_hex(std::string_view(manufacturer).substr(3));
  if (!bytes) return "";
  std::string out;
  for (uint8_t b : *bytes) {
    if (b == 0) continue;
    if (b < 0x20 || b > 0x7e) return "";
    out.push_back(static_cast<char>(b));
  }
  return out;
}

std::string asn1_string_utf8(const ASN1_STRING* s) {
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) {
    internal::clear_openssl_errors();
    return "";
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

void read_tpm_identity(X509* x, EkCertInfo& info) {
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) {
    internal::clear_openssl_errors();
    return;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type != GEN_DIRNAME) continue;
    const X509_NAME* dn = gn->d.directoryName;
    for (int e = 0; e < X509_NAME_entry_count(dn); ++e) {
      const X509_NAME_ENTRY* entry = X509_NAME_get_entry(dn, e);
      std::string oid = oid_text(X509_NAME_ENTRY_get_object(entry));
      std::string value = asn1_string_utf8(X509_NAME_ENTRY_get_data(entry));
      if (oid == kTcgManufacturer) info.tpm_manufacturer = value;
      if (oid == kTcgModel) info.tpm_model = value;
      if (oid == kTcgVersion) info.tpm_version = value;
    }
  }
  GENERAL_NAMES_free(names);
  info.tpm_vendor_id = vendor_id(info.tpm_manufacturer);
}

void read_usage(X509* x, EkCertInfo& info) {
  auto* eku =
      static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(x, NID_ext_key_usage, nullptr, nullptr));
  if (eku != nullptr) {
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku); ++i) {
      if (oid_text(sk_ASN1_OBJECT_value(eku, i)) == kTcgEkCertificateEku) info.tcg_ek_eku = true;
    }
    EXTENDED_KEY_USAGE_free(eku);
  }
  internal::clear_openssl_errors();
  const uint32_t ku = X509_get_key_usage(x);
  info.key_usage_present = ku != UINT32_MAX;
  if (info.key_usage_present) {
    info.digital_signature = (ku & KU_DIGITAL_SIGNATURE) != 0;
    info.key_encipherment = (ku & KU_KEY_ENCIPHERMENT) != 0;
    info.key_agreement = (ku & KU_KEY_AGREEMENT) != 0;
  }
  info.is_ca = X509_check_ca(x) != 0;
}

std::string serial_hex(X509* x) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr);
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn);
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

}  // namespace

// --- CaBundle -----------------------------------------------------------------------------------

struct CaBundle::Impl {
  StorePtr store{X509_STORE_new()};
  std::vector<CaCertificate> certificates;
  std::map<std::string, size_t> by_fingerprint;
  CaBundleStats stats;
  std::vector<std::string> notes;
};

struct CaBundleAccess {
  static X509_STORE* store(const CaBundle& b) { return b.impl_->store.get(); }
};

CaBundle::CaBundle() : impl_(std::make_unique<Impl>()) {}
CaBundle::~CaBundle() = default;
CaBundle::CaBundle(CaBundle&& other) noexcept = default;
CaBundle& CaBundle::operator=(CaBundle&& other) noexcept = default;

Result<CaBundle> CaBundle::load(const std::string& path) {
  CaBundle bundle;
  IRONROOT_RETURN_IF_ERROR(bundle.add_path(path));
  return bundle;
}

const std::vector<CaCertificate>& CaBundle::certificates() const {
  return impl_->certificates;
}
size_t CaBundle::size() const {
  return impl_->certificates.size();
}
const CaBundleStats& CaBundle::stats() const {
  return impl_->stats;
}
const std::vector<std::string>& CaBundle::notes() const {
  return impl_->notes;
}

std::vector<CaCertificate> CaBundle::invalid_at(time_t at) const {
  std::vector<CaCertificate> out;
  for (const auto& c : impl_->certificates) {
    if (at < c.not_before || at > c.not_after) out.push_back(c);
  }
  return out;
}

Status CaBundle::add_certificates(Bytes der_or_pem, const std::string& source) {
  std::string note;
  std::vector<X509Ptr> certs = read_certificates(der_or_pem, &note);
  if (certs.empty()) return malformed(source + ": no certificate (" + note + ")");
  if (!note.empty()) impl_->notes.push_back(source + ": " + note);
  const time_t now = std::time(nullptr);
  for (size_t i = 0; i < certs.size(); ++i) {
    X509* x = certs[i].get();
    ++impl_->stats.certificates_read;
    const std::string where = certs.size() > 1 ? source + "#" + std::to_string(i + 1) : source;
    IRONROOT_ASSIGN_OR_RETURN(std::vector<uint8_t> der, der_of(x));
    std::string fingerprint = crypto::hash(crypto::HashAlg::kSha256, der).hex();
    auto it = impl_->by_fingerprint.find(fingerprint);
    if (it != impl_->by_fingerprint.end()) {
      ++impl_->stats.duplicates;
      impl_->notes.push_back(where + ": duplicate of " + impl_->certificates[it->second].source);
      continue;
    }
    CaCertificate c;
    c.source = where;
    c.subject = subject_of(x);
    c.issuer = issuer_of(x);
    c.sha256 = fingerprint;
    c.not_before = asn1_time(X509_get0_notBefore(x));
    c.not_after = asn1_time(X509_get0_notAfter(x));
    c.self_signed = X509_self_signed(x, 0) == 1;
    internal::clear_openssl_errors();
    if (X509_STORE_add_cert(impl_->store.get(), x) != 1) {
      return openssl_error(where + ": X509_STORE_add_cert");
    }
    if (now > c.not_after) {
      impl_->notes.push_back(where + ": " + in_quotes(c.subject) + " expired " +
                             iso_time(c.not_after));
    } else if (now < c.not_before) {
      impl_->notes.push_back(where + ": " + in_quotes(c.subject) + " is not valid before " +
                             iso_time(c.not_before));
    }
    impl_->by_fingerprint.emplace(fingerprint, impl_->certificates.size());
    impl_->certificates.push_back(std::move(c));
  }
  return {};
}

Status CaBundle::add_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(path, ec)) {
    for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) files.push_back(it->path().string());
    }
    if (ec) return Error(ErrorCode::kIo, path + ": " + ec.message());
    std::sort(files.begin(), files.end());
  } else if (fs::exists(path, ec)) {
    files.push_back(path);
  } else {
    return Error(ErrorCode::kNotFound, path + ": no such file or directory");
  }
  for (const auto& file : files) {
    IRONROOT_ASSIGN_OR_RETURN(FileContents contents, FileContents::open(file, kMaxCertificateFile));
    ++impl_->stats.files;
    Status s = add_certificates(contents.bytes(), file);
    if (!s) {
      if (s.error().code() != ErrorCode::kMalformed) return s;
      ++impl_->stats.skipped_files;
      impl_->notes.push_back(
          file + ": skipped: " + s.error().message().substr(file.size() + 2));  // drop "<file>: "
      continue;
    }
    ++impl_->stats.certificate_files;
  }
  return {};
}

// --- verification -------------------------------------------------------------------------------

namespace {

struct ChainResult {
  bool ok = false;
  int error = X509_V_OK;
  std::string message;  // why it failed
  std::vector<std::string> chain;
  bool anchor_is_root = false;
};

// One X509_verify_cert run under the policy of ekcert.h; `partial` allows a chain to end at any
// bundle certificate.
ChainResult run_verify(X509_STORE* store, X509* target, STACK_OF(X509) * untrusted, time_t at,
                       bool partial, VerifyState& state) {
  ChainResult out;
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store, target, untrusted) != 1) {
    out.message = openssl_error("X509_STORE_CTX_init").message();
    out.error = X509_V_ERR_UNSPECIFIED;
    return out;
  }
  if (partial)
    X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx.get()), X509_V_FLAG_PARTIAL_CHAIN);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_ANY);
  X509_STORE_CTX_set_time(ctx.get(), 0, at);
  X509_STORE_CTX_set_verify_cb(ctx.get(), verify_callback);
  X509_STORE_CTX_set_ex_data(ctx.get(), state_index(), &state);
  out.ok = X509_verify_cert(ctx.get()) == 1;
  if (!out.ok) {
    out.error = X509_STORE_CTX_get_error(ctx.get());
    out.message = describe_failure(ctx.get(), state);
  } else {
    STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      out.chain.push_back(subject_of(sk_X509_value(chain, i)));
    }
    if (sk_X509_num(chain) > 0) {
      out.anchor_is_root = X509_self_signed(sk_X509_value(chain, sk_X509_num(chain) - 1), 0) == 1;
    }
  }
  internal::clear_openssl_errors();
  return out;
}

// A chain to a self-signed bundle root when there is one; else (issuer not found) a chain to any
// bundle certificate.
ChainResult verify_chain(X509_STORE* store, X509* target, STACK_OF(X509) * untrusted, time_t at,
                         VerifyState& state) {
  ChainResult full = run_verify(store, target, untrusted, at, /*partial=*/false, state);
  if (full.ok || (full.error != X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY &&
                  full.error != X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT &&
                  full.error != X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE)) {
    return full;
  }
  state.refused.clear();
  return run_verify(store, target, untrusted, at, /*partial=*/true, state);
}

// OpenSSL cannot build a chain for a certificate whose own key it cannot decode (X509_verify_cert
// fails in X509_self_signed), as with id-RSAES-OAEP keys (TCG Credential Profiles 1.2, still in
// TPM 2.0-era Infineon and STMicro EK certificates). Verify that certificate's link by hand, with
// the checks X509_verify_cert would make, then the chain from its issuer.
ChainResult verify_undecodable_leaf(X509_STORE* store, X509* leaf, STACK_OF(X509) * untrusted,
                                    time_t at, VerifyState& state) {
  ChainResult out;
  const std::string who = in_quotes(subject_of(leaf));
  if (X509_cmp_time(X509_get0_notBefore(leaf), &at) > 0) {
    out.message = "certificate chain does not verify: " + who + " (depth 0) is not valid before " +
                  iso_time(asn1_time(X509_get0_notBefore(leaf)));
    return out;
  }
  if (X509_cmp_time(X509_get0_notAfter(leaf), &at) < 0) {
    out.message = "certificate chain does not verify: " + who + " (depth 0) expired " +
                  iso_time(asn1_time(X509_get0_notAfter(leaf)));
    return out;
  }
  if (!unhandled_critical_extensions_ok(leaf, state)) {
    out.message = "certificate chain does not verify: " + state.refused + " (depth 0)";
    return out;
  }
  X509StackPtr candidates(X509_STORE_get1_all_certs(store));
  for (int i = 0; i < sk_X509_num(untrusted); ++i) {
    X509* x = sk_X509_value(untrusted, i);
    if (X509_up_ref(x) == 1 && sk_X509_push(candidates.get(), x) <= 0) X509_free(x);
  }
  bool named = false;
  std::string last_failure;
  for (int i = 0; i < sk_X509_num(candidates.get()); ++i) {
    X509* issuer = sk_X509_value(candidates.get(), i);
    // Names, authorityKeyIdentifier, the issuer's keyUsage; then the signature and CA-ness.
    if (X509_check_issued(issuer, leaf) != X509_V_OK) continue;
    named = true;
    EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
    if (issuer_key == nullptr || X509_verify(leaf, issuer_key) != 1 || X509_check_ca(issuer) == 0) {
      internal::clear_openssl_errors();
      continue;
    }
    ChainResult up = verify_chain(store, issuer, untrusted, at, state);
    if (!up.ok) {
      last_failure = up.message;
      continue;
    }
    out = std::move(up);
    out.chain.insert(out.chain.begin(), subject_of(leaf));
    return out;
  }
  internal::clear_openssl_errors();
  if (!last_failure.empty()) {
    out.message = last_failure;
  } else if (named) {
    out.message = "certificate chain does not verify: certificate signature failure: " + who +
                  " (depth 0), issued by " + in_quotes(issuer_of(leaf));
  } else {
    out.message = "certificate chain does not verify: issuer " + in_quotes(issuer_of(leaf)) +
                  " of " + who + " (depth 0) is not in the CA bundle";
  }
  return out;
}

bool has_rsaes_oaep_key(X509* x) {
  ASN1_OBJECT* alg_obj = nullptr;
  X509_PUBKEY* pub = X509_get_X509_PUBKEY(x);
  return pub != nullptr && X509_PUBKEY_get0_param(&alg_obj, nullptr, nullptr, nullptr, pub) == 1 &&
         OBJ_obj2nid(alg_obj) == NID_rsaesOaep;
}

}  // namespace

Result<EkCertInfo> verify_ek_certificate(
    Bytes der_or_pem, const CaBundle& bundle, std::optional<time_t> at_time,
    const std::vector<std::vector<uint8_t>>& untrusted_intermediates) {
  std::string note;
  std::vector<X509Ptr> certs = read_certificates(der_or_pem, &note);
  if (certs.empty()) return malformed("EK certificate: not a certificate (" + note + ")");
  X509StackPtr untrusted(sk_X509_new_null());
  if (!untrusted) return openssl_error("sk_X509_new_null");
  auto push = [&](X509Ptr& x) {
    if (sk_X509_push(untrusted.get(), x.get()) > 0) x.release();
  };
  for (size_t i = 1; i < certs.size(); ++i) push(certs[i]);
  for (const auto& extra : untrusted_intermediates) {
    std::string extra_note;
    std::vector<X509Ptr> more = read_certificates(extra, &extra_note);
    if (more.empty()) return malformed("intermediate certificate: " + extra_note);
    for (auto& x : more) push(x);
  }
  X509* leaf = certs[0].get();
  const time_t at = at_time.value_or(std::time(nullptr));
  X509_STORE* store = CaBundleAccess::store(bundle);

  VerifyState state;
  const bool undecodable = X509_get0_pubkey(leaf) == nullptr && has_rsaes_oaep_key(leaf);
  internal::clear_openssl_errors();
  ChainResult result = undecodable
                           ? verify_undecodable_leaf(store, leaf, untrusted.get(), at, state)
                           : verify_chain(store, leaf, untrusted.get(), at, state);
  if (!result.ok) return malformed(result.message);

  EkCertInfo info;
  info.subject = subject_of(leaf);
  info.issuer = issuer_of(leaf);
  info.serial = serial_hex(leaf);
  info.not_before = asn1_time(X509_get0_notBefore(leaf));
  info.not_after = asn1_time(X509_get0_notAfter(leaf));
  info.chain = std::move(result.chain);
  info.anchor_is_root = result.anchor_is_root;
  read_tpm_identity(leaf, info);
  read_usage(leaf, info);
  info.relaxed = std::move(state.relaxed);
  info.public_key = certificate_key(leaf, info.relaxed);
  internal::clear_openssl_errors();
  return info;
}

bool public_key_matches(const EkCertInfo& cert, Bytes ek_tpm2b_public) {
  auto pub = parse_public(ek_tpm2b_public);
  return pub.ok() && cert.public_key.equals(pub->key);
}

}  // namespace ironroot::tpm2
