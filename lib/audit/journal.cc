#include "audit/journal.h"

#include <sqlite3.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "audit/checkpoint.h"
#include "audit/merkle_log.h"
#include "audit/note.h"

namespace ironroot::audit {
namespace {

Bytes as_bytes(const std::string& s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() const { return stmt_; }
  explicit operator bool() const { return stmt_ != nullptr; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

class JournalImpl final : public Journal {
 public:
  explicit JournalImpl(JournalOptions o) : opts_(std::move(o)) {}
  ~JournalImpl() override {
    close();
    if (db_) sqlite3_close(db_);
  }

  Status init() {
    IRONROOT_ASSIGN_OR_RETURN(NoteSigner signer,
                              NoteSigner::from_pem(opts_.origin, opts_.private_key_pem));
    signer_ = std::make_unique<NoteSigner>(std::move(signer));
    if (sqlite3_open_v2(opts_.path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        nullptr) != SQLITE_OK) {
      return db_error("cannot open");
    }
    // FULL: a commit returns once the WAL is fsynced, so an acknowledged entry survives a crash.
    for (const char* sql :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
          "CREATE TABLE IF NOT EXISTS audit_entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL)",
          "CREATE TABLE IF NOT EXISTS audit_checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT "
          "NULL)"}) {
      if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return db_error(sql);
    }
    IRONROOT_RETURN_IF_ERROR(load());
    writer_ = std::thread([this] { write_loop(); });
    return {};
  }

  Result<uint64_t> enqueue(std::string entry) override {
    if (entry.empty()) return invalid_argument("audit entry is empty");
    if (entry.size() > opts_.max_entry_bytes)
      return invalid_argument("audit entry of " + std::to_string(entry.size()) + " bytes is over " +
                              std::to_string(opts_.max_entry_bytes));
    std::lock_guard lock(queue_mu_);
    if (failed_) return Error(ErrorCode::kIo, "audit log unavailable: " + failure_);
    if (closing_) return Error(ErrorCode::kIo, "audit log is closed");
    uint64_t index = next_index_++;
    queue_.push_back(std::move(entry));
    queue_cv_.notify_one();
    return index;
  }

  Status wait_durable(uint64_t index) override {
    std::unique_lock lock(queue_mu_);
    durable_cv_.wait(lock, [&] { return durable_size_ > index || failed_; });
    if (durable_size_ > index) return {};
    return Error(ErrorCode::kIo, "audit log unavailable: " + failure_);
  }

  uint64_t size() const override {
    std::lock_guard lock(queue_mu_);
    return durable_size_;
  }

  std::string checkpoint() const override {
    std::lock_guard lock(queue_mu_);
    return checkpoint_;
  }

  std::string verifier_key() const override { return signer_->verifier_key().to_string(); }
  const std::string& origin() const override { return opts_.origin; }

  Result<std::vector<std::string>> entries(uint64_t start, uint64_t end) const override {
    if (start > end || end > size())
      return invalid_argument("entries [" + std::to_string(start) + ", " + std::to_string(end) +
                              ") are not in a log of " + std::to_string(size()));
    if (end - start > 1000) return invalid_argument("at most 1000 entries at a time");
    std::lock_guard lock(read_mu_);
    Statement st(db_, "SELECT data FROM audit_entries WHERE idx >= ? AND idx < ? ORDER BY idx");
    if (!st) return db_error("select entries");
    sqlite3_bind_int64(st.get(), 1, static_cast<sqlite3_int64>(start));
    sqlite3_bind_int64(st.get(), 2, static_cast<sqlite3_int64>(end));
    std::vector<std::string> out;
    while (sqlite3_step(st.get()) == SQLITE_ROW) {
      const auto* p = static_cast<const char*>(sqlite3_column_blob(st.get(), 0));
      out.emplace_back(p, static_cast<size_t>(sqlite3_column_bytes(st.get(), 0)));
    }
    return out;
  }

  Result<Proof> inclusion_proof(uint64_t index, uint64_t tree_size) const override {
    IRONROOT_RETURN_IF_ERROR(check_committed(tree_size));
    std::shared_lock lock(tree_mu_);
    return tree_.inclusion_proof(index, tree_size);
  }

  Result<Proof> consistency_proof(uint64_t size1, uint64_t size2) const override {
    IRONROOT_RETURN_IF_ERROR(check_committed(size2));
    std::shared_lock lock(tree_mu_);
    return tree_.consistency_proof(size1, size2);
  }

  Result<Hash> root(uint64_t tree_size) const override {
    IRONROOT_RETURN_IF_ERROR(check_committed(tree_size));
    std::shared_lock lock(tree_mu_);
    return tree_.root(tree_size);
  }

  void close() override {
    {
      std::lock_guard lock(queue_mu_);
      if (closing_) return;
      closing_ = true;
    }
    queue_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
  }

 private:
  Error db_error(const std::string& what) const {
    return Error(ErrorCode::kIo,
                 opts_.path + ": " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
  }

  Status check_committed(uint64_t tree_size) const {
    uint64_t n = size();
    if (tree_size > n)
      return invalid_argument("tree size " + std::to_string(tree_size) + " is beyond the log's " +
                              std::to_string(n) + " committed entries");
    return {};
  }

  // Rebuilds the tree from the stored entries and checks it against the last checkpoint.
  Status load() {
    Statement st(db_, "SELECT idx, data FROM audit_entries ORDER BY idx");
    if (!st) return db_error("select entries");
    uint64_t expected = 0;
    TreeHasher hasher;
    while (sqlite3_step(st.get()) == SQLITE_ROW) {
      auto idx = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 0));
      if (idx != expected)
        return Error(ErrorCode::kMalformed, opts_.path + ": audit entry " +
                                                std::to_string(expected) +
                                                " is missing (next stored: " + std::to_string(idx) +
                                                "): the log was altered");
      const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(st.get(), 1));
      tree_.append_leaf_hash(
          hasher.leaf(Bytes(p, static_cast<size_t>(sqlite3_column_bytes(st.get(), 1)))));
      ++expected;
    }
    Statement cp(db_, "SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1");
    if (!cp) return db_error("select checkpoint");
    if (sqlite3_step(cp.get()) == SQLITE_ROW) {
      auto cp_size = static_cast<uint64_t>(sqlite3_column_int64(cp.get(), 0));
      std::string note(reinterpret_cast<const char*>(sqlite3_column_text(cp.get(), 1)));
      if (cp_size != expected)
        return Error(ErrorCode::kMalformed, opts_.path + ": the last checkpoint covers " +
                                                std::to_string(cp_size) + " entries but " +
                                                std::to_string(expected) +
                                                " are stored: the log was altered");
      auto opened = open_checkpoint(note, signer_->verifier_key(), opts_.origin);
      if (!opened) return std::move(opened).error().with_context(opts_.path + ": last checkpoint");
      if (opened->size != expected || opened->root != tree_.root())
        return Error(ErrorCode::kMalformed, opts_.path +
                                                ": the stored entries do not hash to the signed "
                                                "checkpoint's root: the log was altered");
      checkpoint_ = std::move(note);
    } else {
      if (expected != 0)
        return Error(ErrorCode::kMalformed,
                     opts_.path + ": entries without a checkpoint: the log was altered");
      IRONROOT_ASSIGN_OR_RETURN(checkpoint_,
                                sign_checkpoint({opts_.origin, 0, empty_root(), {}}, *signer_));
    }
    durable_size_ = next_index_ = expected;
    return {};
  }

