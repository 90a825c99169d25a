#include "ear/jwt.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <ctime>

#include "crypto/openssl.h"

namespace ironroot::ear {
namespace {

using json = nlohmann::json;
using crypto::BioPtr;
using crypto::MdCtxPtr;
using crypto::openssl_error;
using crypto::PkeyCtxPtr;
using crypto::PkeyPtr;
using BnPtr = crypto::OpensslPtr<BIGNUM, BN_free>;
using EcdsaSigPtr = crypto::OpensslPtr<ECDSA_SIG, ECDSA_SIG_free>;
using ParamBldPtr = crypto::OpensslPtr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using ParamPtr = crypto::OpensslPtr<OSSL_PARAM, OSSL_PARAM_free>;

constexpr size_t kCoordBytes = 32;  // P-256 coordinates and scalars
constexpr size_t kSigBytes = 64;    // ES256 r||s and Ed25519 signatures alike

std::shared_ptr<evp_pkey_st> share(EVP_PKEY* p) {
  return std::shared_ptr<evp_pkey_st>(p, EVP_PKEY_free);
}

Error rejected(std::string msg) {
  return Error(ErrorCode::kInvalidArgument, std::move(msg));
}

// Which JWS algorithm the key is for; other key types are refused with their name.
Result<Alg> alg_of(EVP_PKEY* pkey) {
  int id = EVP_PKEY_get_base_id(pkey);
  if (id == EVP_PKEY_ED25519) return Alg::kEdDSA;
  if (id == EVP_PKEY_EC) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &len) != 1) {
      return openssl_error("cannot read the EC key's curve");
    }
    std::string g(group, len);
    if (g == "prime256v1" || g == "P-256") return Alg::kES256;
    return Error(ErrorCode::kUnsupported,
                 "EC key on curve " + g + ": ES256 needs P-256 (prime256v1)");
  }
  const char* name = EVP_PKEY_get0_type_name(pkey);
  return Error(ErrorCode::kUnsupported, std::string("key type ") + (name ? name : "unknown") +
                                            " is not supported: use P-256 (ES256) or Ed25519 "
                                            "(EdDSA)");
}

Result<std::string> bio_to_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  if (n < 0) return openssl_error("cannot read memory BIO");
  return std::string(data, static_cast<size_t>(n));
}

Result<std::vector<uint8_t>> bn_param(EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) return openssl_error(name);
  BnPtr bn(raw);
  std::vector<uint8_t> out(kCoordBytes);
  if (BN_bn2binpad(bn.get(), out.data(), static_cast<int>(out.size())) < 0) {
    return openssl_error(name);
  }
  return out;
}

std::string b64(const std::vector<uint8_t>& v) {
  return base64url_encode(v.data(), v.size());
}

// The JWK members that RFC 7638 hashes, in its lexicographic order.
Result<json> required_members(EVP_PKEY* pkey, Alg alg) {
  if (alg == Alg::kEdDSA) {
    std::vector<uint8_t> x(32);
    size_t len = x.size();
    if (EVP_PKEY_get_raw_public_key(pkey, x.data(), &len) != 1 || len != 32) {
      return openssl_error("cannot read the Ed25519 public key");
    }
    return json{{"crv", "Ed25519"}, {"kty", "OKP"}, {"x", b64(x)}};
  }
  IRONROOT_ASSIGN_OR_RETURN(auto x, bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X));
  IRONROOT_ASSIGN_OR_RETURN(auto y, bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y));
  return json{{"crv", "P-256"}, {"kty", "EC"}, {"x", b64(x)}, {"y", b64(y)}};
}

