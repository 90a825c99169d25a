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
  {
    auto s = open_sqlite_store(db.path());
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ((*s)->schema_version(), 1);
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
  EXPECT_EQ((*s)->hosts()->size(), 1u);
  EXPECT_EQ((*s)->events("host-1", 10)->size(), 1u);
  EXPECT_EQ(**(*s)->reference("default"), R"({"pcrs":{}})");
  EXPECT_FALSE((*s)->host("nobody")->has_value());
  ASSERT_TRUE((*s)->delete_host("host-1"));
  EXPECT_TRUE((*s)->hosts()->empty());
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
