// The SQLite store: migrations, round trips, and refusing a database from a newer ironroot.
#include "store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

namespace ironroot::store {
namespace {

namespace fs = std::filesystem;

struct TempDb {
  std::string dir;
  TempDb() {
    std::string t = (fs::temp_directory_path() / "ironroot-store-XXXXXX").string();
    dir = ::mkdtemp(t.data());
  }
  ~TempDb() { fs::remove_all(dir); }
  std::string path() const { return dir + "/ironroot.db"; }
};

TEST(SqliteStore, RoundTripsAHostAndSurvivesReopening) {
  TempDb db;
  HostRecord h;
  h.id = "host-1";
  h.state = HostState::kUntrusted;
  h.reasons = {"PCR 4 (sha256): an extend the log does not explain", "second \"quoted\" reason"};
  h.ek_public = {1, 2, 3};
  h.ak_public = {4, 5};
  h.have_clock = true;
  h.clock = uint64_t{1} << 40;
  h.reset_count = 7;
  h.ima_entries = 4711;
  h.pcrs_json = R"({"sha256":{"0":"00"}})";
  h.quarantined = true;
  h.quarantine_reason = "remediation: PCR 4 drift";
  h.ima_policy_state = R"({"entries":12})";
  h.posture_json = R"({"me":{"present":true}})";
  h.result_jwt = "eyJ.x.y";
  {
    auto s = open_sqlite_store(db.path());
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ((*s)->schema_version(), 3);
    ASSERT_TRUE((*s)->put_host(h));
    h.attestations = 3;
    ASSERT_TRUE((*s)->put_host(h));  // an update, not a second row
    ASSERT_TRUE((*s)->append_event({0, "host-1", 0, "state", R"({"to":"untrusted"})"}));
    ASSERT_TRUE((*s)->put_reference("default", R"({"pcrs":{}})", "test"));
  }
  auto s = open_sqlite_store(db.path());  // migrations are not run twice
  ASSERT_TRUE(s) << s.error().message();
  auto got = (*s)->host("host-1");
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->has_value());
  const HostRecord& g = **got;
  EXPECT_EQ(g.state, HostState::kUntrusted);
  EXPECT_EQ(g.reasons, h.reasons);
  EXPECT_EQ(g.ek_public, h.ek_public);
  EXPECT_EQ(g.clock, h.clock);
  EXPECT_EQ(g.reset_count, 7u);
  EXPECT_EQ(g.ima_entries, 4711u);
  EXPECT_EQ(g.attestations, 3u);
  EXPECT_TRUE(g.quarantined);
  EXPECT_EQ(g.quarantine_reason, h.quarantine_reason);
  EXPECT_EQ(g.ima_policy_state, h.ima_policy_state);
  EXPECT_EQ(g.posture_json, h.posture_json);
  EXPECT_EQ(g.result_jwt, h.result_jwt);
  EXPECT_EQ((*s)->hosts()->size(), 1u);
  EXPECT_EQ((*s)->events("host-1", 10)->size(), 1u);
  EXPECT_EQ(**(*s)->reference("default"), R"({"pcrs":{}})");
  EXPECT_FALSE((*s)->host("nobody")->has_value());
  ASSERT_TRUE((*s)->delete_host("host-1"));
  EXPECT_TRUE((*s)->hosts()->empty());
}

TEST(SqliteStore, PolicyChangesKeepTheirHistory) {
  TempDb db;
  auto s = open_sqlite_store(db.path());
  ASSERT_TRUE(s) << s.error().message();
  PolicyChange c{"c1", "references", R"({"bank":"sha256"})", "alice", 1000, "pending", "", 0, ""};
  ASSERT_TRUE((*s)->put_policy_change(c));
  ASSERT_TRUE(
      (*s)->put_policy_change({"c2", "references", "{}", "alice", 2000, "pending", "", 0, ""}));
  c.state = "approved";
  c.decided_by = "bob";
  c.decided_at_ms = 1500;
  c.document = "ignored: a decision never rewrites the proposal";
  ASSERT_TRUE((*s)->put_policy_change(c));
  auto one = (*s)->policy_changes("c1", 10);
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].state, "approved");
  EXPECT_EQ((*one)[0].decided_by, "bob");
  EXPECT_EQ((*one)[0].document, R"({"bank":"sha256"})");
  EXPECT_EQ((*one)[0].document_bytes, 17u);
  auto all = (*s)->policy_changes("", 10);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "c2") << "newest first";
  // A listing may leave large documents out, saying how large they are.
  auto brief = (*s)->policy_changes("", 10, 2);
  ASSERT_TRUE(brief);
  ASSERT_EQ(brief->size(), 2u);
  EXPECT_EQ((*brief)[0].document, "{}");
  EXPECT_EQ((*brief)[1].document, "");
  EXPECT_EQ((*brief)[1].document_bytes, 17u);
}

