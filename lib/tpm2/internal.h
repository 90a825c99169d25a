// ironroot tpm2, INTERNAL: helpers shared by the .cc files of lib/tpm2 only. This header pulls in
// tss2 and OpenSSL; the public headers of lib/tpm2 do not, and code outside lib/tpm2 must not
// include this one.
//
// Strict unmarshalling: every TPM structure is unmarshalled from exactly the bytes it is said to
// occupy, and an error names the structure. TPM2B wrappers around structures (TPM2B_PUBLIC,
// TPM2B_ATTEST) are split here, not by Tss2_MU_TPM2B_PUBLIC_Unmarshal: in tpm2-tss 3.2.1 (Debian
// 12) that function ignores the inner unmarshal's return code (GHSA-p3px-r4mm-jpw5, fixed in
// 4.2.0), reads the inner structure past the declared size, and refuses a destination whose size
// field is not zero.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "crypto/digest.h"
#include "crypto/openssl.h"

namespace ironroot::tpm2::internal {

// --- OpenSSL ownership ------------------------------------------------------------------------

// Owning pointers come from crypto/openssl.h.
template <typename T, void (*Free)(T*)>
using Deleter = crypto::OpensslDeleter<T, Free>;
using crypto::MdCtxPtr;
using crypto::MdPtr;
using crypto::PkeyCtxPtr;
using crypto::PkeyPtr;
using crypto::X509Ptr;

// "what: <OpenSSL's first queued error>" as an kInternal Error; clears OpenSSL's error queue.
Error openssl_error(const std::string& what);
// Clears OpenSSL's thread-local error queue (after an expected failure).
void clear_openssl_errors();

// The OpenSSL digest for a TPM hash algorithm, or an kUnsupported Error.
Result<MdPtr> fetch_md(crypto::HashAlg alg);
// A TPM_ALG_ID that must be a hash ironroot knows (kUnsupported otherwise); `what` names it.
Result<crypto::HashAlg> hash_alg(uint16_t id, std::string_view what);

// --- tss2-mu ----------------------------------------------------------------------------------

std::string rc_hex(TSS2_RC rc);

// The contents of a TPM2B: a big-endian uint16 size followed by exactly that many bytes, and
// nothing after them.
Result<Bytes> tpm2b_contents(Bytes tpm2b, std::string_view what);

// Unmarshals a T from exactly `bytes` with a Tss2_MU_*_Unmarshal function.
template <typename T>
Result<T> unmarshal_exact(Bytes bytes, TSS2_RC (*fn)(const uint8_t[], size_t, size_t*, T*),
                          std::string_view what) {
  T out{};
  if (bytes.empty()) return malformed(std::string(what) + ": empty");
  size_t offset = 0;
  TSS2_RC rc = fn(bytes.data(), bytes.size(), &offset, &out);
  if (rc != TSS2_RC_SUCCESS) {
    return malformed(std::string(what) + ": cannot be unmarshalled (tss2-mu " + rc_hex(rc) + ", " +
                     std::to_string(bytes.size()) + " bytes)");
  }
  if (offset != bytes.size()) {
    return malformed(std::string(what) + ": " + std::to_string(bytes.size() - offset) +
                     " trailing bytes after the structure (" + std::to_string(offset) + " used)");
  }
  return out;
}

// Marshals `value` with a Tss2_MU_*_Marshal function.
template <typename T>
Result<std::vector<uint8_t>> marshal(const T& value,
                                     TSS2_RC (*fn)(const T*, uint8_t[], size_t, size_t*),
                                     std::string_view what) {
  std::vector<uint8_t> out(sizeof(T) + 16);
  size_t offset = 0;
  TSS2_RC rc = fn(&value, out.data(), out.size(), &offset);
  if (rc != TSS2_RC_SUCCESS) {
    return Error(ErrorCode::kInternal,
                 std::string(what) + ": cannot be marshalled (tss2-mu " + rc_hex(rc) + ")");
  }
  out.resize(offset);
  return out;
}

// A TPM2B_PUBLIC split and unmarshalled: the TPMT_PUBLIC and the exact bytes it came from.
struct Public {
  TPMT_PUBLIC area;
  Bytes marshalled;  // the TPMT_PUBLIC bytes inside the TPM2B (a view into the caller's input)
};
Result<Public> unmarshal_public(Bytes tpm2b_public);

// Accepts a TPMS_ATTEST or a TPM2B_ATTEST and returns the TPMS_ATTEST bytes (what is signed).
Result<Bytes> attest_bytes(Bytes tpms_or_tpm2b_attest);

inline Bytes view(const uint8_t* data, size_t size) {
  return {data, size};
}

}  // namespace ironroot::tpm2::internal
