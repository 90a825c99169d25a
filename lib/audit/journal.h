// ironroot audit: the durable, signed audit log. Entries go to SQLite (synchronous=FULL, so a
// commit is on disk), many appenders share one commit (group commit: whoever arrives while a
// batch is being written joins the next one), and each committed batch ends with a C2SP
// checkpoint signed with the log's Ed25519 key, stored in the same transaction.
//
//   IRONROOT_ASSIGN_OR_RETURN(auto j, audit::Journal::open({.path = dir + "/audit.db",
//                                                           .origin = "ironroot.example/v1",
//                                                           .private_key_pem = pem}));
//   IRONROOT_ASSIGN_OR_RETURN(uint64_t index, j->append(R"({"kind":"enrolled"})"));
//   // `index` is on disk and covered by j->checkpoint().
//
// On open, every stored entry is hashed again and the tree must match the last stored checkpoint
// (signature and root): a database edited behind the verifier's back is refused, not served.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "audit/proof.h"
#include "audit/tree_hash.h"
#include "core/result.h"

namespace ironroot::audit {

struct JournalOptions {
  std::string path;             // SQLite database file
  std::string origin;           // checkpoint origin and key name, e.g. "ironroot.verifier/1a2b"
  std::string private_key_pem;  // Ed25519 (generate_note_key)
  size_t max_batch = 8192;      // entries per commit at most
  size_t max_entry_bytes = 1 << 20;
};

class Journal {
 public:
  static Result<std::unique_ptr<Journal>> open(const JournalOptions& options);
  virtual ~Journal() = default;

  // Queues an entry and returns the index it will have; it is durable once wait_durable(index)
  // returns OK. Fails when the entry is empty or too large, or the journal has failed.
  virtual Result<uint64_t> enqueue(std::string entry) = 0;
  // Blocks until the entry at `index` is committed (and a checkpoint covers it).
  virtual Status wait_durable(uint64_t index) = 0;
  // enqueue + wait_durable.
  Result<uint64_t> append(std::string entry) {
    IRONROOT_ASSIGN_OR_RETURN(uint64_t index, enqueue(std::move(entry)));
    IRONROOT_RETURN_IF_ERROR(wait_durable(index));
    return index;
  }

  // Committed entries (queued ones are not visible).
  virtual uint64_t size() const = 0;
  // The latest signed checkpoint (covers size() entries).
  virtual std::string checkpoint() const = 0;
  // The log's public key as a signed-note verifier key ("<origin>+<id>+<base64>").
  virtual std::string verifier_key() const = 0;
  virtual const std::string& origin() const = 0;
  // Entries [start, end) of the committed log; at most 1000 at a time.
  virtual Result<std::vector<std::string>> entries(uint64_t start, uint64_t end) const = 0;
  virtual Result<Proof> inclusion_proof(uint64_t index, uint64_t tree_size) const = 0;
  virtual Result<Proof> consistency_proof(uint64_t size1, uint64_t size2) const = 0;
  virtual Result<Hash> root(uint64_t tree_size) const = 0;
  // Drains the queue and stops the writer; later appends fail. Idempotent.
  virtual void close() = 0;
};

// Checks a whole log offline: re-hashes `entries` (the log from index 0) and verifies that they
// produce the root of `signed_checkpoint`, which must open with `verifier_key`. What an auditor
// runs on an export; also what Journal::open does on start.
Status verify_entries_against_checkpoint(const std::vector<std::string>& entries,
                                         const std::string& signed_checkpoint,
                                         const std::string& verifier_key);

}  // namespace ironroot::audit