  void write_loop() {
    Statement insert(db_, "INSERT INTO audit_entries (idx, data) VALUES (?, ?)");
    Statement insert_cp(db_, "INSERT OR REPLACE INTO audit_checkpoints (size, note) VALUES (?, ?)");
    TreeHasher hasher;
    std::vector<std::string> batch;
    for (;;) {
      uint64_t first = 0;
      {
        std::unique_lock lock(queue_mu_);
        queue_cv_.wait(lock, [&] { return !queue_.empty() || closing_; });
        if (queue_.empty()) return;  // closing, drained
        first = durable_size_;
        size_t n = std::min(queue_.size(), opts_.max_batch);
        batch.assign(std::make_move_iterator(queue_.begin()),
                     std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      }
      Status st = commit(insert, insert_cp, hasher, first, batch);
      std::lock_guard lock(queue_mu_);
      if (!st) {
        // The tree now holds entries the database may not: stop rather than serve a lie.
        failed_ = true;
        failure_ = st.error().message();
        durable_cv_.notify_all();
        return;
      }
      durable_size_ = first + batch.size();
      durable_cv_.notify_all();
    }
  }

  Status commit(const Statement& insert, const Statement& insert_cp, TreeHasher& hasher,
                uint64_t first, const std::vector<std::string>& batch) {
    if (!insert || !insert_cp) return db_error("prepare");
    std::lock_guard read_lock(read_mu_);
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
      return db_error("begin");
    Hash root;
    {
      std::unique_lock lock(tree_mu_);
      for (size_t i = 0; i < batch.size(); ++i) {
        tree_.append_leaf_hash(hasher.leaf(as_bytes(batch[i])));
      }
      root = tree_.root();
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      sqlite3_reset(insert.get());
      sqlite3_bind_int64(insert.get(), 1, static_cast<sqlite3_int64>(first + i));
      sqlite3_bind_blob(insert.get(), 2, batch[i].data(), static_cast<int>(batch[i].size()),
                        SQLITE_STATIC);
      if (sqlite3_step(insert.get()) != SQLITE_DONE) {
        Error e = db_error("insert entry");
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return e;
      }
    }
    uint64_t new_size = first + batch.size();
    auto note = sign_checkpoint({opts_.origin, new_size, root, {}}, *signer_);
    if (!note) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return std::move(note).error();
    }
    sqlite3_reset(insert_cp.get());
    sqlite3_bind_int64(insert_cp.get(), 1, static_cast<sqlite3_int64>(new_size));
    sqlite3_bind_text(insert_cp.get(), 2, note->data(), static_cast<int>(note->size()),
                      SQLITE_STATIC);
    if (sqlite3_step(insert_cp.get()) != SQLITE_DONE ||
        sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      Error e = db_error("commit");
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return e;
    }
    std::lock_guard lock(queue_mu_);
    checkpoint_ = std::move(*note);
    return {};
  }

