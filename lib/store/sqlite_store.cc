#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>

#include "store/store.h"

namespace ironroot::store {
namespace {

// Each migration moves the schema from version i to i+1; never edit one that has shipped.
constexpr const char* kMigrations[] = {
    // 1: hosts, their history, reference values.
    R"sql(
    CREATE TABLE hosts (
      id TEXT PRIMARY KEY,
      state TEXT NOT NULL,
      reasons TEXT NOT NULL,
      ek_certificate BLOB,
      ek_public BLOB NOT NULL,
      ak_public BLOB NOT NULL,
      ek_issuer TEXT NOT NULL DEFAULT '',
      tls_fingerprint TEXT NOT NULL DEFAULT '',
      have_clock INTEGER NOT NULL DEFAULT 0,
      clock INTEGER NOT NULL DEFAULT 0,
      reset_count INTEGER NOT NULL DEFAULT 0,
      restart_count INTEGER NOT NULL DEFAULT 0,
      ima_entries INTEGER NOT NULL DEFAULT 0,
      ima_pcr10 TEXT NOT NULL DEFAULT '{}',
      pcrs TEXT NOT NULL DEFAULT '{}',
      enrolled_at INTEGER NOT NULL,
      last_attested_at INTEGER NOT NULL DEFAULT 0,
      state_changed_at INTEGER NOT NULL DEFAULT 0,
      attestations INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE host_events (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      host_id TEXT NOT NULL,
      at INTEGER NOT NULL,
      kind TEXT NOT NULL,
      detail TEXT NOT NULL
    );
    CREATE INDEX host_events_by_host ON host_events(host_id, id);
    CREATE TABLE references_ (
      name TEXT PRIMARY KEY,
      document TEXT NOT NULL,
      source TEXT NOT NULL,
      created_at INTEGER NOT NULL
    );
    )sql",
    // 2: quarantine, per-host appraisal state (IMA policy, posture, last signed result), and
    // policy changes waiting for a second principal's approval.
    R"sql(
    ALTER TABLE hosts ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE hosts ADD COLUMN quarantine_reason TEXT NOT NULL DEFAULT '';
    ALTER TABLE hosts ADD COLUMN ima_policy_state TEXT NOT NULL DEFAULT '';
    ALTER TABLE hosts ADD COLUMN posture TEXT NOT NULL DEFAULT '';
    ALTER TABLE hosts ADD COLUMN result TEXT NOT NULL DEFAULT '';
    CREATE TABLE policy_changes (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      document TEXT NOT NULL,
      author TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      state TEXT NOT NULL,
      decided_by TEXT NOT NULL DEFAULT '',
      decided_at INTEGER NOT NULL DEFAULT 0,
      comment TEXT NOT NULL DEFAULT ''
    );
    )sql",
    // 3: agents' host-side flow lines (for the network sensor), and each host's numbering, kept
    // apart so that numbers never go back when lines are dropped or the host is deleted.
    R"sql(
    CREATE TABLE host_flow_seq (
      host_id TEXT PRIMARY KEY,
      first_seq INTEGER NOT NULL,
      next_seq INTEGER NOT NULL
    );
    CREATE TABLE host_flows (
      host_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      line TEXT NOT NULL,
      PRIMARY KEY (host_id, seq)
    ) WITHOUT ROWID;
    )sql",
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  void text(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void blob(int i, const std::vector<uint8_t>& b) {
    sqlite3_bind_blob(stmt_, i, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
  }
  void i64(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  std::string col_text(int i) {
    const auto* p = sqlite3_column_text(stmt_, i);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, i)))
             : std::string();
  }
  std::vector<uint8_t> col_blob(int i) {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, i));
    return p ? std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt_, i)) : std::vector<uint8_t>();
  }
  int64_t col_i64(int i) { return sqlite3_column_int64(stmt_, i); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::string path) : path_(std::move(path)) {}
  ~SqliteStore() override { sqlite3_close_v2(db_); }

  Status open() {
    int rc = sqlite3_open_v2(path_.c_str(), &db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) return fail("cannot open");
    sqlite3_busy_timeout(db_, 5000);
    IRONROOT_RETURN_IF_ERROR(exec("PRAGMA journal_mode=WAL"));
    IRONROOT_RETURN_IF_ERROR(exec("PRAGMA synchronous=NORMAL"));
    IRONROOT_RETURN_IF_ERROR(exec("PRAGMA foreign_keys=ON"));
    IRONROOT_RETURN_IF_ERROR(
        exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
    int version = 0;
    {
      Stmt s(db_, "SELECT version FROM schema_version");
      if (s.ok() && sqlite3_step(s.get()) == SQLITE_ROW) version = static_cast<int>(s.col_i64(0));
    }
    const int latest = static_cast<int>(std::size(kMigrations));
    if (version > latest) {
      return Error(ErrorCode::kUnsupported, path_ + ": schema version " + std::to_string(version) +
                                                " is newer than this ironroot understands (" +
                                                std::to_string(latest) + "); upgrade ironroot");
    }
    for (int v = version; v < latest; ++v) {
      IRONROOT_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
      Status st = exec(kMigrations[v]);
      if (st) {
        st =
            exec(v == 0 ? "INSERT INTO schema_version(version) VALUES (1)"
                        : ("UPDATE schema_version SET version = " + std::to_string(v + 1)).c_str());
      }
      if (!st) {
        (void)exec("ROLLBACK");
        return std::move(st).error().with_context("migration to schema " + std::to_string(v + 1));
      }
      IRONROOT_RETURN_IF_ERROR(exec("COMMIT"));
    }
    version_ = latest;
    return {};
  }

  int schema_version() override { return version_; }

  Status put_host(const HostRecord& h) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, R"sql(INSERT INTO hosts (id, state, reasons, ek_certificate, ek_public, ak_public,
        ek_issuer, tls_fingerprint, have_clock, clock, reset_count, restart_count, ima_entries,
        ima_pcr10, pcrs, enrolled_at, last_attested_at, state_changed_at, attestations,
        quarantined, quarantine_reason, ima_policy_state, posture, result)
        VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,
        ?23,?24)
        ON CONFLICT(id) DO UPDATE SET state=?2, reasons=?3, ek_certificate=?4, ek_public=?5,
        ak_public=?6, ek_issuer=?7, tls_fingerprint=?8, have_clock=?9, clock=?10, reset_count=?11,
        restart_count=?12, ima_entries=?13, ima_pcr10=?14, pcrs=?15, enrolled_at=?16,
        last_attested_at=?17, state_changed_at=?18, attestations=?19, quarantined=?20,
        quarantine_reason=?21, ima_policy_state=?22, posture=?23, result=?24)sql");
    if (!s.ok()) return fail("prepare put_host");
    s.text(1, h.id);
    s.text(2, host_state_name(h.state));
    s.text(3, nlohmann::json(h.reasons).dump());
    s.blob(4, h.ek_certificate);
    s.blob(5, h.ek_public);
    s.blob(6, h.ak_public);
    s.text(7, h.ek_issuer);
    s.text(8, h.tls_fingerprint);
    s.i64(9, h.have_clock ? 1 : 0);
    s.i64(10, static_cast<int64_t>(h.clock));
    s.i64(11, h.reset_count);
    s.i64(12, h.restart_count);
    s.i64(13, static_cast<int64_t>(h.ima_entries));
    s.text(14, h.ima_pcr10_json);
    s.text(15, h.pcrs_json);
    s.i64(16, h.enrolled_at_ms);
    s.i64(17, h.last_attested_at_ms);
    s.i64(18, h.state_changed_at_ms);
    s.i64(19, static_cast<int64_t>(h.attestations));
    s.i64(20, h.quarantined ? 1 : 0);
    s.text(21, h.quarantine_reason);
    s.text(22, h.ima_policy_state);
    s.text(23, h.posture_json);
    s.text(24, h.result_jwt);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("put_host " + h.id);
    return {};
  }

  Result<std::optional<HostRecord>> host(const std::string& id) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, (std::string(kSelectHost) + " WHERE id = ?1").c_str());
    if (!s.ok()) return fail("prepare host");
    s.text(1, id);
    int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE) return std::optional<HostRecord>();
    if (rc != SQLITE_ROW) return fail("host " + id);
    return std::optional<HostRecord>(read_host(s));
  }

  Result<std::vector<HostRecord>> hosts() override {
    std::lock_guard lock(mu_);
    Stmt s(db_, (std::string(kSelectHost) + " ORDER BY id").c_str());
    if (!s.ok()) return fail("prepare hosts");
    std::vector<HostRecord> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(read_host(s));
    if (rc != SQLITE_DONE) return fail("hosts");
    return out;
  }

  Status delete_host(const std::string& id) override {
    std::lock_guard lock(mu_);
    IRONROOT_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
    Status st = [&]() -> Status {
      Stmt s(db_, "DELETE FROM hosts WHERE id = ?1");
      s.text(1, id);
      if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("delete_host " + id);
      // Its flow lines go too; the numbering stays, so a sensor never sees a number reused.
      Stmt f(db_, "DELETE FROM host_flows WHERE host_id = ?1");
      f.text(1, id);
      if (sqlite3_step(f.get()) != SQLITE_DONE) return fail("delete_host flows " + id);
      Stmt q(db_, "UPDATE host_flow_seq SET first_seq = next_seq WHERE host_id = ?1");
      q.text(1, id);
      if (sqlite3_step(q.get()) != SQLITE_DONE) return fail("delete_host flow numbers " + id);
      return {};
    }();
    return finish(std::move(st));
  }

  Result<uint64_t> append_host_flows(const std::string& host_id,
                                     const std::vector<std::string>& lines,
                                     uint64_t keep) override {
    std::lock_guard lock(mu_);
    // One transaction per attestation: one WAL commit however many lines it carries.
    IRONROOT_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
    uint64_t first = 0, next = 0;
    Status st = [&]() -> Status {
      {
        Stmt s(db_, "SELECT first_seq, next_seq FROM host_flow_seq WHERE host_id = ?1");
        if (!s.ok()) return fail("prepare append_host_flows");
        s.text(1, host_id);
        int rc = sqlite3_step(s.get());
        if (rc == SQLITE_ROW) {
          first = static_cast<uint64_t>(s.col_i64(0));
          next = static_cast<uint64_t>(s.col_i64(1));
        } else if (rc != SQLITE_DONE) {
          return fail("host_flow_seq " + host_id);
        }
      }
      {
        Stmt ins(db_, "INSERT INTO host_flows (host_id, seq, line) VALUES (?1, ?2, ?3)");
        if (!ins.ok()) return fail("prepare host_flows insert");
        // Lines beyond `keep` in this very batch would be dropped at once: skip them.
        size_t skip = keep < lines.size() ? lines.size() - static_cast<size_t>(keep) : 0;
        next += skip;
        for (size_t i = skip; i < lines.size(); ++i, ++next) {
          sqlite3_reset(ins.get());
          ins.text(1, host_id);
          ins.i64(2, static_cast<int64_t>(next));
          ins.text(3, lines[i]);
          if (sqlite3_step(ins.get()) != SQLITE_DONE) return fail("host_flows insert " + host_id);
        }
      }
      if (next - first > keep) {
        first = next - keep;
        Stmt d(db_, "DELETE FROM host_flows WHERE host_id = ?1 AND seq < ?2");
        d.text(1, host_id);
        d.i64(2, static_cast<int64_t>(first));
        if (sqlite3_step(d.get()) != SQLITE_DONE) return fail("host_flows cap " + host_id);
      }
      Stmt u(db_,
             "INSERT INTO host_flow_seq (host_id, first_seq, next_seq) VALUES (?1, ?2, ?3) "
             "ON CONFLICT(host_id) DO UPDATE SET first_seq = ?2, next_seq = ?3");
      u.text(1, host_id);
      u.i64(2, static_cast<int64_t>(first));
      u.i64(3, static_cast<int64_t>(next));
      if (sqlite3_step(u.get()) != SQLITE_DONE) return fail("host_flow_seq " + host_id);
      return {};
    }();
    IRONROOT_RETURN_IF_ERROR(finish(std::move(st)));
    return next;
  }

  Result<std::optional<HostFlowLines>> host_flows(const std::string& host_id, uint64_t since,
                                                  size_t max_bytes) override {
    std::lock_guard lock(mu_);
    HostFlowLines out;
    {
      Stmt s(db_, "SELECT first_seq, next_seq FROM host_flow_seq WHERE host_id = ?1");
      if (!s.ok()) return fail("prepare host_flows");
      s.text(1, host_id);
      int rc = sqlite3_step(s.get());
      if (rc == SQLITE_DONE) return std::optional<HostFlowLines>();
      if (rc != SQLITE_ROW) return fail("host_flows " + host_id);
      out.first_seq = static_cast<uint64_t>(s.col_i64(0));
    }
    // A reader ahead of the end continues where it asked to (as the in-memory version did).
    out.next_seq = std::max(since, out.first_seq);
    Stmt s(db_, "SELECT seq, line FROM host_flows WHERE host_id = ?1 AND seq >= ?2 ORDER BY seq");
    if (!s.ok()) return fail("prepare host_flows lines");
    s.text(1, host_id);
    s.i64(2, static_cast<int64_t>(std::min<uint64_t>(out.next_seq, INT64_MAX)));
    size_t bytes = 0;
    while (bytes < max_bytes) {
      int rc = sqlite3_step(s.get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return fail("host_flows lines " + host_id);
      out.lines.push_back(s.col_text(1));
      bytes += out.lines.back().size() + 1;
      out.next_seq = static_cast<uint64_t>(s.col_i64(0)) + 1;
    }
    return std::optional<HostFlowLines>(std::move(out));
  }

  Status append_event(const HostEvent& e) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, "INSERT INTO host_events (host_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)");
    s.text(1, e.host_id);
    s.i64(2, e.at_ms ? e.at_ms : now_ms());
    s.text(3, e.kind);
    s.text(4, e.detail_json);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("append_event");
    return {};
  }

  Result<std::vector<HostEvent>> events(const std::string& host_id, int limit) override {
    std::lock_guard lock(mu_);
    Stmt s(db_,
           "SELECT id, host_id, at, kind, detail FROM host_events WHERE host_id = ?1 "
           "ORDER BY id DESC LIMIT ?2");
    s.text(1, host_id);
    s.i64(2, limit);
    std::vector<HostEvent> out;
    while (sqlite3_step(s.get()) == SQLITE_ROW) {
      out.push_back({s.col_i64(0), s.col_text(1), s.col_i64(2), s.col_text(3), s.col_text(4)});
    }
    return out;
  }

  Status put_reference(const std::string& name, const std::string& json,
                       const std::string& source) override {
    std::lock_guard lock(mu_);
    Stmt s(db_,
           "INSERT INTO references_ (name, document, source, created_at) VALUES (?1,?2,?3,?4) "
           "ON CONFLICT(name) DO UPDATE SET document=?2, source=?3, created_at=?4");
    s.text(1, name);
    s.text(2, json);
    s.text(3, source);
    s.i64(4, now_ms());
    if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("put_reference " + name);
    return {};
  }

  Result<std::optional<std::string>> reference(const std::string& name) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, "SELECT document FROM references_ WHERE name = ?1");
    s.text(1, name);
    int rc = sqlite3_step(s.get());
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    if (rc != SQLITE_ROW) return fail("reference " + name);
    return std::optional<std::string>(s.col_text(0));
  }

  Status put_policy_change(const PolicyChange& c) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, R"sql(INSERT INTO policy_changes (id, kind, document, author, created_at, state,
        decided_by, decided_at, comment) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)
        ON CONFLICT(id) DO UPDATE SET state=?6, decided_by=?7, decided_at=?8, comment=?9)sql");
    if (!s.ok()) return fail("prepare put_policy_change");
    s.text(1, c.id);
    s.text(2, c.kind);
    s.text(3, c.document);
    s.text(4, c.author);
    s.i64(5, c.created_at_ms);
    s.text(6, c.state);
    s.text(7, c.decided_by);
    s.i64(8, c.decided_at_ms);
    s.text(9, c.comment);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("put_policy_change " + c.id);
    return {};
  }

  Result<std::vector<PolicyChange>> policy_changes(const std::string& id, int limit,
                                                   uint64_t max_document_bytes) override {
    std::lock_guard lock(mu_);
    const std::string columns =
        "SELECT id, kind, CASE WHEN length(CAST(document AS BLOB)) > ?3 THEN '' ELSE document "
        "END, author, created_at, state, decided_by, decided_at, comment, "
        "length(CAST(document AS BLOB)) FROM policy_changes ";
    const std::string sql =
        columns + (id.empty() ? "ORDER BY created_at DESC LIMIT ?2" : "WHERE id = ?1 LIMIT ?2");
    Stmt s(db_, sql.c_str());
    if (!s.ok()) return fail("prepare policy_changes");
    if (!id.empty()) s.text(1, id);
    s.i64(2, limit);
    s.i64(3, max_document_bytes > uint64_t{INT64_MAX} ? INT64_MAX
                                                      : static_cast<int64_t>(max_document_bytes));
    std::vector<PolicyChange> out;
    while (sqlite3_step(s.get()) == SQLITE_ROW) {
      out.push_back({s.col_text(0), s.col_text(1), s.col_text(2), s.col_text(3), s.col_i64(4),
                     s.col_text(5), s.col_text(6), s.col_i64(7), s.col_text(8),
                     static_cast<uint64_t>(s.col_i64(9))});
    }
    return out;
  }

 private:
  static constexpr const char* kSelectHost =
      "SELECT id, state, reasons, ek_certificate, ek_public, ak_public, ek_issuer, "
      "tls_fingerprint, "
      "have_clock, clock, reset_count, restart_count, ima_entries, ima_pcr10, pcrs, enrolled_at, "
      "last_attested_at, state_changed_at, attestations, quarantined, quarantine_reason, "
      "ima_policy_state, posture, result FROM hosts";

  static HostRecord read_host(Stmt& s) {
    HostRecord h;
    h.id = s.col_text(0);
    h.state = host_state_from_name(s.col_text(1)).value_or(HostState::kUntrusted);
    auto reasons = nlohmann::json::parse(s.col_text(2), nullptr, false);
    if (reasons.is_array()) {
      for (const auto& r : reasons) {
        if (r.is_string()) h.reasons.push_back(r.get<std::string>());
      }
    }
    h.ek_certificate = s.col_blob(3);
    h.ek_public = s.col_blob(4);
    h.ak_public = s.col_blob(5);
    h.ek_issuer = s.col_text(6);
    h.tls_fingerprint = s.col_text(7);
    h.have_clock = s.col_i64(8) != 0;
    h.clock = static_cast<uint64_t>(s.col_i64(9));
    h.reset_count = static_cast<uint32_t>(s.col_i64(10));
    h.restart_count = static_cast<uint32_t>(s.col_i64(11));
    h.ima_entries = static_cast<uint64_t>(s.col_i64(12));
    h.ima_pcr10_json = s.col_text(13);
    h.pcrs_json = s.col_text(14);
    h.enrolled_at_ms = s.col_i64(15);
    h.last_attested_at_ms = s.col_i64(16);
    h.state_changed_at_ms = s.col_i64(17);
    h.attestations = static_cast<uint64_t>(s.col_i64(18));
    h.quarantined = s.col_i64(19) != 0;
    h.quarantine_reason = s.col_text(20);
    h.ima_policy_state = s.col_text(21);
    h.posture_json = s.col_text(22);
    h.result_jwt = s.col_text(23);
    return h;
  }

  Status exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : "unknown";
      sqlite3_free(msg);
      return Error(ErrorCode::kIo, path_ + ": " + m);
    }
    return {};
  }
  Status exec(const std::string& sql) { return exec(sql.c_str()); }

  // Commits a transaction begun with BEGIN IMMEDIATE, or rolls it back when `st` failed.
  Status finish(Status st) {
    if (!st) {
      (void)exec("ROLLBACK");
      return st;
    }
    Status c = exec("COMMIT");
    if (!c) (void)exec("ROLLBACK");
    return c;
  }

  Error fail(const std::string& what) const {
    return Error(ErrorCode::kIo,
                 path_ + ": " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "no database"));
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  std::mutex mu_;
  int version_ = 0;
};

}  // namespace

const char* host_state_name(HostState s) {
  switch (s) {
    case HostState::kEnrolling: return "enrolling";
    case HostState::kTrusted: return "trusted";
    case HostState::kUntrusted: return "untrusted";
    case HostState::kUnreachable: return "unreachable";
  }
  return "untrusted";
}

std::optional<HostState> host_state_from_name(const std::string& name) {
  for (auto s : {HostState::kEnrolling, HostState::kTrusted, HostState::kUntrusted,
                 HostState::kUnreachable}) {
    if (name == host_state_name(s)) return s;
  }
  return std::nullopt;
}

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
  auto store = std::make_unique<SqliteStore>(path);
  IRONROOT_RETURN_IF_ERROR(store->open());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace ironroot::store
