#include "audit/journal.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <thread>

#include "audit/checkpoint.h"
#include "audit/note.h"

namespace ironroot::audit {
namespace {

namespace fs = std::filesystem;

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("journal_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto pair = generate_note_key(kOrigin);
    ASSERT_TRUE(pair) << pair.error().message();
    key_ = *pair;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Journal> open() {
    auto j = Journal::open({.path = (dir_ / "audit.db").string(),
                            .origin = kOrigin,
                            .private_key_pem = key_.private_key_pem});
    EXPECT_TRUE(j) << j.error().message();
    return j ? std::move(*j) : nullptr;
  }

  void exec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "audit.db").string().c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  static constexpr const char* kOrigin = "ironroot.test/journal";
  fs::path dir_;
  NoteKeyPair key_;
};

TEST_F(JournalTest, AppendsAreDurableProvableAndSigned) {
  auto j = open();
  ASSERT_TRUE(j);
  EXPECT_EQ(j->size(), 0u);
  for (int i = 0; i < 10; ++i) {
    auto idx = j->append("{\"n\":" + std::to_string(i) + "}");
    ASSERT_TRUE(idx) << idx.error().message();
    EXPECT_EQ(*idx, static_cast<uint64_t>(i));
  }
  EXPECT_EQ(j->size(), 10u);
  auto vkey = parse_verifier_key(j->verifier_key());
  ASSERT_TRUE(vkey);
  auto cp = open_checkpoint(j->checkpoint(), *vkey, kOrigin);
  ASSERT_TRUE(cp) << cp.error().message();
  EXPECT_EQ(cp->size, 10u);
  auto proof = j->inclusion_proof(3, 10);
  ASSERT_TRUE(proof);
  EXPECT_TRUE(verify_inclusion(leaf_hash(Bytes(reinterpret_cast<const uint8_t*>("{\"n\":3}"), 7)),
                               3, 10, *proof, cp->root));
  // The wrong entry does not verify.
  EXPECT_FALSE(verify_inclusion(leaf_hash(Bytes(reinterpret_cast<const uint8_t*>("{\"n\":4}"), 7)),
                                3, 10, *proof, cp->root));
  auto entries = j->entries(0, 10);
  ASSERT_TRUE(entries);
  EXPECT_TRUE(verify_entries_against_checkpoint(*entries, j->checkpoint(), j->verifier_key()));
  EXPECT_FALSE(j->inclusion_proof(0, 11)) << "a size beyond the committed log";
  EXPECT_FALSE(j->append(""));
}

TEST_F(JournalTest, ReopensConsistentWithTheLastCheckpoint) {
  std::string old_cp;
  {
    auto j = open();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(j->append("entry " + std::to_string(i)));
    old_cp = j->checkpoint();
  }
  auto j = open();
  ASSERT_TRUE(j);
  EXPECT_EQ(j->size(), 5u);
  EXPECT_EQ(j->checkpoint(), old_cp);
  ASSERT_TRUE(j->append("entry 5"));
  auto vkey = parse_verifier_key(j->verifier_key());
  auto a = open_checkpoint(old_cp, *vkey);
  auto b = open_checkpoint(j->checkpoint(), *vkey);
  ASSERT_TRUE(a && b);
  auto proof = j->consistency_proof(a->size, b->size);
  ASSERT_TRUE(proof);
  EXPECT_TRUE(verify_consistency(a->size, b->size, *proof, a->root, b->root));
}

TEST_F(JournalTest, RefusesALogEditedBehindItsBack) {
  {
    auto j = open();
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(j->append("entry " + std::to_string(i)));
  }
  exec("UPDATE audit_entries SET data = 'rewritten' WHERE idx = 2");
  auto j = Journal::open({.path = (dir_ / "audit.db").string(),
                          .origin = kOrigin,
                          .private_key_pem = key_.private_key_pem});
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message().find("altered"), std::string::npos) << j.error().message();
}

TEST_F(JournalTest, RefusesADeletedEntry) {
  {
    auto j = open();
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(j->append("entry " + std::to_string(i)));
  }
  exec("DELETE FROM audit_entries WHERE idx = 3");
  auto j = Journal::open({.path = (dir_ / "audit.db").string(),
                          .origin = kOrigin,
                          .private_key_pem = key_.private_key_pem});
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message().find("altered"), std::string::npos) << j.error().message();
}

TEST_F(JournalTest, ManyWritersShareCommits) {
  auto j = open();
  ASSERT_TRUE(j);
  constexpr int kThreads = 8, kEach = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto idx = j->append("t" + std::to_string(t) + " " + std::to_string(i));
        ASSERT_TRUE(idx);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(j->size(), static_cast<uint64_t>(kThreads * kEach));
  std::vector<std::string> all;
  for (uint64_t s = 0; s < j->size(); s += 1000) {
    auto part = j->entries(s, std::min<uint64_t>(s + 1000, j->size()));
    ASSERT_TRUE(part);
    all.insert(all.end(), part->begin(), part->end());
  }
  EXPECT_TRUE(verify_entries_against_checkpoint(all, j->checkpoint(), j->verifier_key()));
  all[17] += " ";
  EXPECT_FALSE(verify_entries_against_checkpoint(all, j->checkpoint(), j->verifier_key()));
}

}  // namespace
}  // namespace ironroot::audit
