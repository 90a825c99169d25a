// ironroot tpm2: Endorsement Key certificates. A TPM manufacturer (or a cloud, for vTPMs) certifies
// each TPM's EK; the verifier checks that certificate against the manufacturers' CA certificates
// it trusts (a CaBundle) and that the certified key is the EK the agent presented. The same
// applies to AK certificates issued by a cloud's CA (GCE).
//
//   IRONROOT_ASSIGN_OR_RETURN(tpm2::CaBundle cas, tpm2::CaBundle::load("/etc/ironroot/tpm-ca"));
//   for (const auto& note : cas.notes()) log_info(note);        // skipped files, duplicates,
//   expiry IRONROOT_ASSIGN_OR_RETURN(tpm2::EkCertInfo ek, tpm2::verify_ek_certificate(cert, cas,
//   {})); if (!tpm2::public_key_matches(ek, ek_tpm2b_public)) return reject("certificate is for
//   another EK"); log_info(ek.tpm_manufacturer + " " + ek.tpm_model);         // "id:474F4F47 vTPM"
//
// Chain policy (what is checked, and what is relaxed for real EK certificates):
// - Every certificate of the bundle is a trust anchor (X509_V_FLAG_PARTIAL_CHAIN): a chain may
//   end at a manufacturer intermediate CA the operator put in the bundle; it continues up to a
//   root when the bundle has one, and EkCertInfo::anchor_is_root says which. Needed because some
//   manufacturer intermediates cannot be linked to their root by OpenSSL (Infineon's "IFX TPM EK
//   Intermediate CA 01..20" carry an authorityKeyIdentifier whose issuer name and serial do not
//   match the root, which RFC 5280 path building refuses).
// - No purpose / extendedKeyUsage check (X509_PURPOSE_ANY): EK certificates and their CAs carry
//   the TCG EKU 2.23.133.8.1, which OpenSSL has no purpose for; EkCertInfo::tcg_ek_eku reports
//   it. CA certificates must still be CAs (basicConstraints), signatures and validity periods are
//   all checked, and a certificate's leaf keyUsage is reported, not enforced.
// - A critical extension OpenSSL does not process is accepted only when it is
//   subjectDirectoryAttributes (2.5.29.9, where the TCG EK Credential Profile puts the TPM
//   specification and security assertions); any other unhandled critical extension is refused,
//   naming its OID. Each acceptance is listed in EkCertInfo::relaxed.
// - A leaf whose key is labelled id-RSAES-OAEP (1.2.840.113549.1.1.7) instead of rsaEncryption
//   (TCG Credential Profiles 1.2; older Infineon and STMicro EK certificates) cannot go through
//   OpenSSL's chain building, which needs the leaf's own key: its link to its issuer is checked
//   here with the same checks (names, authorityKeyIdentifier, issuer keyUsage and CA-ness,
//   signature, validity, critical extensions), the rest of the chain by OpenSSL, and its key is
//   read as the RSA key it is (noted in `relaxed`).
// Not done: revocation (CRLs, OCSP), name constraints beyond OpenSSL's defaults.
//
// Thread safety: a CaBundle is built by one thread (add_*); once built, its const methods and
// verify_ek_certificate() may be used from any number of threads at once. A moved-from CaBundle
// may only be destroyed or assigned to.
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "tpm2/keys.h"

namespace ironroot::tpm2 {

struct CaCertificate {
  std::string source;   // the file (and "#2" for the second certificate of a PEM file)
  std::string subject;  // RFC 2253 ("CN=...,O=...,C=..."), empty for an empty subject
  std::string issuer;
  std::string sha256;  // SHA-256 fingerprint of the DER, lowercase hex
  time_t not_before = 0;
  time_t not_after = 0;
  bool self_signed = false;
};

struct CaBundleStats {
  size_t files = 0;              // files read
  size_t certificate_files = 0;  // files holding at least one certificate
  size_t certificates_read = 0;  // certificates read, duplicates included
  size_t duplicates = 0;         // certificates already in the bundle (same DER), not added again
  size_t skipped_files = 0;      // files without a certificate
};

class CaBundle {
 public:
  CaBundle();
  ~CaBundle();
  CaBundle(CaBundle&& other) noexcept;
  CaBundle& operator=(CaBundle&& other) noexcept;
  CaBundle(const CaBundle&) = delete;
  CaBundle& operator=(const CaBundle&) = delete;