  JournalOptions opts_;
  std::unique_ptr<NoteSigner> signer_;
  sqlite3* db_ = nullptr;
  mutable std::mutex read_mu_;  // the connection: the writer's transaction and readers' selects
  mutable std::shared_mutex tree_mu_;
  MerkleLog tree_;
  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_, durable_cv_;
  std::deque<std::string> queue_;
  uint64_t next_index_ = 0, durable_size_ = 0;
  std::string checkpoint_;
  bool closing_ = false, failed_ = false;
  std::string failure_;
  std::thread writer_;
};

}  // namespace

Result<std::unique_ptr<Journal>> Journal::open(const JournalOptions& options) {
  if (options.path.empty()) return invalid_argument("audit log: no database path");
  auto j = std::make_unique<JournalImpl>(options);
  IRONROOT_RETURN_IF_ERROR(j->init());
  return std::unique_ptr<Journal>(std::move(j));
}

Status verify_entries_against_checkpoint(const std::vector<std::string>& entries,
                                         const std::string& signed_checkpoint,
                                         const std::string& verifier_key) {
  IRONROOT_ASSIGN_OR_RETURN(NoteVerifierKey key, parse_verifier_key(verifier_key));
  IRONROOT_ASSIGN_OR_RETURN(Checkpoint cp, open_checkpoint(signed_checkpoint, key));
  if (cp.size > entries.size())
    return Error(ErrorCode::kMalformed, "the checkpoint covers " + std::to_string(cp.size) +
                                            " entries but only " + std::to_string(entries.size()) +
                                            " were given");
  MerkleLog tree;
  tree.reserve(cp.size);
  for (uint64_t i = 0; i < cp.size; ++i) tree.append(as_bytes(entries[i]));
  if (tree.root() != cp.root)
    return Error(ErrorCode::kMalformed,
                 "the entries do not hash to the checkpoint's root: the log was altered");
  return {};
}

}  // namespace ironroot::audit