Result<std::string> thumbprint(const json& members) {
  // nlohmann's json object is a sorted map and dump() writes no whitespace: RFC 7638 §3.3.
  std::string canonical = members.dump();
  unsigned char md[32];
  unsigned int len = 0;
  if (EVP_Digest(canonical.data(), canonical.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    return openssl_error("SHA-256");
  }
  return base64url_encode(md, len);
}

// Never prompt for a passphrase: an encrypted key is an error, not a hang on a terminal.
int no_password(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
  return -1;
}

Result<std::vector<uint8_t>> jwk_coord(const json& jwk, const char* name, size_t size) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    return malformed(std::string("JWK member \"") + name + "\" is missing or not a string");
  }
  auto v = base64url_decode(it->get<std::string>());
  if (!v) return std::move(v).error().with_context(std::string("JWK member ") + name);
  if (v->size() != size) {
    return malformed(std::string("JWK member ") + name + " is " + std::to_string(v->size()) +
                     " bytes, not " + std::to_string(size));
  }
  return std::move(*v);
}

struct Parts {
  std::string_view header, payload, signature;  // base64url text
  std::string_view signing_input;               // header.payload
};

Result<Parts> split(std::string_view jwt, size_t max_bytes) {
  if (jwt.empty()) return malformed("the token is empty");
  if (jwt.size() > max_bytes) {
    return Error(ErrorCode::kResourceLimit, "the token is " + std::to_string(jwt.size()) +
                                                " bytes, over the limit of " +
                                                std::to_string(max_bytes));
  }
  if (jwt.front() == '{') {
    return malformed("the token starts with '{': a JSON document, not a compact JWS");
  }
  size_t d1 = jwt.find('.');
  if (d1 == std::string_view::npos) {
    return malformed("not a compact JWS: no '.' (expected header.payload.signature)");
  }
  size_t d2 = jwt.find('.', d1 + 1);
  if (d2 == std::string_view::npos) {
    return malformed("not a compact JWS: one '.' (expected header.payload.signature)");
  }
  size_t d3 = jwt.find('.', d2 + 1);
  if (d3 != std::string_view::npos) {
    return malformed("trailing data after the signature at offset " + std::to_string(d3) +
                     " (a compact JWS has exactly 3 parts; JWE is not supported)");
  }
  Parts p;
  p.header = jwt.substr(0, d1);
  p.payload = jwt.substr(d1 + 1, d2 - d1 - 1);
  p.signature = jwt.substr(d2 + 1);
  p.signing_input = jwt.substr(0, d2);
  if (p.header.empty()) return malformed("the JWS header is empty");
  if (p.payload.empty())
    return malformed("the JWS payload is empty (detached payloads are not supported)");
  if (p.signature.empty())
    return malformed("the JWS signature is empty (unsigned tokens are refused)");
  return p;
}

Result<json> decode_json_part(std::string_view text, const char* what, size_t offset) {
  auto bytes = base64url_decode(text);
  if (!bytes) {
    return std::move(bytes).error().with_context(std::string("JWS ") + what + " (at offset " +
                                                 std::to_string(offset) + ")");
  }
  std::string_view s(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  auto j = parse_json_strict(s);
  if (!j) return std::move(j).error().with_context(std::string("JWS ") + what);
  if (!j->is_object()) {
    return malformed(std::string("JWS ") + what + " must be a JSON object, not " + j->type_name());
  }
  return std::move(*j);
}

std::string key_list(const std::vector<PublicKey>& keys) {
  std::string s;
  for (const auto& k : keys) {
    if (!s.empty()) s += ", ";
    s += k.kid() + " (" + std::string(alg_name(k.alg())) + ")";
  }
  return s.empty() ? "none" : s;
}

}  // namespace

std::string_view alg_name(Alg alg) {
  return alg == Alg::kES256 ? "ES256" : "EdDSA";
}

std::optional<Alg> alg_from_name(std::string_view name) {
  if (name == "ES256") return Alg::kES256;
  if (name == "EdDSA") return Alg::kEdDSA;
  return std::nullopt;
}

// ---- PublicKey ----

Result<PublicKey> PublicKey::from_pkey(std::shared_ptr<evp_pkey_st> pkey) {
  PublicKey k;
  IRONROOT_ASSIGN_OR_RETURN(k.alg_, alg_of(pkey.get()));
  IRONROOT_ASSIGN_OR_RETURN(json members, required_members(pkey.get(), k.alg_));
  IRONROOT_ASSIGN_OR_RETURN(k.kid_, thumbprint(members));
  k.pkey_ = std::move(pkey);
  return k;
}

