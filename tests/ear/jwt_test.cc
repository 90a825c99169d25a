// EAR JWTs: round trips for both algorithms, cross-checks with the openssl command line and the
// RFC 8037 vectors, the refusals verify_ear promises, and tampering with every byte.
#include "ear/jwt.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/corpus.h"

namespace ironroot::ear {
namespace {

using nlohmann::json;
using testing::have_program;
using testing::read_bytes;
using testing::read_text;
using testing::run;

constexpr int64_t kNow = 1764000000;

Ear sample() {
  Ear e;
  e.iat = kNow;
  e.verifier_id = {"ironroot", "test"};
  e.nonce = std::vector<uint8_t>(32, 0xab);
  Appraisal& a = e.submods["host-1"];
  a.vector.set(Claim::kInstanceIdentity, codes::kTrustworthyInstance);
  a.vector.set(Claim::kHardware, codes::kGenuineHardware);
  a.vector.set(Claim::kExecutables, codes::kApprovedRuntime);
  a.vector.set(Claim::kConfiguration, codes::kApprovedConfig);
  a.status = a.derived_status();
  a.policy_id = "ironroot:reference-values";
  return e;
}

VerifyOptions at_now() {
  VerifyOptions o;
  o.now = kNow;
  return o;
}

VerificationKeys keys_of(const SigningKey& k) {
  VerificationKeys keys;
  keys.add(k.public_key());
  return keys;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ear_test.XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& data) const {
    std::ofstream(file(name), std::ios::binary) << data;
  }

 private:
  std::string path_;
};

// A DER INTEGER from a 32-byte big-endian value, written here independently of the library.
std::string der_int(const uint8_t* p, size_t n) {
  while (n > 1 && *p == 0) ++p, --n;
  std::string v(reinterpret_cast<const char*>(p), n);
  if (static_cast<uint8_t>(v[0]) & 0x80) v.insert(v.begin(), '\0');
  return std::string{'\x02', static_cast<char>(v.size())} + v;
}

std::string rs_to_der(const std::vector<uint8_t>& rs) {
  std::string body = der_int(rs.data(), 32) + der_int(rs.data() + 32, 32);
  return std::string{'\x30', static_cast<char>(body.size())} + body;
}

std::vector<uint8_t> der_to_rs(const std::vector<uint8_t>& der) {
  std::vector<uint8_t> rs(64, 0);
  size_t pos = 2;  // SEQUENCE header (short form: an ES256 signature is < 128 bytes)
  for (int half = 0; half < 2; ++half) {
    size_t len = der.at(pos + 1);
    const uint8_t* v = der.data() + pos + 2;
    while (len > 32) ++v, --len;  // the 0x00 sign byte
    std::copy(v, v + len, rs.begin() + half * 32 + (32 - static_cast<long>(len)));
    pos += 2 + der.at(pos + 1);
  }
  return rs;
}

TEST(Jwt, RoundTripBothAlgorithms) {
  for (Alg alg : {Alg::kES256, Alg::kEdDSA}) {
    SCOPED_TRACE(std::string(alg_name(alg)));
    auto key = SigningKey::generate(alg);
    ASSERT_TRUE(key) << key.error().message();
    Ear e = sample();
    auto jwt = sign_ear(e, *key);
    ASSERT_TRUE(jwt) << jwt.error().message();
    auto parts = std::count(jwt->begin(), jwt->end(), '.');
    EXPECT_EQ(parts, 2);
    VerifyOptions o = at_now();
    o.nonce = e.nonce;
    auto v = verify_ear(*jwt, keys_of(*key), o);
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->ear, e);
    EXPECT_EQ(v->alg, alg);
    EXPECT_EQ(v->kid, key->kid());
    EXPECT_EQ(v->status, Tier::kAffirming);
    // The header says what the draft and RFC 7515 want.
    auto d = decode_jwt_unverified(*jwt);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->header["alg"], alg_name(alg));
    EXPECT_EQ(d->header["kid"], key->kid());
    EXPECT_EQ(d->signature.size(), 64u);
  }
}

