// ironroot crypto: the small PKI behind mutual TLS between agents and the verifier, through
// OpenSSL 3. The verifier keeps its own CA; it issues its server certificate and, at enrolment,
// a client certificate for the key whose request came with a successful credential activation.
//
//   auto key = generate_key();                        // ECDSA P-256, PEM
//   auto ca = make_ca_certificate(*key, "ironroot verifier CA", 3650);
//   auto csr = make_csr(agent_key, "host-1");
//   auto cert = issue_certificate(*key, *ca, *csr, {.common_name = "host-1", .client = true});
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace ironroot::crypto {

// A new ECDSA P-256 private key, PKCS#8 PEM.
Result<std::string> generate_key();

// A self-signed CA certificate (PEM) for `key_pem`.
Result<std::string> make_ca_certificate(const std::string& key_pem, const std::string& common_name,
                                        int days);

// A certificate signing request (PEM) for `key_pem` with subject CN=common_name.
Result<std::string> make_csr(const std::string& key_pem, const std::string& common_name);

struct IssueOptions {
  std::string common_name;  // replaces whatever the request asked for
  int days = 365;
  bool client = false;           // extendedKeyUsage clientAuth
  bool server = false;           // extendedKeyUsage serverAuth
  std::vector<std::string> dns;  // subjectAltName DNS entries
  std::vector<std::string> ips;  // subjectAltName IP entries
};

// Signs the CSR's public key (after checking the CSR's own signature) with the CA.
Result<std::string> issue_certificate(const std::string& ca_key_pem, const std::string& ca_cert_pem,
                                      const std::string& csr_pem, const IssueOptions& options);

// Subject common name and SHA-256 fingerprint (lowercase hex of the DER) of a PEM certificate.
Result<std::string> certificate_common_name(const std::string& cert_pem);
Result<std::string> certificate_fingerprint(const std::string& cert_pem);

// `n` bytes from OpenSSL's CSPRNG.
std::vector<uint8_t> random_bytes(size_t n);
// A random token of `n` bytes as lowercase hex.
std::string random_token(size_t n = 32);

}  // namespace ironroot::crypto
