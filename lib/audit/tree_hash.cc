#include "audit/tree_hash.h"

#include <algorithm>

#include "audit/internal.h"
#include "core/hex.h"
#include "crypto/base64.h"

namespace ironroot::audit {
namespace {

Hash to_hash(const crypto::Digest& d) {
  Hash h;
  std::copy_n(d.bytes.begin(), kHashSize, h.begin());
  return h;
}

TreeHasher& thread_hasher() {
  thread_local TreeHasher hasher;
  return hasher;
}

}  // namespace

TreeHasher::TreeHasher() : hasher_(crypto::HashAlg::kSha256) {}

Hash TreeHasher::leaf(Bytes entry) {
  static constexpr uint8_t kPrefix[1] = {kLeafHashPrefix};
  hasher_.init();
  hasher_.update(kPrefix);
  hasher_.update(entry);
  return to_hash(hasher_.final());
}

Hash TreeHasher::children(const Hash& left, const Hash& right) {
  static constexpr uint8_t kPrefix[1] = {kNodeHashPrefix};
  hasher_.init();
  hasher_.update(kPrefix);
  hasher_.update(left);
  hasher_.update(right);
  return to_hash(hasher_.final());
}

const Hash& empty_root() {
  static const Hash kEmpty = to_hash(crypto::hash(crypto::HashAlg::kSha256, {}));
  return kEmpty;
}

Hash leaf_hash(Bytes entry) {
  return thread_hasher().leaf(entry);
}

Hash node_hash(const Hash& left, const Hash& right) {
  return thread_hasher().children(left, right);
}

Result<Hash> hash_from_bytes(Bytes bytes) {
  if (bytes.size() != kHashSize) {
    return malformed("hash is " + std::to_string(bytes.size()) + " bytes, want " +
                     std::to_string(kHashSize));
  }
  Hash h;
  std::copy(bytes.begin(), bytes.end(), h.begin());
  return h;
}

std::string encode_hash(const Hash& hash) {
  return crypto::base64_encode(hash);
}

Result<Hash> decode_hash(std::string_view base64) {
  IRONROOT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, internal::decode_base64_strict(base64));
  return hash_from_bytes(bytes);
}

std::string hash_hex(const Hash& hash) {
  return to_hex(hash);
}

namespace internal {

Result<std::vector<uint8_t>> decode_base64_strict(std::string_view text) {
  auto decoded = crypto::base64_decode(text);
  // crypto::base64_decode goes through EVP_DecodeBlock, which skips some whitespace and ignores
  // non-zero trailing bits; only the canonical spelling of the bytes is accepted here, so that one
  // value has exactly one text form (what is signed is what is compared).
  if (!decoded || crypto::base64_encode(*decoded) != text) {
    return malformed("not canonical base64");
  }
  return std::move(decoded).value();
}

}  // namespace internal
}  // namespace ironroot::audit