TEST(SqliteStore, MigratesAVersion1Database) {
  TempDb db;
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.path().c_str(), &raw), SQLITE_OK);
  // Schema 1 as the first release wrote it, with one host.
  ASSERT_EQ(
      sqlite3_exec(raw,
                   "CREATE TABLE schema_version (version INTEGER NOT NULL);"
                   "INSERT INTO schema_version VALUES (1);"
                   "CREATE TABLE hosts (id TEXT PRIMARY KEY, state TEXT NOT NULL, reasons "
                   "TEXT NOT NULL, ek_certificate BLOB, ek_public BLOB NOT NULL, ak_public "
                   "BLOB NOT NULL, ek_issuer TEXT NOT NULL DEFAULT '', tls_fingerprint TEXT "
                   "NOT NULL DEFAULT '', have_clock INTEGER NOT NULL DEFAULT 0, clock "
                   "INTEGER NOT NULL DEFAULT 0, reset_count INTEGER NOT NULL DEFAULT 0, "
                   "restart_count INTEGER NOT NULL DEFAULT 0, ima_entries INTEGER NOT NULL "
                   "DEFAULT 0, ima_pcr10 TEXT NOT NULL DEFAULT '{}', pcrs TEXT NOT NULL "
                   "DEFAULT '{}', enrolled_at INTEGER NOT NULL, last_attested_at INTEGER NOT "
                   "NULL DEFAULT 0, state_changed_at INTEGER NOT NULL DEFAULT 0, "
                   "attestations INTEGER NOT NULL DEFAULT 0);"
                   "CREATE TABLE host_events (id INTEGER PRIMARY KEY AUTOINCREMENT, host_id "
                   "TEXT NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT NOT "
                   "NULL);"
                   "CREATE TABLE references_ (name TEXT PRIMARY KEY, document TEXT NOT NULL, "
                   "source TEXT NOT NULL, created_at INTEGER NOT NULL);"
                   "INSERT INTO hosts (id, state, reasons, ek_public, ak_public, enrolled_at) "
                   "VALUES ('old-host', 'trusted', '[]', x'01', x'02', 5);",
                   nullptr, nullptr, nullptr),
      SQLITE_OK)
      << sqlite3_errmsg(raw);
  sqlite3_close(raw);
  auto s = open_sqlite_store(db.path());
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ((*s)->schema_version(), 3);
  auto h = (*s)->host("old-host");
  ASSERT_TRUE(h && h->has_value());
  EXPECT_EQ((*h)->state, HostState::kTrusted);
  EXPECT_FALSE((*h)->quarantined);
  EXPECT_TRUE((*s)->policy_changes("", 10)->empty());
}

