// Hostile and broken event logs: a clear error naming the offset and the field, never a crash,
// a hang or an allocation sized by the input.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>

#include "evidence/eventlog/describe.h"
#include "evidence/eventlog/event_types.h"
#include "evidence/eventlog/eventlog.h"
#include "evidence/eventlog/replay.h"
#include "evidence/eventlog/uefi.h"
#include "evidence/eventlog/writer.h"
#include "support/corpus.h"

namespace ironroot::evidence::eventlog {
namespace {

using crypto::HashAlg;

Bytes bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  std::memcpy(b.data() + at, &v, 4);
}

// A two-bank log with one EV_EFI_ACTION event; returns it and the offset of that event.
std::vector<uint8_t> small_log(size_t* event_at) {
  EventLogWriter w({HashAlg::kSha1, HashAlg::kSha256});
  *event_at = w.bytes().size();
  w.add(4, EV_EFI_ACTION, bytes_of("Calling EFI Application from Boot Option"));
  return w.bytes();
}

void expect_error(const std::vector<uint8_t>& log, const std::string& field,
                  const std::string& offset) {
  auto r = replay(log);
  ASSERT_FALSE(r) << "accepted a bad log";
  EXPECT_NE(r.error().message().find(field), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find(offset), std::string::npos) << r.error().message();
  // show reports the same error after the events it could read.
  auto doc = describe_log(log);
  if (doc) {
    EXPECT_TRUE(doc->contains("error"));
  }
}

TEST(EventLogBadInput, EmptyAndNonLogInputs) {
  EXPECT_FALSE(replay({}));
  auto text = replay(bytes_of("this is not an event log, just some text"));
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().message().find("not a TCG event log"), std::string::npos);
}

TEST(EventLogBadInput, AbsurdDigestCount) {
  size_t at;
  auto log = small_log(&at);
  put32(log, at + 8, 0xffffffff);
  char off[32];
  std::snprintf(off, sizeof off, "offset 0x%zx", at + 8);
  expect_error(log, "DigestCount", off);
}

TEST(EventLogBadInput, EventLargerThanTheFile) {
  size_t at;
  auto log = small_log(&at);
  size_t size_at = at + 12 + 2 + 20 + 2 + 32;
  put32(log, size_at, 0x7fffffff);
  char off[32];
  std::snprintf(off, sizeof off, "offset 0x%zx", size_at + 4);
  expect_error(log, "field Event:", off);
}

TEST(EventLogBadInput, AlgorithmNotInSpecId) {
  size_t at;
  auto log = small_log(&at);
  log[at + 12] = 0x99;  // first digest's AlgorithmId
  log[at + 13] = 0x00;
  expect_error(log, "algorithm 0x0099 is not declared", "AlgorithmId");
}

TEST(EventLogBadInput, AbsurdAlgorithmCountInSpecId) {
  size_t at;
  auto log = small_log(&at);
  put32(log, 32 + 24, 0xffffffff);  // numberOfAlgorithms
  expect_error(log, "numberOfAlgorithms", "Spec ID");
}

TEST(EventLogBadInput, ZeroSizedDigestInSpecId) {
  size_t at;
  auto log = small_log(&at);
  log[32 + 28 + 2] = 0;  // first algorithm's digestSize
  expect_error(log, "digestSize", "Spec ID");
}

TEST(EventLogBadInput, EveryTruncationIsAnErrorNotACrash) {
  size_t at;
  auto log = sample_boot_log("trunc", "fw", {HashAlg::kSha1, HashAlg::kSha256});
  (void)at;
  int errors = 0;
  for (size_t n = 0; n < log.size(); ++n) {
    std::vector<uint8_t> cut(log.begin(), log.begin() + static_cast<long>(n));
    auto r = replay(cut);
    // A cut exactly at an event boundary is a shorter, valid log.
    if (!r && n > 0) {
      ++errors;
      EXPECT_NE(r.error().message().find("offset 0x"), std::string::npos) << r.error().message();
    }
    if (n % 97 == 0) (void)describe_log(cut);
  }
  EXPECT_GT(errors, static_cast<int>(log.size()) - 40);
}

