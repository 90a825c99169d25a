// Fuzz target: every reader of lib/tpm2 on untrusted bytes. The whole input goes to each
// single-input reader (TPM2B_PUBLIC, name, TPMS_ATTEST, TPMT_SIGNATURE, tpm2-tools PCR and
// credential files, SubjectPublicKeyInfo, certificates); then it is split into three parts
// (two big-endian uint16 lengths first) for verify_quote(ak, attest, signature) and
// make_credential(ek, name, secret).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "tpm2/credential.h"
#include "tpm2/ekcert.h"
#include "tpm2/keys.h"
#include "tpm2/quote.h"
#include "tpm2/structures.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // tss2-mu logs every refused structure to stderr; silence it.
  setenv("TSS2_LOG", "all+NONE", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ironroot;
  using namespace ironroot::tpm2;
  Bytes bytes(data, size);

  if (auto pub = parse_public(bytes)) {
    (void)pub->key.spki_der();
  }
  (void)name(bytes);
  if (auto a = parse_attest(bytes)) {
    for (const auto& sel : a->pcr_selection) (void)sel.pcrs();
  }
  (void)parse_signature(bytes);
  if (auto pcrs = parse_tpm2_tools_pcrs(bytes)) {
    (void)pcr_composite_digest(crypto::HashAlg::kSha256, pcrs->values);
  }
  if (auto cred = decode_tpm2_tools_credential(bytes)) {
    (void)encode_tpm2_tools_credential(*cred);
  }
  (void)PublicKey::from_spki(bytes);
  {
    static CaBundle empty;
    CaBundle bundle;
    (void)bundle.add_certificates(bytes, "fuzz");
    (void)verify_ek_certificate(bytes, empty, 0);
  }

  if (size < 4) return 0;
  const size_t a_len = (static_cast<size_t>(data[0]) << 8 | data[1]) % (size - 3);
  const size_t b_len = (static_cast<size_t>(data[2]) << 8 | data[3]) % (size - 3 - a_len);
  Bytes rest = bytes.subspan(4);
  Bytes first = rest.subspan(0, a_len);
  Bytes second = rest.subspan(a_len, b_len);
  Bytes third = rest.subspan(a_len + b_len);
  if (auto q = verify_quote(first, second, third)) {
    (void)pcr_digest_matches(*q, {});
  }
  (void)make_credential(first, second, third);
  return 0;
}
