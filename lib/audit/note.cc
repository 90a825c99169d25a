#include "audit/note.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <utility>

#include "audit/internal.h"
#include "core/bytes.h"
#include "core/hex.h"
#include "core/text.h"
#include "crypto/base64.h"
#include "crypto/digest.h"

namespace ironroot::audit {
namespace {

constexpr std::string_view kSigPrefix = "\xe2\x80\x94 ";  // U+2014 EM DASH, then a space

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Decodes one UTF-8 code point at s[i] (s already validated); advances i.
uint32_t next_code_point(std::string_view s, size_t& i) {
  const auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(s[k])); };
  uint32_t c = b(i);
  if (c < 0x80) {
    i += 1;
    return c;
  }
  if ((c & 0xe0) == 0xc0) {
    uint32_t cp = ((c & 0x1f) << 6) | (b(i + 1) & 0x3f);
    i += 2;
    return cp;
  }
  if ((c & 0xf0) == 0xe0) {
    uint32_t cp = ((c & 0x0f) << 12) | ((b(i + 1) & 0x3f) << 6) | (b(i + 2) & 0x3f);
    i += 3;
    return cp;
  }
  uint32_t cp =
      ((c & 0x07) << 18) | ((b(i + 1) & 0x3f) << 12) | ((b(i + 2) & 0x3f) << 6) | (b(i + 3) & 0x3f);
  i += 4;
  return cp;
}

// Go's unicode.IsSpace: the Latin-1 spaces and the Unicode White_Space property (category Z
// and friends).
bool is_unicode_space(uint32_t cp) {
  switch (cp) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000: return true;
    default: return cp >= 0x2000 && cp <= 0x200a;
  }
}

// signed-note "Format": valid UTF-8, no ASCII control character but newline.
bool is_note_text(std::string_view s) {
  if (!is_valid_utf8(s)) return false;
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 && c != '\n'; });
}

std::string key_label(std::string_view name, uint32_t id) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", id);
  return std::string(name) + "+" + hex;
}

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

Error openssl_error(const std::string& what) {
  return Error(ErrorCode::kInternal, what + " failed in OpenSSL");
}

// RFC 8032 Ed25519 verification through EVP_DigestVerify (no digest: Ed25519 hashes itself).
bool ed25519_verify(const NoteVerifierKey& key, std::string_view text, Bytes signature) {
  if (signature.size() != kEd25519SignatureSize) return false;
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.public_key.data(),
                                           key.public_key.size()),
               EVP_PKEY_free);
  MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!pkey || !ctx) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                          reinterpret_cast<const unsigned char*>(text.data()), text.size()) == 1;
}

Result<NoteVerifierKey> verifier_key_of(std::string name, EVP_PKEY* pkey) {
  NoteVerifierKey key;
  size_t len = key.public_key.size();
  if (EVP_PKEY_get_raw_public_key(pkey, key.public_key.data(), &len) != 1 ||
      len != kEd25519PublicKeySize) {
    return openssl_error("reading the Ed25519 public key");
  }
  key.id = ed25519_key_id(name, key.public_key);
  key.name = std::move(name);
  return key;
}

Status check_key_name(std::string_view name) {
  if (!is_valid_key_name(name)) {
    return invalid_argument("invalid note key name \"" + printable(name) +
                            "\" (empty, or has a space, '+' or control character)");
  }
  return {};
}

}  // namespace

bool is_valid_key_name(std::string_view name) {
  if (name.empty() || !is_valid_utf8(name)) return false;
  for (size_t i = 0; i < name.size();) {
    uint32_t cp = next_code_point(name, i);
    if (cp == '+' || cp < 0x20 || is_unicode_space(cp)) return false;
  }
  return true;
}

uint32_t ed25519_key_id(std::string_view name,
                        std::span<const uint8_t, kEd25519PublicKeySize> public_key) {
  static constexpr uint8_t kSeparator[2] = {'\n', kSignatureTypeEd25519};
  crypto::Hasher h(crypto::HashAlg::kSha256);
  h.init();
  h.update(as_bytes(name));
  h.update(kSeparator);
  h.update(public_key);
  crypto::Digest d = h.final();
  return load_be32(d.bytes.data());
}

std::string NoteVerifierKey::to_string() const {
  std::vector<uint8_t> typed;
  typed.reserve(1 + public_key.size());
  typed.push_back(kSignatureTypeEd25519);
  typed.insert(typed.end(), public_key.begin(), public_key.end());
  return key_label(name, id) + "+" + crypto::base64_encode(typed);
}

