// ironroot ear: EARs signed as JWTs (RFC 7519, compact JWS RFC 7515), ES256 or EdDSA (RFC 8037).
//
// The verifier signs each appraisal with its own key; anyone holding the public key (PEM, or the
// JWKS the verifier publishes) checks it offline.
//
//   auto key = SigningKey::generate(Alg::kEdDSA);                 // or load_pem(pem)
//   auto jwt = sign_ear(ear, *key);                               // "eyJ...": header.payload.sig
//   auto keys = VerificationKeys::from_jwks(key->jwks());
//   auto v = verify_ear(*jwt, *keys, {.nonce = challenge_nonce});
//   if (v && v->status == Tier::kAffirming) { ... }
//
// verify_ear pins the algorithms, refuses "none" and "crit", an alg that does not fit the key,
// bad base64url, trailing data, an expired token (exp), an iat in the future beyond the skew and
// a nonce mismatch. Errors: kMalformed = not a well-formed EAR JWT; any other code = well-formed
// but not to be trusted (kUnauthenticated does not exist in core, so: kInvalidArgument for a bad
// signature, time or nonce; kUnsupported for an algorithm not allowed; kNotFound for no key).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "ear/ear.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace ironroot::ear {

enum class Alg : uint8_t { kES256, kEdDSA };
std::string_view alg_name(Alg alg);  // "ES256", "EdDSA" (the JWS "alg" values)
std::optional<Alg> alg_from_name(std::string_view name);

// A public key that verifies EARs, with its RFC 7638 thumbprint as key id.
class PublicKey {
 public:
  // A PEM SubjectPublicKeyInfo ("PUBLIC KEY"): P-256 or Ed25519.
  static Result<PublicKey> load_pem(std::string_view pem);
  // One JWK (RFC 7517): {"kty":"EC","crv":"P-256","x","y"} or {"kty":"OKP","crv":"Ed25519","x"}.
  // A "kid" member, if present, must equal the thumbprint; an "alg", if present, must fit.
  static Result<PublicKey> from_jwk(const nlohmann::json& jwk);

  Alg alg() const { return alg_; }
  const std::string& kid() const { return kid_; }  // base64url SHA-256 thumbprint (RFC 7638)
  std::string pem() const;
  nlohmann::json jwk() const;  // with "kid", "alg" and "use": "sig"
  evp_pkey_st* pkey() const { return pkey_.get(); }

 private:
  static Result<PublicKey> from_pkey(std::shared_ptr<evp_pkey_st> pkey);
  std::shared_ptr<evp_pkey_st> pkey_;
  Alg alg_ = Alg::kES256;
  std::string kid_;
  friend class SigningKey;
};

// The verifier's private key.
class SigningKey {
 public:
  // A PEM private key (PKCS#8 "PRIVATE KEY", or "EC PRIVATE KEY"): P-256 or Ed25519.
  static Result<SigningKey> load_pem(std::string_view pem);
  static Result<SigningKey> generate(Alg alg);

  Alg alg() const { return public_.alg(); }
  const std::string& kid() const { return public_.kid(); }
  const PublicKey& public_key() const { return public_; }
  std::string private_pem() const;  // PKCS#8, unencrypted: store it with mode 0600
  // {"keys": [<the public JWK>]}: what GET /v1/keys (or a relying party's file) would hold.
  std::string jwks() const;
  evp_pkey_st* pkey() const { return pkey_.get(); }

 private:
  static Result<SigningKey> from_pkey(std::shared_ptr<evp_pkey_st> pkey);
  std::shared_ptr<evp_pkey_st> pkey_;
  PublicKey public_;
};

// The keys a relying party trusts.
class VerificationKeys {
 public:
  static Result<VerificationKeys> from_pem(std::string_view pem);
  // A JWKS {"keys": [...]}; keys of other types (RSA, X25519) are errors, not skipped silently.
  static Result<VerificationKeys> from_jwks(std::string_view json);
  void add(PublicKey key) { keys_.push_back(std::move(key)); }
  const std::vector<PublicKey>& keys() const { return keys_; }
  std::string jwks() const;

 private:
  std::vector<PublicKey> keys_;
};

struct VerifyOptions {
  std::vector<Alg> allowed_algs = {Alg::kES256, Alg::kEdDSA};
  std::optional<int64_t> now;        // seconds since the epoch; default: the system clock
  int64_t max_skew_seconds = 60;     // tolerated clock difference for iat and exp
  std::vector<uint8_t> nonce;        // when not empty, eat_nonce must equal it
  size_t max_token_bytes = 1 << 20;  // larger tokens are refused before decoding
};

struct VerifiedEar {
  Ear ear;
  Alg alg = Alg::kES256;
  std::string kid;  // the key that verified it
  // The worst of every submod's stated status and the status its vector implies, so a token
  // cannot say "affirming" over a contraindicated vector.
  Tier status = Tier::kNone;
};

// A compact JWS: base64url(header).base64url(payload).base64url(signature), header
// {"alg", "kid", "typ": "JWT"}; ES256 signatures are raw r||s (64 bytes), as RFC 7518 §3.4 says.
Result<std::string> sign_ear(const Ear& ear, const SigningKey& key);
Result<VerifiedEar> verify_ear(std::string_view jwt, const VerificationKeys& keys,
                               const VerifyOptions& options = {});

// The header and claims of a JWT without checking anything but its form: for `result show`.
struct DecodedJwt {
  nlohmann::json header;
  nlohmann::json claims;
  std::vector<uint8_t> signature;
};
Result<DecodedJwt> decode_jwt_unverified(std::string_view jwt, size_t max_token_bytes = 1 << 20);

// Low-level JWS pieces (tests cross-check them against the openssl command line).
Result<std::vector<uint8_t>> jws_sign(const SigningKey& key, std::string_view signing_input);
// True when `signature` is valid; false when it is not; an Error only when it cannot tell.
Result<bool> jws_verify(const PublicKey& key, std::string_view signing_input,
                        const std::vector<uint8_t>& signature);

}  // namespace ironroot::ear
