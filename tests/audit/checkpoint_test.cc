// lib/audit: C2SP signed notes and tlog checkpoints.
//
// Known answers come from golang.org/x/mod/sumdb/note/note_test.go (commit fe2ec04; Copyright 2019
// The Go Authors, BSD-3-Clause): the "PeterNeumann" and "EnochRoot" keys and signed messages, the
// reference implementation of the signed-note format. Ed25519 signatures are deterministic, so
// signing the same text with the same seed must give the same line, byte for byte. Our own keys
// are cross-checked with the openssl command line (`openssl pkeyutl -sign -rawin`).
#include "audit/checkpoint.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "audit/merkle_log.h"
#include "audit/note.h"
#include "audit/proof.h"
#include "crypto/base64.h"
#include "crypto/pki.h"
#include "support/corpus.h"

namespace ironroot::audit {
namespace {

// --- golang.org/x/mod/sumdb/note test vectors ---
const char kPeterVkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
// The signer key: "PRIVATE+KEY+PeterNeumann+c74f20a3+" then base64(0x01 || Ed25519 seed).
const char kPeterSeedB64[] = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const char kEnochVkey[] = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const char kText[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
const char kPeterSig[] =
    "\xe2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const char kEnochSig[] =
    "\xe2\x80\x94 EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/"
    "5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

const std::string kDash = "\xe2\x80\x94 ";

NoteVerifierKey vkey(const std::string& text) {
  auto k = parse_verifier_key(text);
  EXPECT_TRUE(k.ok()) << text << ": " << (k.ok() ? "" : k.error().message());
  return k.ok() ? *k : NoteVerifierKey{};
}

// PKCS#8 PEM for an Ed25519 seed, built by hand (RFC 8410 section 7: the fixed DER prefix of
// OneAsymmetricKey for id-Ed25519, then the 32-byte seed) so the test does not trust our loader.
std::string pem_from_seed(const std::vector<uint8_t>& seed) {
  std::vector<uint8_t> der = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                              0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
  der.insert(der.end(), seed.begin(), seed.end());
  return "-----BEGIN PRIVATE KEY-----\n" + crypto::base64_encode(der) +
         "\n-----END PRIVATE KEY-----\n";
}

NoteSigner peter_signer() {
  auto typed = crypto::base64_decode(kPeterSeedB64);
  EXPECT_TRUE(typed.ok());
  EXPECT_EQ(typed->size(), 33u);
  EXPECT_EQ((*typed)[0], kSignatureTypeEd25519);
  std::vector<uint8_t> seed(typed->begin() + 1, typed->end());
  auto s = NoteSigner::from_pem("PeterNeumann", pem_from_seed(seed));
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message());
  return std::move(s).value();
}

TEST(VerifierKey, ParsesGoVectorAndRecomputesKeyId) {
  NoteVerifierKey k = vkey(kPeterVkey);
  EXPECT_EQ(k.name, "PeterNeumann");
  EXPECT_EQ(k.id, 0xc74f20a3u);
  EXPECT_EQ(ed25519_key_id(k.name, k.public_key), 0xc74f20a3u);
  EXPECT_EQ(k.to_string(), kPeterVkey);
  NoteVerifierKey e = vkey(kEnochVkey);
  EXPECT_EQ(e.id, 0xaf0cfe78u);
  EXPECT_EQ(e.to_string(), kEnochVkey);
}

// As Go's TestNewVerifier: every proper substring and every one-character change is refused.
TEST(VerifierKey, RejectsEveryMangling) {
  const std::string key = kPeterVkey;
  int rejected = 0;
  for (size_t i = 0; i <= key.size(); ++i) {
    for (size_t j = i + 1; j <= key.size(); ++j) {
      if (i == 0 && j == key.size()) continue;
      EXPECT_FALSE(parse_verifier_key(key.substr(i, j - i)).ok()) << key.substr(i, j - i);
      ++rejected;
    }
  }
  for (size_t i = 0; i < key.size(); ++i) {
    std::string b = key;
    ++b[i];
    EXPECT_FALSE(parse_verifier_key(b).ok()) << b;
    ++rejected;
  }
  EXPECT_GT(rejected, 2000);
  // Wrong key length with an adjusted key hash; unknown algorithm with an adjusted key hash.
  EXPECT_EQ(parse_verifier_key(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
                .error()
                .code(),
            ErrorCode::kMalformed);
  EXPECT_EQ(parse_verifier_key("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
                .error()
                .code(),
            ErrorCode::kUnsupported);
}

TEST(KeyName, SpecRules) {
  EXPECT_TRUE(is_valid_key_name("example.com/log42"));
  EXPECT_TRUE(is_valid_key_name("caf\xc3\xa9"));
  EXPECT_FALSE(is_valid_key_name(""));
  EXPECT_FALSE(is_valid_key_name("a b"));
  EXPECT_FALSE(is_valid_key_name("a+b"));
  EXPECT_FALSE(is_valid_key_name("a\tb"));
  EXPECT_FALSE(is_valid_key_name(std::string("a\xc2\xa0") + "b"));  // U+00A0 NO-BREAK SPACE
  EXPECT_FALSE(is_valid_key_name("a\xe3\x80\x80"));                 // U+3000 IDEOGRAPHIC SPACE
  EXPECT_FALSE(is_valid_key_name("a\xe2\x80\x83"));                 // U+2003 EM SPACE
  EXPECT_FALSE(is_valid_key_name("\xff"));
}

TEST(Note, SignsGoVectorByteForByte) {
  NoteSigner signer = peter_signer();
  EXPECT_EQ(signer.key_id(), 0xc74f20a3u);
  EXPECT_EQ(signer.verifier_key().to_string(), kPeterVkey);
  auto signed_note = signer.sign(kText);
  ASSERT_TRUE(signed_note.ok());
  EXPECT_EQ(*signed_note, std::string(kText) + "\n" + kPeterSig);
  EXPECT_FALSE(signer.sign("abc").ok());  // no final newline
  EXPECT_FALSE(signer.sign("").ok());
  EXPECT_FALSE(signer.sign("a\rb\n").ok());  // control character
  EXPECT_FALSE(signer.sign("\xff\n").ok());  // not UTF-8
}

TEST(Note, OpensGoVectors) {
  const NoteVerifierKey peter = vkey(kPeterVkey);
  const NoteVerifierKey enoch = vkey(kEnochVkey);
  const std::string msg = std::string(kText) + "\n" + kPeterSig + kEnochSig;

  // One known key: Peter's signature verifies, Enoch's is unknown and ignored.
  auto n = open_note(msg, {&peter, 1});
  ASSERT_TRUE(n.ok()) << n.error().message();
  EXPECT_EQ(n->text, kText);
  ASSERT_EQ(n->signatures.size(), 2u);
  EXPECT_TRUE(n->signatures[0].verified);
  EXPECT_EQ(n->signatures[0].key_name, "PeterNeumann");
  EXPECT_EQ(n->signatures[0].key_id, 0xc74f20a3u);
  EXPECT_EQ(n->signatures[0].signature.size(), 64u);
  EXPECT_FALSE(n->signatures[1].verified);
  EXPECT_EQ(n->signatures[1].key_id, 0xaf0cfe78u);

  // Both known: both verify.
  const std::vector<NoteVerifierKey> both = {peter, enoch};
  auto n2 = open_note(msg, both);
  ASSERT_TRUE(n2.ok());
  EXPECT_TRUE(n2->signatures[0].verified && n2->signatures[1].verified);

  // No known key: rejected (signed-note: "If no signature from a known key verifies ... MUST
  // reject the note").
  EXPECT_FALSE(open_note(msg, {}).ok());
  // A known key whose signature does not verify rejects the whole note.
  std::string bad_sig = std::string(kPeterSig);
  bad_sig.insert(60, "ABCD");
  EXPECT_FALSE(open_note(std::string(kText) + "\n" + bad_sig + kEnochSig, both).ok());
  // A key that shares only the name, or only the ID, is an unknown key.
  NoteVerifierKey same_name = enoch;
  same_name.name = "PeterNeumann";
  auto n3 = open_note(std::string(kText) + "\n" + kPeterSig, {&same_name, 1});
  EXPECT_FALSE(n3.ok());
  // Two different keys with the same name and ID are ambiguous.
  NoteVerifierKey twin = enoch;
  twin.name = peter.name;
  twin.id = peter.id;
  const std::vector<NoteVerifierKey> ambiguous = {peter, twin};
  EXPECT_EQ(open_note(msg, ambiguous).error().code(), ErrorCode::kInvalidArgument);
}

// Go's TestOpen "Invalid encoded message syntax" list, plus a few of ours.
TEST(Note, RejectsMalformedNotes) {
  const NoteVerifierKey peter = vkey(kPeterVkey);
  const std::string text = kText;
  const std::string sig = kPeterSig;
  const std::vector<std::string> bad = {
      text,
      text + "\n",
      text + "\n" + sig.substr(0, sig.size() - 1),  // missing final newline
      "\x01" + text + "\n" + sig,
      "\xff" + text + "\n" + sig,
      text + "\n" + kDash +
          "Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2"
          "pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
      text + "\n" + sig + "Unexpected line.\n",
      text + "\n" +
          "- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2"
          "pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",  // hyphen, not em dash
      text + "\n" + kDash + "PeterNeumann\n",
      text + "\n" + kDash + "PeterNeumann AAAA\n",  // fewer than 5 bytes
      text + "\n" + kDash + "PeterNeumann x08go/ZJ kuBS9UG\n",
      text + "\n" + sig + "\n",
  };
  for (const std::string& msg : bad) {
    EXPECT_FALSE(parse_note(msg).ok()) << msg;
    EXPECT_FALSE(open_note(msg, {&peter, 1}).ok()) << msg;
  }
}

TEST(Note, AlteredTextDoesNotVerify) {
  const NoteVerifierKey peter = vkey(kPeterVkey);
  std::string msg = std::string(kText) + "\n" + kPeterSig;
  ASSERT_TRUE(open_note(msg, {&peter, 1}).ok());
  for (size_t i : {size_t{0}, size_t{10}, std::string(kText).size() - 2}) {
    std::string altered = msg;
    altered[i] = altered[i] == 'x' ? 'y' : 'x';
    EXPECT_FALSE(open_note(altered, {&peter, 1}).ok()) << i;
  }
  // The text's final newline is signed too: moving the blank line changes the text.
  EXPECT_FALSE(open_note(std::string(kText) + "\n\n" + kPeterSig, {&peter, 1}).ok());
}

TEST(Note, Limits) {
  const NoteVerifierKey peter = vkey(kPeterVkey);
  const std::string msg = std::string(kText) + "\n" + kPeterSig;
  NoteLimits small;
  small.max_bytes = msg.size() - 1;
  EXPECT_EQ(open_note(msg, {&peter, 1}, small).error().code(), ErrorCode::kResourceLimit);
  std::string oversized = std::string(300 * 1024, 'a') + "\n\n" + kPeterSig;
  EXPECT_EQ(parse_note(oversized).error().code(), ErrorCode::kResourceLimit);

  // The spec: verifiers MUST accept at least 16 signatures.
  std::string sixteen = std::string(kText) + "\n";
  for (int i = 0; i < 15; ++i) sixteen += kEnochSig;
  sixteen += kPeterSig;
  auto n = open_note(sixteen, {&peter, 1});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->signatures.size(), 16u);
  std::string many = std::string(kText) + "\n";
  for (int i = 0; i < 101; ++i) many += kPeterSig;
  EXPECT_EQ(open_note(many, {&peter, 1}).error().code(), ErrorCode::kResourceLimit);
}

TEST(Note, GeneratedKeysRoundTrip) {
  auto pair = generate_note_key("example.org/ironroot-log");
  ASSERT_TRUE(pair.ok()) << pair.error().message();
  EXPECT_NE(pair->private_key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  NoteVerifierKey key = vkey(pair->verifier_key);
  EXPECT_EQ(key.name, "example.org/ironroot-log");
  EXPECT_EQ(key.to_string(), pair->verifier_key);
  auto signer = NoteSigner::from_pem("example.org/ironroot-log", pair->private_key_pem);
  ASSERT_TRUE(signer.ok());
  EXPECT_EQ(signer->verifier_key().to_string(), pair->verifier_key);
  auto msg = signer->sign("hello\n");
  ASSERT_TRUE(msg.ok());
  auto n = open_note(*msg, {&key, 1});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->text, "hello\n");
  // Another fresh key does not verify it.
  auto other = generate_note_key("example.org/ironroot-log");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->verifier_key, pair->verifier_key);
  NoteVerifierKey other_key = vkey(other->verifier_key);
  EXPECT_FALSE(open_note(*msg, {&other_key, 1}).ok());

  EXPECT_EQ(generate_note_key("bad name").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(NoteSigner::from_pem("x", "not a pem").error().code(), ErrorCode::kMalformed);
  auto ec = crypto::generate_key();  // ECDSA P-256
  ASSERT_TRUE(ec.ok());
  EXPECT_EQ(NoteSigner::from_pem("x", *ec).error().code(), ErrorCode::kUnsupported);
}

// The same key and message through the openssl command line: Ed25519 is deterministic, so the
// signatures must be identical, and openssl must accept ours under the public key in our vkey.
TEST(Note, CrossCheckWithOpensslCommandLine) {
  if (!testing::have_program("openssl")) GTEST_SKIP() << "openssl command not installed";
  auto pair = generate_note_key("example.org/cross-check");
  ASSERT_TRUE(pair.ok());
  auto signer = NoteSigner::from_pem("example.org/cross-check", pair->private_key_pem);
  ASSERT_TRUE(signer.ok());
  const std::string text = "example.org/cross-check\n42\n" +
                           encode_hash(leaf_hash(std::vector<uint8_t>{1, 2, 3})) + "\n";
  auto line = signer->signature_line(text);
  ASSERT_TRUE(line.ok());
  const std::string prefix = kDash + "example.org/cross-check ";
  ASSERT_EQ(line->substr(0, prefix.size()), prefix);
  auto raw = crypto::base64_decode(line->substr(prefix.size(), line->size() - prefix.size() - 1));
  ASSERT_TRUE(raw.ok());
  ASSERT_EQ(raw->size(), 68u);
  const std::vector<uint8_t> ours(raw->begin() + 4, raw->end());

  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("ironroot_note_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string key = (dir / "key.pem").string(), msg = (dir / "msg").string();
  const std::string sig = (dir / "sig").string(), pub = (dir / "pub.der").string();
  const std::string ours_path = (dir / "ours").string();
  std::ofstream(key) << pair->private_key_pem;
  std::ofstream(msg, std::ios::binary) << text;
  std::ofstream(ours_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(ours.data()), static_cast<std::streamsize>(ours.size()));

  auto r =
      testing::run("openssl pkeyutl -sign -rawin -inkey " + key + " -in " + msg + " -out " + sig);
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(testing::read_bytes(sig), ours);
  // SubjectPublicKeyInfo DER of an Ed25519 key ends with the 32 raw key bytes.
  ASSERT_EQ(testing::run("openssl pkey -in " + key + " -pubout -outform DER -out " + pub).status,
            0);
  std::vector<uint8_t> spki = testing::read_bytes(pub);
  ASSERT_EQ(spki.size(), 44u);
  EXPECT_TRUE(std::equal(spki.end() - 32, spki.end(), signer->verifier_key().public_key.begin()));
  r = testing::run("openssl pkeyutl -verify -rawin -pubin -keyform DER -inkey " + pub + " -in " +
                   msg + " -sigfile " + ours_path);
  EXPECT_EQ(r.status, 0) << r.out;
  std::filesystem::remove_all(dir);
}

// --- Checkpoints ---

TEST(Checkpoint, TextFormat) {
  Checkpoint cp;
  cp.origin = "example.org/log";
  cp.size = 3;
  cp.root = leaf_hash({});
  auto text = checkpoint_text(cp);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "example.org/log\n3\n" + encode_hash(cp.root) + "\n");
  auto back = parse_checkpoint_text(*text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, cp);

  cp.extensions = {"ext one", "two"};
  text = checkpoint_text(cp);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*parse_checkpoint_text(*text), cp);

  cp.extensions = {""};
  EXPECT_FALSE(checkpoint_text(cp).ok());
  cp.extensions = {};
  cp.origin = "";
  EXPECT_FALSE(checkpoint_text(cp).ok());
  cp.origin = "a\nb";
  EXPECT_FALSE(checkpoint_text(cp).ok());
}

TEST(Checkpoint, ParseRejectsMalformedText) {
  const std::string root = encode_hash(leaf_hash({}));
  EXPECT_TRUE(parse_checkpoint_text("o\n0\n" + root + "\n").ok());
  EXPECT_EQ(parse_checkpoint_text("o\n18446744073709551615\n" + root + "\n")->size,
            18446744073709551615u);
  const std::vector<std::string> bad = {
      "",
      "o\n5\n" + root,          // no final newline
      "o\n5\n",                 // two lines
      "\n5\n" + root + "\n",    // empty origin
      "o\n05\n" + root + "\n",  // leading zero
      "o\n00\n" + root + "\n",
      "o\n-1\n" + root + "\n",
      "o\n+1\n" + root + "\n",
      "o\n 1\n" + root + "\n",
      "o\n1e3\n" + root + "\n",
      "o\n18446744073709551616\n" + root + "\n",  // 2^64
      "o\n99999999999999999999999\n" + root + "\n",
      "o\n5\n" + root.substr(4) + "\n",  // short root
      "o\n5\n" + root + "AAAA\n",        // long root
      "o\n5\nnot base64\n",
      "o\n5\n" + root + "\n\n",  // empty extension line
      "o\n5\n" + root + "\next\n\nmore\n",
      "o\r\n5\n" + root + "\n",
  };
  for (const std::string& t : bad) EXPECT_FALSE(parse_checkpoint_text(t).ok()) << t;
}

class SignedCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = generate_note_key(kOrigin);
    ASSERT_TRUE(pair.ok());
    auto s = NoteSigner::from_pem(kOrigin, pair->private_key_pem);
    ASSERT_TRUE(s.ok());
    signer_.emplace(std::move(s).value());
    key_ = vkey(pair->verifier_key);
    for (int i = 0; i < 100; ++i) {
      std::string e = "{\"class_uid\":2004,\"finding\":" + std::to_string(i) + "}";
      log_.append({reinterpret_cast<const uint8_t*>(e.data()), e.size()});
    }
  }