Result<NoteVerifierKey> parse_verifier_key(std::string_view vkey) {
  const size_t plus1 = vkey.find('+');
  const size_t plus2 = plus1 == std::string_view::npos ? plus1 : vkey.find('+', plus1 + 1);
  if (plus2 == std::string_view::npos) {
    return malformed("verifier key is not <name>+<key ID>+<key>");
  }
  std::string_view name = vkey.substr(0, plus1);
  std::string_view id_hex = vkey.substr(plus1 + 1, plus2 - plus1 - 1);
  std::string_view key_b64 = vkey.substr(plus2 + 1);
  if (!is_valid_key_name(name)) return malformed("verifier key has an invalid key name");
  uint8_t id_bytes[4];
  if (id_hex.size() != 8 || !decode_hex(id_hex, id_bytes, sizeof id_bytes)) {
    return malformed("verifier key ID is not 8 hex digits");
  }
  auto typed = internal::decode_base64_strict(key_b64);
  if (!typed || typed->empty()) return malformed("verifier key material is not canonical base64");
  if ((*typed)[0] != kSignatureTypeEd25519) {
    return Error(ErrorCode::kUnsupported, "verifier key has signature type " +
                                              std::to_string((*typed)[0]) +
                                              "; only Ed25519 (1) is supported");
  }
  if (typed->size() != 1 + kEd25519PublicKeySize) {
    return malformed("Ed25519 verifier key has " + std::to_string(typed->size() - 1) +
                     " key bytes, want 32");
  }
  NoteVerifierKey key;
  key.name = std::string(name);
  std::copy(typed->begin() + 1, typed->end(), key.public_key.begin());
  key.id = load_be32(id_bytes);
  if (key.id != ed25519_key_id(key.name, key.public_key)) {
    return malformed("verifier key ID does not match its name and public key");
  }
  return key;
}

Result<NoteKeyPair> generate_note_key(std::string_view key_name) {
  IRONROOT_RETURN_IF_ERROR(check_key_name(key_name));
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), EVP_PKEY_free);
  if (!pkey) return openssl_error("Ed25519 key generation");
  IRONROOT_ASSIGN_OR_RETURN(NoteVerifierKey key,
                            verifier_key_of(std::string(key_name), pkey.get()));
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return openssl_error("writing the private key PEM");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) return openssl_error("writing the private key PEM");
  NoteKeyPair pair;
  pair.verifier_key = key.to_string();
  pair.private_key_pem.assign(data, static_cast<size_t>(len));
  OPENSSL_cleanse(data, static_cast<size_t>(len));
  return pair;
}

Result<NoteSigner> NoteSigner::from_pem(std::string key_name, std::string_view private_key_pem) {
  IRONROOT_RETURN_IF_ERROR(check_key_name(key_name));
  if (private_key_pem.size() > (1 << 20)) return malformed("private key PEM over 1 MiB");
  BioPtr bio(BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())),
             BIO_free);
  if (!bio) return openssl_error("BIO_new_mem_buf");
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!pkey) return malformed("not a readable (unencrypted) PEM private key");
  if (!EVP_PKEY_is_a(pkey.get(), "ED25519")) {
    return Error(ErrorCode::kUnsupported, "note signing key is not Ed25519");
  }
  IRONROOT_ASSIGN_OR_RETURN(NoteVerifierKey key, verifier_key_of(std::move(key_name), pkey.get()));
  return NoteSigner(std::move(key), pkey.release());
}

NoteSigner::NoteSigner(NoteSigner&& other) noexcept
    : key_(std::move(other.key_)), pkey_(other.pkey_) {
  other.pkey_ = nullptr;
}

NoteSigner& NoteSigner::operator=(NoteSigner&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(pkey_);
    key_ = std::move(other.key_);
    pkey_ = other.pkey_;
    other.pkey_ = nullptr;
  }
  return *this;
}

NoteSigner::~NoteSigner() {
  EVP_PKEY_free(pkey_);
}

Result<std::string> NoteSigner::signature_line(std::string_view text) const {
  if (text.empty() || text.back() != '\n' || !is_note_text(text)) {
    return invalid_argument(
        "note text must be non-empty UTF-8 ending in a newline, with no other control character");
  }
  if (pkey_ == nullptr) return invalid_argument("note signer was moved from");
  MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_) != 1) {
    return openssl_error("EVP_DigestSignInit");
  }
  // Key ID (big-endian) then the RFC 8032 signature over the text.
  std::vector<uint8_t> sig(4 + kEd25519SignatureSize);
  sig[0] = static_cast<uint8_t>(key_.id >> 24);
  sig[1] = static_cast<uint8_t>(key_.id >> 16);
  sig[2] = static_cast<uint8_t>(key_.id >> 8);
  sig[3] = static_cast<uint8_t>(key_.id);
  size_t sig_len = kEd25519SignatureSize;
  if (EVP_DigestSign(ctx.get(), sig.data() + 4, &sig_len,
                     reinterpret_cast<const unsigned char*>(text.data()), text.size()) != 1 ||
      sig_len != kEd25519SignatureSize) {
    return openssl_error("EVP_DigestSign");
  }
  return std::string(kSigPrefix) + key_.name + " " + crypto::base64_encode(sig) + "\n";
}