  // A bundle with the certificates of `path` (see add_path).
  static Result<CaBundle> load(const std::string& path);

  // Adds the certificates of a file (PEM with any number of certificates, other text around them
  // allowed, or one DER certificate), or of every regular file under a directory, recursively, in
  // name order. Files without a certificate are skipped with a note; the same certificate twice is
  // kept once, with a note; a certificate expired (or not yet valid) now is kept, with a note.
  // An Error when `path` does not exist or a file cannot be read.
  Status add_path(const std::string& path);
  // Adds the certificates in `der_or_pem`; `source` names them in notes. kMalformed when there is
  // none.
  Status add_certificates(Bytes der_or_pem, const std::string& source);

  // The distinct certificates, in the order they were first added.
  const std::vector<CaCertificate>& certificates() const;
  size_t size() const;
  const CaBundleStats& stats() const;
  // One line per event while loading: "<source>: skipped: no certificate", "<source>: duplicate
  // of <first source>", "<source>: 'CN=...' expired 2025-10-20T13:47:43Z".
  const std::vector<std::string>& notes() const;
  // The certificates not valid at `at`: expired, or not yet valid.
  std::vector<CaCertificate> invalid_at(time_t at) const;

 private:
  struct Impl;
  friend struct CaBundleAccess;
  std::unique_ptr<Impl> impl_;
};

struct EkCertInfo {
  std::string subject;  // RFC 2253; often empty for EK certificates (identity is in the SAN)
  std::string issuer;
  std::string serial;  // hex
  time_t not_before = 0;
  time_t not_after = 0;
  // Subjects of the verified chain, the certificate first, its trust anchor (from the bundle) last.
  std::vector<std::string> chain;
  bool anchor_is_root = false;  // the anchor is self-signed (else: a bundle intermediate)
  // TPM identity from the subjectAltName directoryName (TCG EK Credential Profile), "" if absent:
  std::string tpm_manufacturer;  // 2.23.133.2.1, e.g. "id:474F4F47"
  std::string tpm_model;         // 2.23.133.2.2, e.g. "vTPM"
  std::string tpm_version;       // 2.23.133.2.3, e.g. "id:20160511"
  // The manufacturer's TCG vendor ID as text when it is "id:" + 8 hex digits of printable ASCII
  // ("GOOG", "IFX", "STM ", "NTC", "INTC", "MSFT", "IBM"), else "".
  std::string tpm_vendor_id;
  bool tcg_ek_eku = false;  // extendedKeyUsage has tcg-kp-EKCertificate (2.23.133.8.1)
  bool key_usage_present = false;
  bool digital_signature = false;  // keyUsage bits (an AK / signing-key certificate)
  bool key_encipherment = false;   // (an RSA EK)
  bool key_agreement = false;      // (an ECC EK)
  bool is_ca = false;
  std::vector<std::string> relaxed;  // what the chain policy above tolerated, one line each
  PublicKey public_key;
};

// Verifies an EK (or AK) certificate, DER or PEM, against the bundle. Further PEM certificates
// after the first in `der_or_pem`, and `untrusted_intermediates` (DER or PEM each), may serve as
// intermediates (they are not trusted by themselves). Validity is checked at `at_time`, or now
// when nullopt (to accept a certificate whose CA has since expired, pass the time the EK
// certificate was issued, its not_before). OK: a chain to a bundle certificate verifies under the
// policy above. kMalformed when the input is not a certificate, and when the chain does not verify
// (the message names the failing certificate and the reason: unknown issuer, bad signature,
// expired ...).
Result<EkCertInfo> verify_ek_certificate(
    Bytes der_or_pem, const CaBundle& bundle, std::optional<time_t> at_time,
    const std::vector<std::vector<uint8_t>>& untrusted_intermediates = {});

// True when the certificate's key is the key of the TPM2B_PUBLIC (false when it cannot be read).
bool public_key_matches(const EkCertInfo& cert, Bytes ek_tpm2b_public);

}  // namespace ironroot::tpm2