Result<PublicKey> PublicKey::load_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return openssl_error("BIO_new_mem_buf");
  EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio.get(), nullptr, no_password, nullptr);
  if (!raw) {
    ERR_clear_error();
    return malformed("not a PEM public key (expected -----BEGIN PUBLIC KEY-----)");
  }
  return from_pkey(share(raw));
}

Result<PublicKey> PublicKey::from_jwk(const json& jwk) {
  if (!jwk.is_object()) return malformed("a JWK must be a JSON object");
  auto kty = jwk.find("kty");
  auto crv = jwk.find("crv");
  if (kty == jwk.end() || !kty->is_string()) return malformed("JWK has no \"kty\"");
  std::string t = kty->get<std::string>();
  std::string c = crv != jwk.end() && crv->is_string() ? crv->get<std::string>() : "";
  if (jwk.contains("d")) return malformed("JWK contains a private key (\"d\"): refused");
  EVP_PKEY* raw = nullptr;
  if (t == "OKP" && c == "Ed25519") {
    IRONROOT_ASSIGN_OR_RETURN(auto x, jwk_coord(jwk, "x", 32));
    raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, x.data(), x.size());
    if (!raw) return openssl_error("Ed25519 JWK");
  } else if (t == "EC" && c == "P-256") {
    IRONROOT_ASSIGN_OR_RETURN(auto x, jwk_coord(jwk, "x", kCoordBytes));
    IRONROOT_ASSIGN_OR_RETURN(auto y, jwk_coord(jwk, "y", kCoordBytes));
    std::vector<uint8_t> point{0x04};
    point.insert(point.end(), x.begin(), x.end());
    point.insert(point.end(), y.begin(), y.end());
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                          point.size())) {
      return openssl_error("EC JWK parameters");
    }
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
      ERR_clear_error();
      return malformed("EC JWK: x/y is not a point on P-256");
    }
    PkeyPtr owned(raw);
    PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, raw, nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
      ERR_clear_error();
      return malformed("EC JWK: x/y is not a valid P-256 public key");
    }
    raw = owned.release();
  } else {
    return Error(ErrorCode::kUnsupported, "JWK kty " + t + (c.empty() ? "" : " crv " + c) +
                                              " is not supported: use EC P-256 or OKP Ed25519");
  }
  IRONROOT_ASSIGN_OR_RETURN(PublicKey key, from_pkey(share(raw)));
  if (auto kid = jwk.find("kid"); kid != jwk.end()) {
    if (!kid->is_string() || kid->get<std::string>() != key.kid()) {
      return malformed("JWK kid " + kid->dump() + " is not the key's RFC 7638 thumbprint " +
                       key.kid());
    }
  }
  if (auto alg = jwk.find("alg"); alg != jwk.end()) {
    if (!alg->is_string() || alg->get<std::string>() != alg_name(key.alg())) {
      return malformed("JWK alg " + alg->dump() + " does not fit a " + t + " " + c + " key (" +
                       std::string(alg_name(key.alg())) + ")");
    }
  }
  return key;
}

std::string PublicKey::pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1) return {};
  auto s = bio_to_string(bio.get());
  return s ? *s : std::string();
}

json PublicKey::jwk() const {
  auto m = required_members(pkey_.get(), alg_);
  json j = m ? *m : json::object();
  j["kid"] = kid_;
  j["alg"] = alg_name(alg_);
  j["use"] = "sig";
  return j;
}

// ---- SigningKey ----