Result<std::string> NoteSigner::sign(std::string_view text) const {
  IRONROOT_ASSIGN_OR_RETURN(std::string line, signature_line(text));
  std::string out;
  out.reserve(text.size() + 1 + line.size());
  out.append(text);
  out.push_back('\n');
  out.append(line);
  return out;
}

Result<Note> parse_note(std::string_view message, const NoteLimits& limits) {
  if (message.size() > limits.max_bytes) {
    return Error(ErrorCode::kResourceLimit, "note is " + std::to_string(message.size()) +
                                                " bytes, over the limit of " +
                                                std::to_string(limits.max_bytes));
  }
  if (!is_note_text(message)) {
    return malformed("note is not UTF-8 without control characters other than newline");
  }
  // The text is separated from the signatures by the last blank line.
  const size_t split = message.rfind("\n\n");
  if (split == std::string_view::npos) return malformed("note has no blank line before signatures");
  Note note;
  note.text = std::string(message.substr(0, split + 1));
  std::string_view sigs = message.substr(split + 2);
  if (sigs.empty()) return malformed("note has no signature lines");
  if (sigs.back() != '\n') return malformed("note does not end with a newline");

  size_t line_no = 0;
  while (!sigs.empty()) {
    ++line_no;
    const std::string where = "signature line " + std::to_string(line_no);
    const size_t nl = sigs.find('\n');  // found: sigs ends with '\n'
    std::string_view line = sigs.substr(0, nl);
    sigs.remove_prefix(nl + 1);
    if (note.signatures.size() == limits.max_signatures) {
      return Error(ErrorCode::kResourceLimit,
                   "note has more than " + std::to_string(limits.max_signatures) + " signatures");
    }
    if (line.substr(0, kSigPrefix.size()) != kSigPrefix) {
      return malformed(where + ": does not start with an em dash and a space");
    }
    line.remove_prefix(kSigPrefix.size());
    const size_t space = line.find(' ');
    if (space == std::string_view::npos) return malformed(where + ": no signature after key name");
    std::string_view name = line.substr(0, space);
    if (!is_valid_key_name(name)) return malformed(where + ": invalid key name");
    auto raw = internal::decode_base64_strict(line.substr(space + 1));
    if (!raw) return malformed(where + ": signature is not canonical base64");
    if (raw->size() < 5) return malformed(where + ": signature shorter than a key ID and one byte");
    NoteSignature sig;
    sig.key_name = std::string(name);
    sig.key_id = load_be32(raw->data());
    sig.signature.assign(raw->begin() + 4, raw->end());
    note.signatures.push_back(std::move(sig));
  }
  return note;
}

Result<Note> open_note(std::string_view message, std::span<const NoteVerifierKey> known,
                       const NoteLimits& limits) {
  for (size_t i = 0; i < known.size(); ++i) {
    for (size_t j = i + 1; j < known.size(); ++j) {
      if (known[i].name == known[j].name && known[i].id == known[j].id &&
          known[i].public_key != known[j].public_key) {
        return invalid_argument("ambiguous verifier keys " + key_label(known[i].name, known[i].id));
      }
    }
  }
  IRONROOT_ASSIGN_OR_RETURN(Note note, parse_note(message, limits));
  bool any = false;
  for (NoteSignature& sig : note.signatures) {
    // signed-note "Signatures": a key is identified by name AND ID; a match on one of them only
    // is an unknown key, to be ignored.
    auto it = std::find_if(known.begin(), known.end(), [&](const NoteVerifierKey& k) {
      return k.name == sig.key_name && k.id == sig.key_id;
    });
    if (it == known.end()) continue;
    if (!ed25519_verify(*it, note.text, sig.signature)) {
      return malformed("invalid signature for key " + key_label(sig.key_name, sig.key_id));
    }
    sig.verified = true;
    any = true;
  }
  if (!any) return malformed("note has no signature from a known key");
  return note;
}

}  // namespace ironroot::audit