// Schema 2 as the second release wrote it: schema 1's tables plus quarantine, appraisal state
// and policy changes.
const char* kSchema2 =
    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
    "INSERT INTO schema_version VALUES (2);"
    "CREATE TABLE hosts (id TEXT PRIMARY KEY, state TEXT NOT NULL, reasons TEXT NOT NULL, "
    "ek_certificate BLOB, ek_public BLOB NOT NULL, ak_public BLOB NOT NULL, ek_issuer TEXT NOT "
    "NULL DEFAULT '', tls_fingerprint TEXT NOT NULL DEFAULT '', have_clock INTEGER NOT NULL "
    "DEFAULT 0, clock INTEGER NOT NULL DEFAULT 0, reset_count INTEGER NOT NULL DEFAULT 0, "
    "restart_count INTEGER NOT NULL DEFAULT 0, ima_entries INTEGER NOT NULL DEFAULT 0, ima_pcr10 "
    "TEXT NOT NULL DEFAULT '{}', pcrs TEXT NOT NULL DEFAULT '{}', enrolled_at INTEGER NOT NULL, "
    "last_attested_at INTEGER NOT NULL DEFAULT 0, state_changed_at INTEGER NOT NULL DEFAULT 0, "
    "attestations INTEGER NOT NULL DEFAULT 0, quarantined INTEGER NOT NULL DEFAULT 0, "
    "quarantine_reason TEXT NOT NULL DEFAULT '', ima_policy_state TEXT NOT NULL DEFAULT '', "
    "posture TEXT NOT NULL DEFAULT '', result TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE host_events (id INTEGER PRIMARY KEY AUTOINCREMENT, host_id TEXT NOT NULL, at "
    "INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);"
    "CREATE INDEX host_events_by_host ON host_events(host_id, id);"
    "CREATE TABLE references_ (name TEXT PRIMARY KEY, document TEXT NOT NULL, source TEXT NOT "
    "NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE policy_changes (id TEXT PRIMARY KEY, kind TEXT NOT NULL, document TEXT NOT "
    "NULL, author TEXT NOT NULL, created_at INTEGER NOT NULL, state TEXT NOT NULL, decided_by "
    "TEXT NOT NULL DEFAULT '', decided_at INTEGER NOT NULL DEFAULT 0, comment TEXT NOT NULL "
    "DEFAULT '');";