  Checkpoint at(uint64_t size) {
    Checkpoint cp;
    cp.origin = kOrigin;
    cp.size = size;
    cp.root = *log_.root(size);
    return cp;
  }

  static constexpr const char* kOrigin = "ironroot.example/audit";
  std::optional<NoteSigner> signer_;
  NoteVerifierKey key_;
  MerkleLog log_;
};

TEST_F(SignedCheckpoint, RoundTripAndConsistencyBetweenCheckpoints) {
  auto signed60 = sign_checkpoint(at(60), *signer_);
  auto signed100 = sign_checkpoint(at(100), *signer_);
  ASSERT_TRUE(signed60.ok() && signed100.ok());
  auto cp60 = open_checkpoint(*signed60, key_);
  auto cp100 = open_checkpoint(*signed100, key_);
  ASSERT_TRUE(cp60.ok()) << cp60.error().message();
  ASSERT_TRUE(cp100.ok());
  EXPECT_EQ(*cp60, at(60));
  EXPECT_EQ(cp100->size, 100u);
  // The auditor's checks: the newer checkpoint extends the older, and entry 42 is in both.
  auto consistency = log_.consistency_proof(60, 100);
  ASSERT_TRUE(consistency.ok());
  EXPECT_TRUE(
      verify_consistency(cp60->size, cp100->size, *consistency, cp60->root, cp100->root).ok());
  auto inclusion = log_.inclusion_proof(42, 100);
  EXPECT_TRUE(verify_inclusion(*log_.leaf_hash(42), 42, cp100->size, *inclusion, cp100->root).ok());
  // A fork that rewrote entry 7 cannot prove that it extends cp60, with its own proof or ours.
  MerkleLog fork;
  const std::vector<uint8_t> rewritten = {'x'};
  for (uint64_t i = 0; i < 100; ++i) {
    fork.append_leaf_hash(i == 7 ? leaf_hash(rewritten) : *log_.leaf_hash(i));
  }
  EXPECT_NE(fork.root(), cp100->root);
  EXPECT_FALSE(
      verify_consistency(60, 100, *fork.consistency_proof(60, 100), cp60->root, fork.root()).ok());
  EXPECT_FALSE(verify_consistency(60, 100, *consistency, cp60->root, fork.root()).ok());
}