TEST(EventLogBadInput, CorpusLogsSurviveEveryTruncation) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  auto log = testing::read_bytes(corpus + "/eventlog/go-attestation/sb_cert_eventlog");
  ASSERT_FALSE(log.empty());
  for (size_t n = 0; n < log.size(); n += 7) {
    std::vector<uint8_t> cut(log.begin(), log.begin() + static_cast<long>(n));
    (void)replay(cut);
    if (n % 301 == 0) (void)describe_log(cut);
  }
}

TEST(EventLogBadInput, BrokenUefiStructuresAreReportedInTheEvent) {
  EventLogWriter w({HashAlg::kSha256});
  // UEFI_VARIABLE_DATA whose UnicodeNameLength is absurd.
  std::vector<uint8_t> var = variable_data(kEfiGlobalVariableGuid, "SecureBoot", bytes_of("\x01"));
  std::memset(var.data() + 16, 0xff, 8);
  w.add(7, EV_EFI_VARIABLE_DRIVER_CONFIG, var);
  // Invalid UTF-16 (lone surrogate) in a variable name.
  std::vector<uint8_t> bad_name = variable_data(kEfiGlobalVariableGuid, "AB", bytes_of("\x01"));
  bad_name[32] = 0x00;
  bad_name[33] = 0xdc;
  w.add(7, EV_EFI_VARIABLE_DRIVER_CONFIG, bad_name);
  // An image load event whose device path has a zero-length node.
  std::vector<uint8_t> img = image_load_event(0x1000, 0x2000, "\\EFI\\BOOT\\BOOTX64.EFI");
  img[32 + 2] = 0;
  img[32 + 3] = 0;
  w.add(4, EV_EFI_BOOT_SERVICES_APPLICATION, img);
  // A signature list whose size runs past the variable.
  std::vector<uint8_t> sl(28, 0);
  put32(sl, 16, 0x10000);
  w.add(7, EV_EFI_VARIABLE_DRIVER_CONFIG, variable_data(kEfiGlobalVariableGuid, "PK", sl));
  auto doc = describe_log(w.bytes());
  ASSERT_TRUE(doc);
  const auto& ev = (*doc)["events"];
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_NE(ev[1]["event"]["decode_error"].get<std::string>().find("UnicodeName"),
            std::string::npos);
  EXPECT_NE(ev[2]["event"]["decode_error"].get<std::string>().find("surrogate"), std::string::npos);
  EXPECT_NE(ev[3]["event"]["device_path"]["decode_error"].get<std::string>().find("node length"),
            std::string::npos)
      << ev[3].dump();
  EXPECT_NE(ev[4]["event"]["decode_error"].get<std::string>().find("SignatureListSize"),
            std::string::npos)
      << ev[4].dump();
  // The raw bytes are kept for the reader.
  EXPECT_TRUE(ev[1]["event"].contains("hex"));
}

TEST(EventLogBadInput, TrailingPaddingEndsTheLogWithANote) {
  size_t at;
  auto log = small_log(&at);
  log.insert(log.end(), 64, 0xff);
  auto r = replay(log);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->events, 2u);
  ASSERT_FALSE(r->anomalies.empty());
  EXPECT_NE(r->anomalies.back().message.find("64 bytes of padding"), std::string::npos);
}

TEST(EventLogBadInput, PcrIndexOutOfRangeIsNotReplayed) {
  EventLogWriter w({HashAlg::kSha256});
  w.add(4, EV_EFI_ACTION, bytes_of("x"));
  w.add(4000, EV_EFI_ACTION, bytes_of("y"));
  auto r = replay(w.bytes());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->banks[0].extended_mask, 1u << 4);
  ASSERT_EQ(r->anomalies.size(), 1u);
  EXPECT_NE(r->anomalies[0].message.find("4000"), std::string::npos);
}

}  // namespace
}  // namespace ironroot::evidence::eventlog
