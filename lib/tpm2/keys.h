// ironroot tpm2: TPM 2.0 public areas, the verifier's view of a TPM key. parse_public() reads a
// marshalled TPM2B_PUBLIC (as tpm2-tools writes with `-u`, as an agent sends) into its attributes
// and an OpenSSL public key; name() computes the key's TPM name, which MakeCredential binds to.
// Pure functions over untrusted bytes: nothing here talks to a TPM.
//
//   IRONROOT_ASSIGN_OR_RETURN(tpm2::PublicKeyInfo ak, tpm2::parse_public(ak_pub_bytes));
//   if (!ak.is_restricted_signing) return invalid_argument("not an attestation key");
//   IRONROOT_ASSIGN_OR_RETURN(std::vector<uint8_t> ak_name, tpm2::name(ak_pub_bytes));
//   IRONROOT_ASSIGN_OR_RETURN(std::string pem, ak.key.spki_pem());   // "-----BEGIN PUBLIC KEY..."
//
// Thread safety: the functions are thread-safe; a PublicKey may be shared between threads for
// reading (OpenSSL keys are reference-counted and immutable once built).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "crypto/digest.h"

// OpenSSL's EVP_PKEY, declared so this header does not pull in <openssl/evp.h>.
struct evp_pkey_st;

namespace ironroot::tpm2 {

// TPM_ALG_ID values (TCG Algorithm Registry) that appear in the structures below.
namespace alg {
inline constexpr uint16_t kRsa = 0x0001;
inline constexpr uint16_t kAes = 0x0006;
inline constexpr uint16_t kNull = 0x0010;
inline constexpr uint16_t kRsassa = 0x0014;
inline constexpr uint16_t kRsaes = 0x0015;
inline constexpr uint16_t kRsapss = 0x0016;
inline constexpr uint16_t kOaep = 0x0017;
inline constexpr uint16_t kEcdsa = 0x0018;
inline constexpr uint16_t kEcdh = 0x0019;
inline constexpr uint16_t kEcdaa = 0x001A;
inline constexpr uint16_t kSm2 = 0x001B;
inline constexpr uint16_t kEcschnorr = 0x001C;
inline constexpr uint16_t kEcc = 0x0023;
inline constexpr uint16_t kCfb = 0x0043;
}  // namespace alg

// "rsassa", "ecdsa", "aes", "null", ... or "0x1234" for an identifier ironroot does not name.
std::string alg_name(uint16_t alg_id);

// TPMA_OBJECT bits (TPM 2.0 Part 2, TPMA_OBJECT).
namespace attr {
inline constexpr uint32_t kFixedTpm = 1u << 1;
inline constexpr uint32_t kStClear = 1u << 2;
inline constexpr uint32_t kFixedParent = 1u << 4;
inline constexpr uint32_t kSensitiveDataOrigin = 1u << 5;
inline constexpr uint32_t kUserWithAuth = 1u << 6;
inline constexpr uint32_t kAdminWithPolicy = 1u << 7;
inline constexpr uint32_t kNoDa = 1u << 10;
inline constexpr uint32_t kEncryptedDuplication = 1u << 11;
inline constexpr uint32_t kRestricted = 1u << 16;
inline constexpr uint32_t kDecrypt = 1u << 17;
inline constexpr uint32_t kSign = 1u << 18;
}  // namespace attr

// An OpenSSL public key (RSA or EC), shared by reference count. Empty when default-constructed.
class PublicKey {
 public:
  PublicKey() = default;
  // Takes ownership of one reference to `pkey` (may be null).
  explicit PublicKey(evp_pkey_st* pkey) : pkey_(pkey) {}
  PublicKey(const PublicKey& other);
  PublicKey& operator=(const PublicKey& other);
  PublicKey(PublicKey&& other) noexcept : pkey_(other.pkey_) { other.pkey_ = nullptr; }
  PublicKey& operator=(PublicKey&& other) noexcept;
  ~PublicKey();

  // Reads a SubjectPublicKeyInfo, DER or PEM ("-----BEGIN PUBLIC KEY-----").
  static Result<PublicKey> from_spki(Bytes der_or_pem);

  bool empty() const { return pkey_ == nullptr; }
  // The OpenSSL key, still owned by this object (null when empty).
  evp_pkey_st* get() const { return pkey_; }

  // SubjectPublicKeyInfo encodings of the key, as in a certificate or `openssl pkey -pubout`.
  Result<std::vector<uint8_t>> spki_der() const;
  Result<std::string> spki_pem() const;
  // Same key material (type, parameters, public value). Two empty keys are not equal.
  bool equals(const PublicKey& other) const;

 private:
  evp_pkey_st* pkey_ = nullptr;
};

enum class KeyType : uint16_t { kRsa = alg::kRsa, kEcc = alg::kEcc };

struct PublicKeyInfo {
  KeyType type = KeyType::kRsa;
  crypto::HashAlg name_alg = crypto::HashAlg::kSha256;
  uint32_t object_attributes = 0;      // TPMA_OBJECT, see attr::
  bool is_restricted_signing = false;  // restricted + sign, not decrypt: an attestation key (AK)
  bool is_restricted_decrypt = false;  // restricted + decrypt, not sign: an EK or storage key
  uint16_t scheme = alg::kNull;        // the key's signing / encryption scheme, alg::k*
  std::optional<crypto::HashAlg> scheme_hash;  // the scheme's hash, when the scheme has one
  // The symmetric algorithm of a restricted decryption key (alg::kAes, bits, alg::kCfb), used to
  // protect what is sent to it (MakeCredential); alg::kNull otherwise.
  uint16_t symmetric = alg::kNull;
  uint16_t symmetric_bits = 0;
  uint16_t symmetric_mode = alg::kNull;
  uint16_t key_bits = 0;             // RSA modulus size, or ECC curve size, in bits
  uint16_t curve = 0;                // TPM_ECC_CURVE (3 = NIST P-256, 4 = P-384, ...); 0 for RSA
  std::vector<uint8_t> auth_policy;  // the key's policy digest, empty when it has none
  PublicKey key;
};

// Reads a marshalled TPM2B_PUBLIC (TPM 2.0 Part 2) holding an RSA or ECC key.
// OK: the TPMT_PUBLIC fills exactly the TPM2B, its nameAlg and scheme hash are known hashes, and
// the key is usable by OpenSSL (RSA modulus of keyBits bits; ECC point on a NIST curve or SM2).
// kMalformed for bad structures, kUnsupported for other key types or curves.
Result<PublicKeyInfo> parse_public(Bytes tpm2b_public);

// The TPM name of the key in a TPM2B_PUBLIC (TPM 2.0 Part 1, "Names"): nameAlg (2 bytes,
// big-endian) followed by H_nameAlg(the marshalled TPMT_PUBLIC). 34 bytes for a SHA-256 name.
Result<std::vector<uint8_t>> name(Bytes tpm2b_public);

}  // namespace ironroot::tpm2
