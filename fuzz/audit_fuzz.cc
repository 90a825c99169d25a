// Fuzz target: the audit log's offline verifiers, as an auditor runs them on untrusted files.
// The first input byte picks what the rest feeds:
//   0  a signed note / checkpoint: parse_note, open_note and open_checkpoint with a fixed key;
//   1  the rest is a checkpoint body that we sign with that key and open again: it must open iff
//      it parses, and come back unchanged;
//   2  verify_inclusion, 3 verify_consistency, 4 verify_subtree_inclusion,
//   5  verify_subtree_consistency: sizes (8 bytes each, little-endian), then 32-byte hashes;
//   6  a differential check: a MerkleLog of up to 64 entries from the input; its proofs must
//      verify, and a proof with one flipped bit must not.
// Beyond memory errors, a broken promise (an invariant below) aborts, so the fuzzer reports it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/merkle_log.h"
#include "audit/note.h"
#include "audit/proof.h"
#include "crypto/base64.h"

namespace {

namespace audit = ironroot::audit;

void check(bool ok) {
  if (!ok) std::abort();
}

// Reads the input front to back; runs out into zeros.
struct Input {
  const uint8_t* p;
  size_t n;

  uint64_t u64() {
    uint64_t v = 0;
    size_t k = n < 8 ? n : 8;
    std::memcpy(&v, p, k);
    p += k;
    n -= k;
    return v;
  }
  uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  audit::Hash hash() {
    audit::Hash h{};
    size_t k = n < h.size() ? n : h.size();
    std::memcpy(h.data(), p, k);
    p += k;
    n -= k;
    return h;
  }
  audit::Proof rest_as_proof() {
    audit::Proof proof;
    while (n >= audit::kHashSize && proof.size() < 200) proof.push_back(hash());
    return proof;
  }
};

// A fixed Ed25519 key (seed = 32 x 0x2a) as PKCS#8 PEM.
const audit::NoteSigner& signer() {
  static const audit::NoteSigner s = [] {
    std::vector<uint8_t> der = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
    der.resize(der.size() + 32, 0x2a);
    std::string pem = "-----BEGIN PRIVATE KEY-----\n" + ironroot::crypto::base64_encode(der) +
                      "\n-----END PRIVATE KEY-----\n";
    auto r = audit::NoteSigner::from_pem("fuzz.example/log", pem);
    if (!r.ok()) std::abort();
    return std::move(r).value();
  }();
  return s;
}

void fuzz_note(std::string_view msg) {
  const audit::NoteVerifierKey& key = signer().verifier_key();
  auto note = audit::parse_note(msg);
  if (note.ok()) {
    check(!note->text.empty() && note->text.back() == '\n');
    check(!note->signatures.empty() &&
          note->signatures.size() <= audit::NoteLimits{}.max_signatures);
    for (const auto& s : note->signatures) {
      check(!s.signature.empty() && !s.verified && audit::is_valid_key_name(s.key_name));
    }
  }
  auto opened = audit::open_note(msg, {&key, 1});
  if (opened.ok()) check(note.ok() && opened->text == note->text);
  auto cp = audit::open_checkpoint(msg, key);
  if (cp.ok()) {
    check(opened.ok());
    auto text = audit::checkpoint_text(*cp);
    check(text.ok() && *text == opened->text);
  }
  (void)audit::parse_verifier_key(msg);
}

void fuzz_sign_and_open(std::string_view body) {
  auto parsed = audit::parse_checkpoint_text(body);
  auto signed_note = signer().sign(body);
  if (!signed_note.ok()) {
    check(!parsed.ok());  // a checkpoint text is always a signable note text
    return;
  }
  auto note = audit::open_note(*signed_note, {&signer().verifier_key(), 1});
  // The text/signature split is the last blank line, which is the one we added even when the
  // body has blank lines of its own, so the note opens to the body exactly.
  if (signed_note->size() <= audit::NoteLimits{}.max_bytes) check(note.ok() && note->text == body);
  auto cp = audit::open_checkpoint(*signed_note, signer().verifier_key(), "fuzz.example/log");
  if (parsed.ok() && parsed->origin == "fuzz.example/log") {
    check(cp.ok() && *cp == *parsed);
  }
  if (cp.ok()) check(parsed.ok());
}

void fuzz_differential(Input& in) {
  const uint64_t n = 1 + in.u8() % 64;
  audit::MerkleLog log;
  for (uint64_t i = 0; i < n; ++i) {
    uint8_t len = in.u8() % 8;
    std::vector<uint8_t> entry(len);
    for (auto& b : entry) b = in.u8();
    entry.push_back(static_cast<uint8_t>(i));  // distinct leaves
    check(log.append(entry) == i);
  }
  const uint64_t size = 1 + in.u8() % n;
  const uint64_t index = in.u8() % size;
  const uint64_t size1 = 1 + in.u8() % size;
  const uint8_t flip_at = in.u8();
  const audit::Hash root = *log.root(size);

  auto incl = log.inclusion_proof(index, size);
  check(incl.ok());
  const audit::Hash leaf = *log.leaf_hash(index);
  check(audit::verify_inclusion(leaf, index, size, *incl, root).ok());
  if (!incl->empty()) {
    audit::Proof bad = *incl;
    bad[flip_at % bad.size()][flip_at % audit::kHashSize] ^= 1;
    check(!audit::verify_inclusion(leaf, index, size, bad, root).ok());
  }

  auto cons = log.consistency_proof(size1, size);
  check(cons.ok());
  const audit::Hash root1 = *log.root(size1);
  check(audit::verify_consistency(size1, size, *cons, root1, root).ok());
  if (!cons->empty()) {
    audit::Proof bad = *cons;
    bad[flip_at % bad.size()][flip_at % audit::kHashSize] ^= 0x80;
    check(!audit::verify_consistency(size1, size, bad, root1, root).ok());
  }

  // Subtree proofs, for the subtree [start, end) chosen from the input when it is one.
  const uint64_t start = in.u8() % (size + 1);
  const uint64_t end = start + in.u8() % (size - start + 1);
  if (audit::is_valid_subtree(start, end)) {
    const audit::Hash sub = *log.subtree_hash(start, end);
    auto sc = log.subtree_consistency_proof(start, end, size);
    check(sc.ok());
    check(audit::verify_subtree_consistency(start, end, size, *sc, sub, root).ok());
    if (start < end) {
      const uint64_t i = start + in.u8() % (end - start);
      auto si = log.subtree_inclusion_proof(i, start, end);
      check(si.ok());
      check(audit::verify_subtree_inclusion(*log.leaf_hash(i), i, start, end, *si, sub).ok());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Input in{data + 1, size - 1};
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 7) {
    case 0: fuzz_note(rest); break;
    case 1: fuzz_sign_and_open(rest); break;
    case 2: {
      uint64_t index = in.u64(), tree_size = in.u64();
      audit::Hash leaf = in.hash(), root = in.hash();
      (void)audit::verify_inclusion(leaf, index, tree_size, in.rest_as_proof(), root);
      break;
    }
    case 3: {
      uint64_t size1 = in.u64(), size2 = in.u64();
      audit::Hash root1 = in.hash(), root2 = in.hash();
      (void)audit::verify_consistency(size1, size2, in.rest_as_proof(), root1, root2);
      break;
    }
    case 4: {
      uint64_t index = in.u64(), start = in.u64(), end = in.u64();
      audit::Hash leaf = in.hash(), root = in.hash();
      (void)audit::verify_subtree_inclusion(leaf, index, start, end, in.rest_as_proof(), root);
      break;
    }
    case 5: {
      uint64_t start = in.u64(), end = in.u64(), tree_size = in.u64();
      audit::Hash root1 = in.hash(), root2 = in.hash();
      (void)audit::verify_subtree_consistency(start, end, tree_size, in.rest_as_proof(), root1,
                                              root2);
      break;
    }
    default: fuzz_differential(in); break;
  }
  return 0;
}