TEST_F(SignedCheckpoint, Rejections) {
  auto good = sign_checkpoint(at(100), *signer_);
  ASSERT_TRUE(good.ok());
  ASSERT_TRUE(open_checkpoint(*good, key_).ok());

  // Wrong key (same name, other key material): no known signature.
  auto other = generate_note_key(kOrigin);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(open_checkpoint(*good, vkey(other->verifier_key)).ok());

  // Altered body: size, root, origin.
  std::string altered = *good;
  altered.replace(altered.find("\n100\n"), 5, "\n101\n");
  EXPECT_FALSE(open_checkpoint(altered, key_).ok());
  altered = *good;
  const size_t root_at = altered.find('\n', altered.find('\n') + 1) + 1;
  altered[root_at] = altered[root_at] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(open_checkpoint(altered, key_).ok());

  // Missing final newline.
  EXPECT_FALSE(open_checkpoint(good->substr(0, good->size() - 1), key_).ok());

  // Oversized note.
  NoteLimits tight;
  tight.max_bytes = 64;
  EXPECT_EQ(open_checkpoint(*good, key_, {}, tight).error().code(), ErrorCode::kResourceLimit);

  // Origin: must equal the key name by default, or the one asked for.
  EXPECT_FALSE(open_checkpoint(*good, key_, "ironroot.example/other").ok());
  EXPECT_TRUE(open_checkpoint(*good, key_, kOrigin).ok());
  Checkpoint foreign = at(100);
  foreign.origin = "ironroot.example/other";
  auto foreign_signed = sign_checkpoint(foreign, *signer_);
  ASSERT_TRUE(foreign_signed.ok());
  EXPECT_FALSE(open_checkpoint(*foreign_signed, key_).ok());
  EXPECT_TRUE(open_checkpoint(*foreign_signed, key_, "ironroot.example/other").ok());

  // A signed note that is not a checkpoint.
  auto not_cp = signer_->sign("hello\n");
  ASSERT_TRUE(not_cp.ok());
  EXPECT_FALSE(open_checkpoint(*not_cp, key_).ok());
}

