#include "crypto/digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>

#include "core/hex.h"

namespace ironroot::crypto {
namespace {

struct AlgInfo {
  HashAlg alg;
  std::string_view name;
  size_t size;
  const char* openssl_name;
};

constexpr AlgInfo kAlgs[] = {
    {HashAlg::kSha1, "sha1", 20, "SHA1"},
    {HashAlg::kSha256, "sha256", 32, "SHA256"},
    {HashAlg::kSha384, "sha384", 48, "SHA384"},
    {HashAlg::kSha512, "sha512", 64, "SHA512"},
    {HashAlg::kSm3_256, "sm3_256", 32, "SM3"},
    {HashAlg::kSha3_256, "sha3_256", 32, "SHA3-256"},
    {HashAlg::kSha3_384, "sha3_384", 48, "SHA3-384"},
    {HashAlg::kSha3_512, "sha3_512", 64, "SHA3-512"},
};

const AlgInfo& info(HashAlg alg) {
  for (const auto& a : kAlgs) {
    if (a.alg == alg) return a;
  }
  std::abort();  // HashAlg values are only made by hash_alg_from_id / the enum itself
}

}  // namespace

std::optional<HashAlg> hash_alg_from_id(uint16_t id) {
  for (const auto& a : kAlgs) {
    if (static_cast<uint16_t>(a.alg) == id) return a.alg;
  }
  return std::nullopt;
}

std::string_view hash_alg_name(HashAlg alg) {
  return info(alg).name;
}

std::optional<HashAlg> hash_alg_from_name(std::string_view name) {
  for (const auto& a : kAlgs) {
    if (a.name == name) return a.alg;
  }
  if (name == "sm3") return HashAlg::kSm3_256;
  return std::nullopt;
}

size_t digest_size(HashAlg alg) {
  return info(alg).size;
}

std::optional<HashAlg> sha_alg_for_size(size_t size) {
  switch (size) {
    case 20: return HashAlg::kSha1;
    case 32: return HashAlg::kSha256;
    case 48: return HashAlg::kSha384;
    case 64: return HashAlg::kSha512;
    default: return std::nullopt;
  }
}

std::string Digest::hex() const {
  return to_hex(view());
}

Digest Digest::zero(HashAlg alg) {
  Digest d;
  d.alg = alg;
  d.size = static_cast<uint8_t>(digest_size(alg));
  return d;
}

bool equal_ct(Bytes a, Bytes b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// EVP_MD_fetch costs microseconds; fetch each algorithm once per process and keep a reference
// per Hasher (EVP_MD_up_ref), which is thread-safe.
static EVP_MD* fetched(HashAlg alg) {
  static EVP_MD* const cache[] = {
      EVP_MD_fetch(nullptr, "SHA1", nullptr),     EVP_MD_fetch(nullptr, "SHA256", nullptr),
      EVP_MD_fetch(nullptr, "SHA384", nullptr),   EVP_MD_fetch(nullptr, "SHA512", nullptr),
      EVP_MD_fetch(nullptr, "SM3", nullptr),      EVP_MD_fetch(nullptr, "SHA3-256", nullptr),
      EVP_MD_fetch(nullptr, "SHA3-384", nullptr), EVP_MD_fetch(nullptr, "SHA3-512", nullptr),
  };
  for (size_t i = 0; i < std::size(kAlgs); ++i) {
    if (kAlgs[i].alg == alg) {
      EVP_MD* md = cache[i];
      if (md != nullptr) EVP_MD_up_ref(md);
      return md;
    }
  }
  return nullptr;
}

Hasher::Hasher(HashAlg alg) : alg_(alg), size_(digest_size(alg)) {
  md_ = fetched(alg);
  ctx_ = EVP_MD_CTX_new();
}

Hasher::Hasher(Hasher&& other) noexcept
    : alg_(other.alg_), size_(other.size_), md_(other.md_), ctx_(other.ctx_) {
  other.md_ = nullptr;
  other.ctx_ = nullptr;
}

Hasher::~Hasher() {
  EVP_MD_CTX_free(ctx_);
  EVP_MD_free(md_);
}

void Hasher::init() {
  if (md_ == nullptr || EVP_DigestInit_ex2(ctx_, md_, nullptr) != 1) std::abort();
}

void Hasher::update(Bytes data) {
  if (!data.empty()) EVP_DigestUpdate(ctx_, data.data(), data.size());
}

Digest Hasher::final() {
  Digest d;
  d.alg = alg_;
  d.size = static_cast<uint8_t>(size_);
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_, d.bytes.data(), &n);
  return d;
}

Digest Hasher::digest(Bytes data) {
  init();
  update(data);
  return final();
}

Digest Hasher::digest2(Bytes a, Bytes b) {
  init();
  update(a);
  update(b);
  return final();
}

void Hasher::extend(Digest& pcr, Bytes data) {
  init();
  EVP_DigestUpdate(ctx_, pcr.bytes.data(), pcr.size);
  update(data);
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_, pcr.bytes.data(), &n);
}

Digest hash(HashAlg alg, Bytes data) {
  Hasher h(alg);
  return h.digest(data);
}

}  // namespace ironroot::crypto
