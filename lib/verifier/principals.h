// ironroot verifier: who may do what. API principals are named, hold roles, and prove who they
// are with a bearer token (only its SHA-256 is stored) or a client certificate (its SHA-256
// fingerprint). Roles, least privilege first:
//   viewer         read hosts, admission, results, events, policy
//   auditor        read the audit log and its proofs
//   operator       act on hosts (delete, release from quarantine)
//   policy-author  propose policy changes
//   approver       approve or reject another principal's proposal (never their own)
//   sensor         a network sensor: post its findings, read hosts' host-side flows; no more
//
// The file (principals.json in the data directory) is re-read when it changes, so that adding a
// principal with `ironroot verifier principal add` needs no restart.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/result.h"

namespace ironroot::verifier {

enum class Role { kViewer, kAuditor, kOperator, kPolicyAuthor, kApprover, kSensor };
const char* role_name(Role r);
std::optional<Role> role_from_name(const std::string& name);
// "viewer, auditor, ...": every role name, for help texts and errors.
std::string role_names();

struct Principal {
  std::string name;
  std::set<Role> roles;
  std::string token_sha256;      // hex; empty when the principal uses a certificate
  std::string cert_fingerprint;  // hex SHA-256 of a client certificate (DER)
  bool has(Role r) const { return roles.count(r) != 0; }
};

// Parses principals.json: {"principals": [{"name", "roles": [...], "token_sha256"|"cert_sha256"}]}
Result<std::vector<Principal>> parse_principals(const std::string& json_text);
std::string principals_to_json(const std::vector<Principal>& principals);

class PrincipalDirectory {
 public:
  explicit PrincipalDirectory(std::string path) : path_(std::move(path)) {}
  // Loads the file (re-read later whenever its modification time changes).
  Status load();
  // The principal presenting this bearer token (compared in constant time) or certificate.
  std::optional<Principal> by_token(const std::string& token);
  std::optional<Principal> by_certificate(const std::string& fingerprint_hex);

 private:
  void reload_if_changed();
  std::string path_;
  std::mutex mu_;
  std::vector<Principal> principals_;
  // What the file was when last read: `add` replaces it by rename (a new inode), and two
  // writes within the file system's timestamp granularity share an mtime.
  struct timespec mtime_ {};
  ino_t inode_ = 0;
  off_t size_ = 0;
};

// Adds a principal to the file at `path` (creating it), returns its new bearer token.
Result<std::string> add_principal(const std::string& path, const std::string& name,
                                  const std::set<Role>& roles);

}  // namespace ironroot::verifier