// Witness cosignatures and other unknown signature lines are ignored (signed-note: "Verifiers
// MUST ignore signatures from unknown keys"), before or after the log's own.
TEST_F(SignedCheckpoint, UnknownSignatureLinesAreIgnored) {
  auto good = sign_checkpoint(at(77), *signer_);
  ASSERT_TRUE(good.ok());
  auto witness = generate_note_key("witness.example/w1");
  ASSERT_TRUE(witness.ok());
  auto wsigner = NoteSigner::from_pem("witness.example/w1", witness->private_key_pem);
  ASSERT_TRUE(wsigner.ok());
  auto text = checkpoint_text(at(77));
  ASSERT_TRUE(text.ok());
  auto wline = wsigner->signature_line(*text);
  ASSERT_TRUE(wline.ok());
  const std::string unknown_type = kDash + "other.example/key BAAAAAEC\n";  // 4-byte ID + 2 bytes
  const std::string after = *good + *wline + unknown_type;
  const std::string before = *text + "\n" + *wline + unknown_type + good->substr(text->size() + 1);
  for (const std::string& msg : {after, before}) {
    auto cp = open_checkpoint(msg, key_);
    ASSERT_TRUE(cp.ok()) << cp.error().message() << "\n" << msg;
    EXPECT_EQ(cp->size, 77u);
  }
  // Only unknown signatures: rejected.
  EXPECT_FALSE(open_checkpoint(*text + "\n" + *wline, key_).ok());
}

}  // namespace
}  // namespace ironroot::audit
