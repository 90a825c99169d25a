#include "tpm2/internal.h"

#include <openssl/err.h>

#include <cstdio>

#include "tpm2/structures.h"

namespace ironroot::tpm2::internal {

Error openssl_error(const std::string& what) {
  return crypto::openssl_error(what);
}

void clear_openssl_errors() {
  ERR_clear_error();
}

Result<MdPtr> fetch_md(crypto::HashAlg alg) {
  const char* name = nullptr;
  switch (alg) {
    case crypto::HashAlg::kSha1: name = "SHA1"; break;
    case crypto::HashAlg::kSha256: name = "SHA256"; break;
    case crypto::HashAlg::kSha384: name = "SHA384"; break;
    case crypto::HashAlg::kSha512: name = "SHA512"; break;
    case crypto::HashAlg::kSm3_256: name = "SM3"; break;
    case crypto::HashAlg::kSha3_256: name = "SHA3-256"; break;
    case crypto::HashAlg::kSha3_384: name = "SHA3-384"; break;
    case crypto::HashAlg::kSha3_512: name = "SHA3-512"; break;
  }
  MdPtr md(name != nullptr ? EVP_MD_fetch(nullptr, name, nullptr) : nullptr);
  if (!md) {
    clear_openssl_errors();
    return Error(ErrorCode::kUnsupported, "hash algorithm " +
                                              std::string(crypto::hash_alg_name(alg)) +
                                              " is not available from OpenSSL");
  }
  return md;
}

Result<crypto::HashAlg> hash_alg(uint16_t id, std::string_view what) {
  auto alg = crypto::hash_alg_from_id(id);
  if (!alg) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%04x", id);
    return Error(ErrorCode::kUnsupported,
                 std::string(what) + ": hash algorithm " + buf + " is not one ironroot knows");
  }
  return *alg;
}

std::string rc_hex(TSS2_RC rc) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", rc);
  return buf;
}

Result<Bytes> tpm2b_contents(Bytes tpm2b, std::string_view what) {
  if (tpm2b.size() < 2) {
    return malformed(std::string(what) + ": needs a 2-byte size, has " +
                     std::to_string(tpm2b.size()) + " bytes");
  }
  size_t size = (static_cast<size_t>(tpm2b[0]) << 8) | tpm2b[1];
  if (size != tpm2b.size() - 2) {
    return malformed(std::string(what) + ": size field says " + std::to_string(size) + " bytes, " +
                     std::to_string(tpm2b.size() - 2) + " follow");
  }
  return tpm2b.subspan(2);
}

Result<Public> unmarshal_public(Bytes tpm2b_public) {
  IRONROOT_ASSIGN_OR_RETURN(Bytes contents, tpm2b_contents(tpm2b_public, "TPM2B_PUBLIC"));
  if (contents.empty()) return malformed("TPM2B_PUBLIC: empty");
  IRONROOT_ASSIGN_OR_RETURN(
      TPMT_PUBLIC area,
      unmarshal_exact<TPMT_PUBLIC>(contents, Tss2_MU_TPMT_PUBLIC_Unmarshal, "TPMT_PUBLIC"));
  return Public{area, contents};
}

Result<Bytes> attest_bytes(Bytes in) {
  auto magic_at = [&](size_t off) {
    return in.size() >= off + 4 && in[off] == 0xff && in[off + 1] == 0x54 && in[off + 2] == 0x43 &&
           in[off + 3] == 0x47;
  };
  if (magic_at(0)) return in;  // TPMS_ATTEST
  if (magic_at(2)) return tpm2b_contents(in, "TPM2B_ATTEST");
  return malformed("not a TPMS_ATTEST or TPM2B_ATTEST: no TPM_GENERATED_VALUE (ff544347) magic");
}

}  // namespace ironroot::tpm2::internal
