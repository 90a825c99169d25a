// ironroot crypto: hash algorithms by their TPM identifiers, and hashing through OpenSSL 3 EVP.
//
//   Hasher h(HashAlg::kSha256);           // fetches the EVP_MD once
//   Digest d = h.digest(bytes);           // one-shot
//   h.extend(pcr, d.view());              // pcr = H(pcr || d), as a TPM does
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/result.h"

// OpenSSL types, declared here so that this header does not pull in <openssl/evp.h>.
struct evp_md_st;
struct evp_md_ctx_st;

namespace ironroot::crypto {

// Values are TPM_ALG_ID (TCG TPM 2.0 Part 2, 6.3), as they appear in event logs.
enum class HashAlg : uint16_t {
  kSha1 = 0x0004,
  kSha256 = 0x000B,
  kSha384 = 0x000C,
  kSha512 = 0x000D,
  kSm3_256 = 0x0012,
  kSha3_256 = 0x0027,
  kSha3_384 = 0x0028,
  kSha3_512 = 0x0029,
};

inline constexpr size_t kMaxDigestSize = 64;

// The algorithm for a TPM_ALG_ID, or nullopt when it is not a hash ironroot knows.
std::optional<HashAlg> hash_alg_from_id(uint16_t id);
// "sha1", "sha256", "sha384", "sha512", "sm3_256", "sha3_256", ... (tpm2-tools spelling).
std::string_view hash_alg_name(HashAlg alg);
std::optional<HashAlg> hash_alg_from_name(std::string_view name);
size_t digest_size(HashAlg alg);
// The algorithm whose digest has this size among sha1/sha256/sha384/sha512.
std::optional<HashAlg> sha_alg_for_size(size_t size);

// A digest as a value: algorithm, size and up to 64 bytes.
struct Digest {
  HashAlg alg = HashAlg::kSha256;
  uint8_t size = 0;
  std::array<uint8_t, kMaxDigestSize> bytes{};

  Bytes view() const { return {bytes.data(), size}; }
  std::string hex() const;
  static Digest zero(HashAlg alg);
  bool operator==(const Digest& o) const {
    return alg == o.alg && size == o.size && view().size() == o.view().size() &&
           std::equal(view().begin(), view().end(), o.view().begin());
  }
};

// Constant-time comparison of two byte strings of equal length (different lengths: false).
bool equal_ct(Bytes a, Bytes b);

// A reusable hashing context for one algorithm. Not thread-safe; cheap to keep per thread.
class Hasher {
 public:
  explicit Hasher(HashAlg alg);
  ~Hasher();
  Hasher(Hasher&& other) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  Hasher& operator=(Hasher&&) = delete;

  HashAlg alg() const { return alg_; }
  size_t size() const { return size_; }
  // False when OpenSSL does not provide the algorithm (for example SM3 in a FIPS build).
  bool available() const { return md_ != nullptr; }

  Digest digest(Bytes data);
  // Hashes the concatenation of the parts.
  Digest digest2(Bytes a, Bytes b);
  // TPM2_PCR_Extend: pcr = H(pcr || data), data being a digest of this algorithm.
  void extend(Digest& pcr, Bytes data);

  // Streaming use.
  void init();
  void update(Bytes data);
  Digest final();

 private:
  HashAlg alg_;
  size_t size_;
  ::evp_md_st* md_ = nullptr;
  ::evp_md_ctx_st* ctx_ = nullptr;
};

// One-shot helper.
Digest hash(HashAlg alg, Bytes data);

}  // namespace ironroot::crypto