TEST(Jwt, KeysSurvivePemAndJwks) {
  for (Alg alg : {Alg::kES256, Alg::kEdDSA}) {
    SCOPED_TRACE(std::string(alg_name(alg)));
    auto key = SigningKey::generate(alg);
    ASSERT_TRUE(key);
    auto again = SigningKey::load_pem(key->private_pem());
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(again->kid(), key->kid());
    auto pub = PublicKey::load_pem(key->public_key().pem());
    ASSERT_TRUE(pub) << pub.error().message();
    EXPECT_EQ(pub->kid(), key->kid());
    auto set = VerificationKeys::from_jwks(key->jwks());
    ASSERT_TRUE(set) << set.error().message();
    ASSERT_EQ(set->keys().size(), 1u);
    EXPECT_EQ(set->keys()[0].kid(), key->kid());
    auto jwt = sign_ear(sample(), *again);
    ASSERT_TRUE(jwt);
    EXPECT_TRUE(verify_ear(*jwt, *set, at_now()));
  }
}

// RFC 8037 appendix A: the Ed25519 key, its RFC 7638 thumbprint and a signature.
TEST(Jwt, Rfc8037Vectors) {
  json jwk = {
      {"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}};
  auto key = PublicKey::from_jwk(jwk);
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  const std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  auto sig = base64url_decode(
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
  ASSERT_TRUE(sig);
  auto good = jws_verify(*key, input, *sig);
  ASSERT_TRUE(good);
  EXPECT_TRUE(*good);
  auto other = jws_verify(*key, input + "x", *sig);
  ASSERT_TRUE(other);
  EXPECT_FALSE(*other);
}

TEST(Jwt, OpensslVerifiesOurES256) {
  if (!have_program("openssl")) GTEST_SKIP() << "no openssl command";
  TempDir dir;
  auto key = SigningKey::generate(Alg::kES256);
  ASSERT_TRUE(key);
  auto jwt = sign_ear(sample(), *key);
  ASSERT_TRUE(jwt);
  size_t dot = jwt->rfind('.');
  auto sig = base64url_decode(jwt->substr(dot + 1));
  ASSERT_TRUE(sig);
  dir.write("pub.pem", key->public_key().pem());
  dir.write("input", jwt->substr(0, dot));
  dir.write("sig.der", rs_to_der(*sig));
  auto r = run("openssl dgst -sha256 -verify " + dir.file("pub.pem") + " -signature " +
               dir.file("sig.der") + " " + dir.file("input"));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Verified OK"), std::string::npos);
  // And openssl refuses it for other bytes, so the check above means something.
  dir.write("input", jwt->substr(0, dot) + " ");
  EXPECT_NE(run("openssl dgst -sha256 -verify " + dir.file("pub.pem") + " -signature " +
                dir.file("sig.der") + " " + dir.file("input"))
                .status,
            0);
}

// Tokens made entirely by the openssl command line (keys and signatures) verify with our code.
TEST(Jwt, WeVerifyOpensslSignatures) {
  if (!have_program("openssl")) GTEST_SKIP() << "no openssl command";
  TempDir dir;
  for (Alg alg : {Alg::kEdDSA, Alg::kES256}) {
    SCOPED_TRACE(std::string(alg_name(alg)));
    const std::string k = dir.file(alg == Alg::kEdDSA ? "ed.pem" : "ec.pem");
    const std::string genkey = alg == Alg::kEdDSA ? "openssl genpkey -algorithm ed25519 -out " + k
                                                  : "openssl genpkey -algorithm EC -pkeyopt "
                                                    "ec_paramgen_curve:P-256 -out " +
                                                        k;
    ASSERT_EQ(run(genkey).status, 0);
    ASSERT_EQ(run("openssl pkey -in " + k + " -pubout -out " + k + ".pub").status, 0);
    auto pub = PublicKey::load_pem(read_text(k + ".pub"));
    ASSERT_TRUE(pub) << pub.error().message();
    json header = {{"alg", alg_name(alg)}, {"typ", "JWT"}};
    std::string input =
        base64url_encode(header.dump()) + "." + base64url_encode(ear_to_json(sample()).dump());
    dir.write("input", input);
    std::vector<uint8_t> sig;
    if (alg == Alg::kEdDSA) {
      ASSERT_EQ(run("openssl pkeyutl -sign -inkey " + k + " -rawin -in " + dir.file("input") +
                    " -out " + dir.file("sig"))
                    .status,
                0);
      sig = read_bytes(dir.file("sig"));
    } else {
      ASSERT_EQ(run("openssl dgst -sha256 -sign " + k + " -out " + dir.file("sig") + " " +
                    dir.file("input"))
                    .status,
                0);
      sig = der_to_rs(read_bytes(dir.file("sig")));
    }
    ASSERT_EQ(sig.size(), 64u);
    std::string jwt = input + "." + base64url_encode(sig.data(), sig.size());
    VerificationKeys keys;
    keys.add(*pub);
    auto v = verify_ear(jwt, keys, at_now());
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->kid, pub->kid());
    // The private key openssl made also loads as a signing key with the same kid.
    auto sk = SigningKey::load_pem(read_text(k));
    ASSERT_TRUE(sk) << sk.error().message();
    EXPECT_EQ(sk->kid(), pub->kid());
  }
}

std::string error_of(const Result<VerifiedEar>& r) {
  return r ? "" : r.error().message();
}

TEST(Jwt, RefusesWhatItPromisesToRefuse) {
  auto es = SigningKey::generate(Alg::kES256);
  auto ed = SigningKey::generate(Alg::kEdDSA);
  ASSERT_TRUE(es && ed);
  auto jwt = sign_ear(sample(), *es);
  ASSERT_TRUE(jwt);
  const std::string good = *jwt;
  const std::string head = good.substr(0, good.find('.'));
  const std::string rest = good.substr(good.find('.'));

  // alg none, unsigned.
  std::string none = base64url_encode(R"({"alg":"none"})") + rest.substr(0, rest.rfind('.') + 1);
  EXPECT_NE(error_of(verify_ear(none, keys_of(*es), at_now())).find("empty"), std::string::npos);
  std::string none_sig = base64url_encode(R"({"alg":"none"})") + rest;
  EXPECT_NE(error_of(verify_ear(none_sig, keys_of(*es), at_now())).find("\"none\" refused"),
            std::string::npos);
  // An EdDSA header over an ES256 key (kid pins the key): alg confusion is refused.
  std::string confused = base64url_encode(json{{"alg", "EdDSA"}, {"kid", es->kid()}}.dump()) + rest;
  EXPECT_NE(error_of(verify_ear(confused, keys_of(*es), at_now())).find("does not fit key"),
            std::string::npos);
  // Algorithm pinning.
  VerifyOptions only_ed = at_now();
  only_ed.allowed_algs = {Alg::kEdDSA};
  EXPECT_NE(error_of(verify_ear(good, keys_of(*es), only_ed)).find("not among the allowed"),
            std::string::npos);
  // HS256 and friends.
  std::string hs = base64url_encode(R"({"alg":"HS256"})") + rest;
  EXPECT_NE(error_of(verify_ear(hs, keys_of(*es), at_now())).find("not supported"),
            std::string::npos);
  // crit.
  std::string crit = base64url_encode(json{{"alg", "ES256"}, {"crit", {"exp"}}}.dump()) + rest;
  EXPECT_NE(error_of(verify_ear(crit, keys_of(*es), at_now())).find("crit"), std::string::npos);
  // Wrong key.
  auto other = SigningKey::generate(Alg::kES256);
  EXPECT_NE(
      error_of(verify_ear(good, keys_of(*other), at_now())).find("no verification key has kid"),
      std::string::npos);
  std::string no_kid = base64url_encode(R"({"alg":"ES256"})") + rest;
  EXPECT_NE(error_of(verify_ear(no_kid, keys_of(*other), at_now())).find("does not verify"),
            std::string::npos);
  EXPECT_NE(error_of(verify_ear(no_kid, keys_of(*ed), at_now())).find("no ES256 key"),
            std::string::npos);
  // Trailing data, whitespace, bad base64url.
  EXPECT_NE(error_of(verify_ear(good + ".x", keys_of(*es), at_now())).find("trailing data"),
            std::string::npos);
  EXPECT_NE(error_of(verify_ear(good + "\n", keys_of(*es), at_now())).find("not base64url"),
            std::string::npos);
  EXPECT_NE(error_of(verify_ear(head + "=" + rest, keys_of(*es), at_now())).find("padding"),
            std::string::npos);
  EXPECT_NE(error_of(verify_ear("abc", keys_of(*es), at_now())).find("no '.'"), std::string::npos);
  EXPECT_NE(
      error_of(verify_ear("{\"a\": \"x.y.z.w\"}", keys_of(*es), at_now())).find("JSON document"),
      std::string::npos);
  // Time: future iat beyond the skew, expiry.
  VerifyOptions early = at_now();
  early.now = kNow - 61;
  EXPECT_NE(error_of(verify_ear(good, keys_of(*es), early)).find("in the future"),
            std::string::npos);
  early.now = kNow - 59;
  EXPECT_TRUE(verify_ear(good, keys_of(*es), early));
  Ear expiring = sample();
  expiring.exp = kNow + 300;
  auto exp_jwt = sign_ear(expiring, *es);
  ASSERT_TRUE(exp_jwt);
  VerifyOptions late = at_now();
  late.now = kNow + 300 + 60;
  EXPECT_NE(error_of(verify_ear(*exp_jwt, keys_of(*es), late)).find("expired"), std::string::npos);
  late.now = kNow + 300;
  EXPECT_TRUE(verify_ear(*exp_jwt, keys_of(*es), late));
  // Nonce.
  VerifyOptions nonce = at_now();
  nonce.nonce = std::vector<uint8_t>(32, 0xac);
  EXPECT_NE(error_of(verify_ear(good, keys_of(*es), nonce)).find("eat_nonce does not match"),
            std::string::npos);
  Ear no_nonce = sample();
  no_nonce.nonce.clear();
  auto nn = sign_ear(no_nonce, *es);
  ASSERT_TRUE(nn);
  EXPECT_NE(error_of(verify_ear(*nn, keys_of(*es), nonce)).find("eat_nonce is missing"),
            std::string::npos);
  // A well-signed token whose claims are not an EAR.
  json header{{"alg", "ES256"}, {"kid", es->kid()}};
  std::string input = base64url_encode(header.dump()) + "." + base64url_encode(R"({"iat":1})");
  auto sig = jws_sign(*es, input);
  ASSERT_TRUE(sig);
  auto not_ear =
      verify_ear(input + "." + base64url_encode(sig->data(), sig->size()), keys_of(*es), at_now());
  ASSERT_FALSE(not_ear);
  EXPECT_EQ(not_ear.error().code(), ErrorCode::kMalformed);
  EXPECT_NE(not_ear.error().message().find("JWT claims"), std::string::npos);
}

// A token cannot claim "affirming" over a contraindicated vector.
TEST(Jwt, StatusIsNeverBetterThanTheVector) {
  auto key = SigningKey::generate(Alg::kEdDSA);
  ASSERT_TRUE(key);
  Ear e = sample();
  e.submods["host-1"].vector.set(Claim::kFileSystem, codes::kContraindicatedFiles);
  e.submods["host-1"].status = Tier::kAffirming;  // a lie
  auto jwt = sign_ear(e, *key);
  ASSERT_TRUE(jwt);
  auto v = verify_ear(*jwt, keys_of(*key), at_now());
  ASSERT_TRUE(v);
  EXPECT_EQ(v->status, Tier::kContraindicated);
}

// Every single-byte change anywhere in the token is refused, for both algorithms.
TEST(Jwt, TamperingWithAnyByteIsRefused) {
  for (Alg alg : {Alg::kES256, Alg::kEdDSA}) {
    SCOPED_TRACE(std::string(alg_name(alg)));
    auto key = SigningKey::generate(alg);
    ASSERT_TRUE(key);
    auto jwt = sign_ear(sample(), *key);
    ASSERT_TRUE(jwt);
    const VerificationKeys keys = keys_of(*key);
    ASSERT_TRUE(verify_ear(*jwt, keys, at_now()));
    for (size_t i = 0; i < jwt->size(); ++i) {
      for (char replacement : {'A', 'B', 'g', 'Q', '_', '.'}) {
        if ((*jwt)[i] == replacement) continue;
        std::string t = *jwt;
        t[i] = replacement;
        EXPECT_FALSE(verify_ear(t, keys, at_now())) << "byte " << i << " -> " << replacement;
      }
    }
    EXPECT_FALSE(verify_ear(jwt->substr(0, jwt->size() - 1), keys, at_now()));
    EXPECT_FALSE(verify_ear(*jwt + "A", keys, at_now()));
  }
}

TEST(Keys, RefusesOtherKeyTypesNamingThem) {
  if (!have_program("openssl")) GTEST_SKIP() << "no openssl command";
  TempDir dir;
  ASSERT_EQ(run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out " +
                dir.file("p384.pem"))
                .status,
            0);
  auto p384 = SigningKey::load_pem(read_text(dir.file("p384.pem")));
  ASSERT_FALSE(p384);
  EXPECT_NE(p384.error().message().find("needs P-256"), std::string::npos)
      << p384.error().message();
  ASSERT_EQ(run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out " +
                dir.file("rsa.pem"))
                .status,
            0);
  auto rsa = SigningKey::load_pem(read_text(dir.file("rsa.pem")));
  ASSERT_FALSE(rsa);
  EXPECT_NE(rsa.error().message().find("RSA"), std::string::npos) << rsa.error().message();
  EXPECT_FALSE(SigningKey::load_pem("hello"));
  EXPECT_FALSE(VerificationKeys::from_pem(""));
  EXPECT_FALSE(VerificationKeys::from_jwks(R"({"keys": []})"));
  // A JWK whose point is not on the curve.
  auto key = SigningKey::generate(Alg::kES256);
  ASSERT_TRUE(key);
  json jwk = key->public_key().jwk();
  jwk.erase("kid");
  std::string y = jwk["y"];
  y[5] = y[5] == 'A' ? 'B' : 'A';
  jwk["y"] = y;
  auto off_curve = PublicKey::from_jwk(jwk);
  ASSERT_FALSE(off_curve);
  EXPECT_NE(off_curve.error().message().find("P-256"), std::string::npos);
  // A kid that is not the thumbprint.
  json wrong_kid = key->public_key().jwk();
  wrong_kid["kid"] = "someone-else";
  EXPECT_FALSE(PublicKey::from_jwk(wrong_kid));
}

TEST(Keys, EncryptedKeyIsAnErrorNotAPrompt) {
  if (!have_program("openssl")) GTEST_SKIP() << "no openssl command";
  TempDir dir;
  ASSERT_EQ(run("openssl genpkey -algorithm ed25519 -aes-128-cbc -pass pass:secret -out " +
                dir.file("enc.pem"))
                .status,
            0);
  auto k = SigningKey::load_pem(read_text(dir.file("enc.pem")));
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().message().find("unencrypted"), std::string::npos);
}

}  // namespace
}  // namespace ironroot::ear