TEST(SqliteStore, MigratesAVersion2DatabaseAndKeepsItsHosts) {
  TempDb db;
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.path().c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, kSchema2, nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(raw);
  ASSERT_EQ(sqlite3_exec(raw,
                         "INSERT INTO hosts (id, state, reasons, ek_public, ak_public, "
                         "enrolled_at, quarantined, quarantine_reason) VALUES ('old-host', "
                         "'untrusted', '[\"x\"]', x'01', x'02', 5, 1, 'held');"
                         "INSERT INTO policy_changes (id, kind, document, author, created_at, "
                         "state) VALUES ('c1', 'references', '{}', 'alice', 1, 'pending');",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(raw);
  sqlite3_close(raw);
  auto s = open_sqlite_store(db.path());
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ((*s)->schema_version(), 3);
  auto h = (*s)->host("old-host");
  ASSERT_TRUE(h && h->has_value());
  EXPECT_TRUE((*h)->quarantined);
  EXPECT_EQ((*h)->quarantine_reason, "held");
  EXPECT_EQ((*s)->policy_changes("c1", 1)->size(), 1u);
  // The new tables are there and empty.
  auto none = (*s)->host_flows("old-host", 0, 1 << 20);
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_FALSE(none->has_value());
  auto next = (*s)->append_host_flows("old-host", {"a", "b"}, 10);
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ(*next, 2u);
}

TEST(SqliteStore, HostFlowLinesKeepTheirNumbersAcrossCapsReopeningAndDeletion) {
  TempDb db;
  auto line = [](int i) { return R"({"type":"heartbeat","ts_ns":)" + std::to_string(i) + "}"; };
  {
    auto s = open_sqlite_store(db.path());
    ASSERT_TRUE(s) << s.error().message();
    std::vector<std::string> batch;
    for (int i = 0; i < 4; ++i) batch.push_back(line(i));
    EXPECT_EQ(*(*s)->append_host_flows("h1", batch, 6), 4u);
    EXPECT_EQ(*(*s)->append_host_flows("h2", {"other host"}, 6), 1u);
    batch.clear();
    for (int i = 4; i < 9; ++i) batch.push_back(line(i));
    // 9 lines, keep 6: lines 0-2 are dropped, numbers do not move.
    EXPECT_EQ(*(*s)->append_host_flows("h1", batch, 6), 9u);
    auto all = (*s)->host_flows("h1", 0, 1 << 20);
    ASSERT_TRUE(all && all->has_value());
    EXPECT_EQ((*all)->first_seq, 3u);
    EXPECT_EQ((*all)->next_seq, 9u);
    ASSERT_EQ((*all)->lines.size(), 6u);
    EXPECT_EQ((*all)->lines.front(), line(3));
    EXPECT_EQ((*all)->lines.back(), line(8));
  }
  auto s = open_sqlite_store(db.path());
  ASSERT_TRUE(s) << s.error().message();
  // After reopening: the same numbers, and a reader continues where it stopped.
  auto from7 = (*s)->host_flows("h1", 7, 1 << 20);
  ASSERT_TRUE(from7 && from7->has_value());
  EXPECT_EQ((*from7)->lines, (std::vector<std::string>{line(7), line(8)}));
  EXPECT_EQ((*from7)->next_seq, 9u);
  EXPECT_EQ(*(*s)->append_host_flows("h1", {line(9)}, 6), 10u);
  auto from9 = (*s)->host_flows("h1", 9, 1 << 20);
  ASSERT_TRUE(from9 && from9->has_value());
  EXPECT_EQ((*from9)->lines, std::vector<std::string>{line(9)});
  // A byte budget stops early but always returns a line, and says where to go on.
  auto small = (*s)->host_flows("h1", 0, 1);
  ASSERT_TRUE(small && small->has_value());
  ASSERT_EQ((*small)->lines.size(), 1u);
  EXPECT_EQ((*small)->lines[0], line(4));
  EXPECT_EQ((*small)->next_seq, 5u);
  // Past the end: nothing, and the reader stays where it asked to be.
  auto ahead = (*s)->host_flows("h1", 50, 1 << 20);
  ASSERT_TRUE(ahead && ahead->has_value());
  EXPECT_TRUE((*ahead)->lines.empty());
  EXPECT_EQ((*ahead)->next_seq, 50u);
  // A batch larger than the cap keeps its newest lines only.
  std::vector<std::string> big;
  for (int i = 10; i < 20; ++i) big.push_back(line(i));
  EXPECT_EQ(*(*s)->append_host_flows("h1", big, 6), 20u);
  auto capped = (*s)->host_flows("h1", 0, 1 << 20);
  ASSERT_TRUE(capped && capped->has_value());
  EXPECT_EQ((*capped)->first_seq, 14u);
  EXPECT_EQ((*capped)->lines.front(), line(14));
  EXPECT_EQ((*capped)->lines.size(), 6u);
  // The other host is untouched; a host that never reported has nothing.
  EXPECT_EQ((**(*s)->host_flows("h2", 0, 1 << 20)).lines, std::vector<std::string>{"other host"});
  EXPECT_FALSE((*s)->host_flows("h3", 0, 1 << 20)->has_value());
  // Deleting the host drops its lines, not its numbering.
  ASSERT_TRUE((*s)->delete_host("h1"));
  auto gone = (*s)->host_flows("h1", 0, 1 << 20);
  ASSERT_TRUE(gone && gone->has_value());
  EXPECT_TRUE((*gone)->lines.empty());
  EXPECT_EQ((*gone)->first_seq, 20u);
  EXPECT_EQ(*(*s)->append_host_flows("h1", {line(20)}, 6), 21u);
}

TEST(SqliteStore, RefusesADatabaseFromANewerVersionAndKeepsIt) {
  TempDb db;
  { ASSERT_TRUE(open_sqlite_store(db.path())); }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.path().c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  auto s = open_sqlite_store(db.path());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("newer"), std::string::npos) << s.error().message();
  EXPECT_TRUE(fs::exists(db.path()));
}

TEST(SqliteStore, NamesThePathWhenItCannotOpen) {
  auto s = open_sqlite_store("/nonexistent-dir/ironroot.db");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("/nonexistent-dir/ironroot.db"), std::string::npos);
}

}  // namespace
}  // namespace ironroot::store