Result<SigningKey> SigningKey::from_pkey(std::shared_ptr<evp_pkey_st> pkey) {
  // The public half, re-read from its DER so the PublicKey never holds the private scalar.
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey.get(), &der);
  if (len <= 0) return openssl_error("cannot export the public key");
  const unsigned char* p = der;
  EVP_PKEY* pub = d2i_PUBKEY(nullptr, &p, len);
  OPENSSL_free(der);
  if (!pub) return openssl_error("cannot read back the public key");
  SigningKey k;
  IRONROOT_ASSIGN_OR_RETURN(k.public_, PublicKey::from_pkey(share(pub)));
  k.pkey_ = std::move(pkey);
  return k;
}

Result<SigningKey> SigningKey::load_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return openssl_error("BIO_new_mem_buf");
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr);
  if (!raw) {
    ERR_clear_error();
    return malformed(
        "not an unencrypted PEM private key (expected -----BEGIN PRIVATE KEY----- or "
        "-----BEGIN EC PRIVATE KEY-----)");
  }
  return from_pkey(share(raw));
}

Result<SigningKey> SigningKey::generate(Alg alg) {
  EVP_PKEY* raw = alg == Alg::kEdDSA ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                     : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!raw) return openssl_error("cannot generate a key");
  return from_pkey(share(raw));
}

std::string SigningKey::private_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    return {};
  }
  auto s = bio_to_string(bio.get());
  return s ? *s : std::string();
}

std::string SigningKey::jwks() const {
  return json{{"keys", {public_.jwk()}}}.dump(2);
}

// ---- VerificationKeys ----

Result<VerificationKeys> VerificationKeys::from_pem(std::string_view pem) {
  VerificationKeys keys;
  // A bundle may hold several PEM public keys one after the other.
  size_t pos = 0;
  const std::string_view begin = "-----BEGIN PUBLIC KEY-----";
  const std::string_view end = "-----END PUBLIC KEY-----";
  while ((pos = pem.find(begin, pos)) != std::string_view::npos) {
    size_t e = pem.find(end, pos);
    if (e == std::string_view::npos) return malformed("PEM public key without an END line");
    auto key = PublicKey::load_pem(pem.substr(pos, e + end.size() - pos));
    if (!key) {
      return std::move(key).error().with_context("PEM key " +
                                                 std::to_string(keys.keys_.size() + 1));
    }
    keys.add(std::move(*key));
    pos = e + end.size();
  }
  if (keys.keys_.empty()) {
    return malformed("no PEM public key found (expected -----BEGIN PUBLIC KEY-----)");
  }
  return keys;
}

Result<VerificationKeys> VerificationKeys::from_jwks(std::string_view text) {
  IRONROOT_ASSIGN_OR_RETURN(json j, parse_json_strict(text));
  if (!j.is_object() || !j.contains("keys") || !j["keys"].is_array()) {
    return malformed("a JWKS is an object with a \"keys\" array");
  }
  VerificationKeys keys;
  for (size_t i = 0; i < j["keys"].size(); ++i) {
    auto key = PublicKey::from_jwk(j["keys"][i]);
    if (!key) return std::move(key).error().with_context("JWKS key " + std::to_string(i));
    keys.add(std::move(*key));
  }
  if (keys.keys_.empty()) return malformed("the JWKS has no keys");
  return keys;
}

std::string VerificationKeys::jwks() const {
  json arr = json::array();
  for (const auto& k : keys_) arr.push_back(k.jwk());
  return json{{"keys", arr}}.dump(2);
}

// ---- JWS ----

Result<std::vector<uint8_t>> jws_sign(const SigningKey& key, std::string_view input) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const EVP_MD* md = key.alg() == Alg::kES256 ? EVP_sha256() : nullptr;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key.pkey()) != 1) {
    return openssl_error("sign init");
  }
  size_t len = 0;
  auto data = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1) {
    return openssl_error("sign");
  }
  std::vector<uint8_t> sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, data, input.size()) != 1) {
    return openssl_error("sign");
  }
  sig.resize(len);
  if (key.alg() == Alg::kEdDSA) return sig;
  // OpenSSL gives DER; JWS wants r||s, each left-padded to 32 bytes (RFC 7518 §3.4).
  const unsigned char* p = sig.data();
  EcdsaSigPtr es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  if (!es) return openssl_error("ECDSA signature DER");
  std::vector<uint8_t> raw(kSigBytes);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), raw.data(), kCoordBytes) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), raw.data() + kCoordBytes, kCoordBytes) < 0) {
    return openssl_error("ECDSA r||s");
  }
  return raw;
}

