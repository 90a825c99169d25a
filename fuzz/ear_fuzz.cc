// Fuzz target: the EAR JWT and claims readers, as `ironroot result verify|show` run them on
// untrusted files: compact JWS splitting, base64url, strict JSON, the EAR claims model, JWKS.
// Also checks promises: a decoded EAR re-encodes to itself, base64url round-trips, and nothing
// verifies under a key that signed nothing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ear/ear.h"
#include "ear/jwt.h"

namespace {

namespace ear = ironroot::ear;

void check(bool ok) {
  if (!ok) std::abort();
}

const ear::VerificationKeys& keys() {
  static const ear::VerificationKeys k = [] {
    ear::VerificationKeys v;
    v.add(ear::SigningKey::generate(ear::Alg::kES256)->public_key());
    v.add(ear::SigningKey::generate(ear::Alg::kEdDSA)->public_key());
    return v;
  }();
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  // A token: no random input carries a signature by keys made in this process.
  check(!ear::verify_ear(text, keys(), {}));
  (void)ear::decode_jwt_unverified(text);

  // Claims JSON, as `result sign` and the corpus tests read it.
  if (auto j = ear::parse_json_strict(text)) {
    if (auto e = ear::ear_from_json(*j)) {
      auto again = ear::ear_from_json(ear::ear_to_json(*e));
      check(again.ok() && *again == *e);
      for (const auto& [name, a] : e->submods)
        check(a.derived_status() <= ear::Tier::kContraindicated);
    }
    if (auto s = ear::submods_from_json(*j)) check(!s->empty());
  }
  (void)ear::VerificationKeys::from_jwks(text);

  if (auto b = ear::base64url_decode(text)) {
    check(ear::base64url_encode(b->data(), b->size()) == text);
  }
  return 0;
}