Result<bool> jws_verify(const PublicKey& key, std::string_view input,
                        const std::vector<uint8_t>& signature) {
  if (signature.size() != kSigBytes) return false;
  std::vector<uint8_t> sig = signature;
  if (key.alg() == Alg::kES256) {
    EcdsaSigPtr es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(signature.data(), kCoordBytes, nullptr);
    BIGNUM* s = BN_bin2bn(signature.data() + kCoordBytes, kCoordBytes, nullptr);
    if (!es || !r || !s || ECDSA_SIG_set0(es.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return openssl_error("ECDSA signature");
    }
    unsigned char* der = nullptr;
    int len = i2d_ECDSA_SIG(es.get(), &der);
    if (len <= 0) return openssl_error("ECDSA signature DER");
    sig.assign(der, der + len);
    OPENSSL_free(der);
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const EVP_MD* md = key.alg() == Alg::kES256 ? EVP_sha256() : nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.pkey()) != 1) {
    return openssl_error("verify init");
  }
  int rc = EVP_DigestVerify(ctx.get(), sig.data(), sig.size(),
                            reinterpret_cast<const unsigned char*>(input.data()), input.size());
  ERR_clear_error();
  return rc == 1;
}

Result<std::string> sign_ear(const Ear& ear, const SigningKey& key) {
  if (ear.submods.empty()) return invalid_argument("an EAR needs at least one submod");
  json header{{"alg", alg_name(key.alg())}, {"kid", key.kid()}, {"typ", "JWT"}};
  std::string input =
      base64url_encode(header.dump()) + "." + base64url_encode(ear_to_json(ear).dump());
  IRONROOT_ASSIGN_OR_RETURN(auto sig, jws_sign(key, input));
  return input + "." + base64url_encode(sig.data(), sig.size());
}

Result<DecodedJwt> decode_jwt_unverified(std::string_view jwt, size_t max_token_bytes) {
  IRONROOT_ASSIGN_OR_RETURN(Parts p, split(jwt, max_token_bytes));
  DecodedJwt d;
  IRONROOT_ASSIGN_OR_RETURN(d.header, decode_json_part(p.header, "header", 0));
  IRONROOT_ASSIGN_OR_RETURN(d.claims, decode_json_part(p.payload, "payload", p.header.size() + 1));
  auto sig = base64url_decode(p.signature);
  if (!sig) {
    return std::move(sig).error().with_context("JWS signature (at offset " +
                                               std::to_string(p.signing_input.size() + 1) + ")");
  }
  d.signature = std::move(*sig);
  return d;
}

Result<VerifiedEar> verify_ear(std::string_view jwt, const VerificationKeys& keys,
                               const VerifyOptions& options) {
  IRONROOT_ASSIGN_OR_RETURN(Parts p, split(jwt, options.max_token_bytes));
  IRONROOT_ASSIGN_OR_RETURN(DecodedJwt d, decode_jwt_unverified(jwt, options.max_token_bytes));

  // The header: which algorithm and key. Nothing in it may pick a key we do not already trust.
  auto alg_it = d.header.find("alg");
  if (alg_it == d.header.end() || !alg_it->is_string()) {
    return malformed("JWS header has no \"alg\" string");
  }
  std::string alg_text = alg_it->get<std::string>();
  if (alg_text == "none") {
    return Error(ErrorCode::kUnsupported,
                 "JWS alg \"none\" refused: unsigned tokens are never accepted");
  }
  auto alg = alg_from_name(alg_text);
  if (!alg) {
    return Error(ErrorCode::kUnsupported,
                 "JWS alg \"" + alg_text.substr(0, 32) + "\" is not supported (ES256, EdDSA)");
  }
  bool allowed = false;
  for (Alg a : options.allowed_algs) allowed = allowed || a == *alg;
  if (!allowed) {
    return Error(ErrorCode::kUnsupported,
                 "JWS alg " + alg_text + " is not among the allowed algorithms");
  }
  if (d.header.contains("crit")) {
    return Error(ErrorCode::kUnsupported,
                 "JWS header has \"crit\" extensions, which ironroot does not understand");
  }
  for (const char* member : {"b64", "zip"}) {
    if (d.header.contains(member)) {
      return Error(ErrorCode::kUnsupported,
                   std::string("JWS header member \"") + member + "\" is not supported");
    }
  }
  std::vector<const PublicKey*> candidates;
  if (auto kid = d.header.find("kid"); kid != d.header.end()) {
    if (!kid->is_string()) return malformed("JWS header \"kid\" is not a string");
    for (const auto& k : keys.keys()) {
      if (k.kid() == kid->get<std::string>()) candidates.push_back(&k);
    }
    if (candidates.empty()) {
      return Error(ErrorCode::kNotFound, "no verification key has kid " + kid->dump() +
                                             " (keys: " + key_list(keys.keys()) + ")");
    }
    if (candidates[0]->alg() != *alg) {
      return rejected("JWS alg " + alg_text + " does not fit key " + candidates[0]->kid() +
                      ", which is " + std::string(alg_name(candidates[0]->alg())));
    }
  } else {
    for (const auto& k : keys.keys()) {
      if (k.alg() == *alg) candidates.push_back(&k);
    }
    if (candidates.empty()) {
      return Error(ErrorCode::kNotFound, "no " + alg_text + " key among the verification keys (" +
                                             key_list(keys.keys()) + ")");
    }
  }
  if (d.signature.size() != kSigBytes) {
    return malformed("JWS " + alg_text + " signature is " + std::to_string(d.signature.size()) +
                     " bytes, not 64" + (alg_text == "ES256" ? " (raw r||s, not DER)" : ""));
  }
  const PublicKey* signer = nullptr;
  for (const PublicKey* k : candidates) {
    IRONROOT_ASSIGN_OR_RETURN(bool good, jws_verify(*k, p.signing_input, d.signature));
    if (good) {
      signer = k;
      break;
    }
  }
  if (!signer) {
    return rejected("JWS signature does not verify with " +
                    (candidates.size() == 1
                         ? "key " + candidates[0]->kid()
                         : std::to_string(candidates.size()) + " " + alg_text + " keys"));
  }

  // Only now, with the issuer known, do the claims mean anything.
  auto ear = ear_from_json(d.claims);
  if (!ear) return std::move(ear).error().with_context("JWT claims");
  const int64_t now = options.now ? *options.now : static_cast<int64_t>(std::time(nullptr));
  if (ear->iat > now + options.max_skew_seconds) {
    return rejected("iat " + std::to_string(ear->iat) + " is " + std::to_string(ear->iat - now) +
                    " s in the future (allowed clock skew " +
                    std::to_string(options.max_skew_seconds) + " s)");
  }
  if (ear->exp && now >= *ear->exp + options.max_skew_seconds) {
    return rejected("expired: exp " + std::to_string(*ear->exp) + " is " +
                    std::to_string(now - *ear->exp) + " s ago");
  }
  if (!options.nonce.empty()) {
    if (ear->nonce.empty()) return rejected("eat_nonce is missing but a nonce was expected");
    if (ear->nonce.size() != options.nonce.size() ||
        CRYPTO_memcmp(ear->nonce.data(), options.nonce.data(), ear->nonce.size()) != 0) {
      return rejected("eat_nonce does not match the expected nonce");
    }
  }
  VerifiedEar v;
  v.alg = *alg;
  v.kid = signer->kid();
  v.status = ear->overall_status();
  for (const auto& [name, a] : ear->submods) {
    if (a.derived_status() > v.status) v.status = a.derived_status();
  }
  v.ear = std::move(*ear);
  return v;
}

}  // namespace ironroot::ear
