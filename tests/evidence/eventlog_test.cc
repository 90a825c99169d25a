// Event log reader and replay on logs written by EventLogWriter, where every value is known.
#include "evidence/eventlog/eventlog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/hex.h"
#include "crypto/digest.h"
#include "evidence/eventlog/describe.h"
#include "evidence/eventlog/event_types.h"
#include "evidence/eventlog/replay.h"
#include "evidence/eventlog/uefi.h"
#include "evidence/eventlog/writer.h"

namespace ironroot::evidence::eventlog {
namespace {

using crypto::Digest;
using crypto::HashAlg;

Bytes bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// PCR value after extending `events` digests of `data` into a zero (or locality) register.
Digest expected_pcr(HashAlg alg, const std::vector<std::string>& data, uint8_t locality = 0) {
  crypto::Hasher h(alg);
  Digest pcr = Digest::zero(alg);
  pcr.bytes[pcr.size - 1] = locality;
  for (const auto& d : data) h.extend(pcr, h.digest(bytes_of(d)).view());
  return pcr;
}

TEST(EventLogReader, ReadsWhatTheWriterWrote) {
  EventLogWriter w({HashAlg::kSha1, HashAlg::kSha256});
  w.add(4, EV_EFI_ACTION, bytes_of("Calling EFI Application from Boot Option"));
  w.add(8, EV_IPL, bytes_of("grub_cmd: linux /vmlinuz"));
  auto reader = EventLogReader::open(w.bytes());
  ASSERT_TRUE(reader) << reader.error().message();
  EXPECT_EQ(reader->format(), LogFormat::kCryptoAgile);
  ASSERT_NE(reader->spec_id(), nullptr);
  ASSERT_EQ(reader->spec_id()->algorithms.size(), 2u);
  EXPECT_EQ(reader->spec_id()->algorithms[1].alg_id, 0x000B);
  EXPECT_EQ(reader->spec_id()->algorithms[1].digest_size, 32);
  Event ev;
  std::vector<Event> events;
  for (;;) {
    auto more = reader->next(ev);
    ASSERT_TRUE(more) << more.error().message();
    if (!*more) break;
    events.push_back(ev);
  }
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, EV_NO_ACTION);
  EXPECT_EQ(events[2].number, 2u);
  EXPECT_EQ(events[2].pcr, 8u);
  EXPECT_EQ(events[2].type, EV_IPL);
  EXPECT_EQ(std::string(events[2].data.begin(), events[2].data.end()), "grub_cmd: linux /vmlinuz");
  ASSERT_EQ(events[2].digests().size(), 2u);
  EXPECT_EQ(to_hex(events[2].digest_for(0x000B)),
            crypto::hash(HashAlg::kSha256, bytes_of("grub_cmd: linux /vmlinuz")).hex());
}

TEST(Replay, ExtendsEveryBankAndSkipsNoAction) {
  EventLogWriter w({HashAlg::kSha1, HashAlg::kSha256, HashAlg::kSha384});
  w.add(4, EV_EFI_ACTION, bytes_of("a"));
  w.add(4, EV_EFI_ACTION, bytes_of("b"));
  w.add(7, EV_NO_ACTION, bytes_of("vendor data, never extended"));
  w.add(7, EV_SEPARATOR, bytes_of(std::string_view("\0\0\0\0", 4)));
  auto r = replay(w.bytes());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->events, 5u);
  ASSERT_EQ(r->banks.size(), 3u);
  for (const auto& bank : r->banks) {
    EXPECT_EQ(bank.pcrs[4], expected_pcr(bank.alg, {"a", "b"}));
    EXPECT_EQ(bank.pcrs[7], expected_pcr(bank.alg, {std::string("\0\0\0\0", 4)}));
    EXPECT_EQ(bank.extended_mask, (1u << 4) | (1u << 7));
  }
  EXPECT_TRUE(r->digest_mismatches.empty());
  EXPECT_EQ(r->payloads_checked, 3u);
}

TEST(Replay, StartupLocalityThreeStartsPcr0AtThree) {
  EventLogWriter w({HashAlg::kSha256});
  w.add_startup_locality(3);
  w.add(0, EV_S_CRTM_VERSION, bytes_of("v1"));
  auto r = replay(w.bytes());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->startup_locality, 3);
  EXPECT_FALSE(r->hcrtm);
  EXPECT_EQ(r->banks[0].pcrs[0], expected_pcr(HashAlg::kSha256, {"v1"}, 3));
}

TEST(Replay, HcrtmEventStartsPcr0AtFour) {
  EventLogWriter w({HashAlg::kSha1});
  w.add(0, EV_EFI_HCRTM_EVENT, bytes_of("HCRTM"));
  auto r = replay(w.bytes());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->hcrtm);
  EXPECT_EQ(r->banks[0].pcrs[0], expected_pcr(HashAlg::kSha1, {"HCRTM"}, 4));
}

TEST(Replay, LateStartupLocalityIsAnAnomalyNotAChange) {
  EventLogWriter w({HashAlg::kSha256});
  w.add(0, EV_S_CRTM_VERSION, bytes_of("v1"));
  w.add_startup_locality(3);
  auto r = replay(w.bytes());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->startup_locality, 0);
  ASSERT_EQ(r->anomalies.size(), 1u);
  EXPECT_NE(r->anomalies[0].message.find("StartupLocality"), std::string::npos);
}

TEST(Replay, CatchesAnEditedPayloadAndNamesTheEvent) {
  auto log = sample_boot_log("host-a", "fw 1.0", {HashAlg::kSha1, HashAlg::kSha256});
  auto clean = replay(log);
  ASSERT_TRUE(clean);
  EXPECT_TRUE(clean->digest_mismatches.empty());
  EXPECT_GT(clean->payloads_checked, 15u);
  // Change "ro" to "rw" in the kernel command line: same length, so the log still parses.
  const std::string needle = "ro quiet";
  auto it = std::search(log.begin(), log.end(), needle.begin(), needle.end());
  ASSERT_NE(it, log.end());
  *(it + 1) = 'w';
  auto edited = replay(log);
  ASSERT_TRUE(edited);
  ASSERT_EQ(edited->digest_mismatches.size(), 1u);
  const auto& m = edited->digest_mismatches[0];
  EXPECT_EQ(m.pcr, 8u);
  EXPECT_EQ(m.type, EV_IPL);
  // The replayed PCRs do not change: the digests were not touched, only the payload.
  EXPECT_EQ(pcrs_json(*edited), pcrs_json(*clean));
}

TEST(Replay, FirmwareUpdateChangesOnlyPcr0) {
  auto a = replay(sample_boot_log("h", "fw 1.0", {HashAlg::kSha256}));
  auto b = replay(sample_boot_log("h", "fw 1.1", {HashAlg::kSha256}));
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->banks[0].pcrs[0], b->banks[0].pcrs[0]);
  for (uint32_t pcr : {1u, 4u, 5u, 8u, 9u})
    EXPECT_EQ(a->banks[0].pcrs[pcr], b->banks[0].pcrs[pcr]) << pcr;
}

TEST(Describe, DecodesSecureBootKeysBootOptionsAndImages) {
  auto log = sample_boot_log("host-b", "fw 2.0", {HashAlg::kSha256});
  auto doc = describe_log(log);
  ASSERT_TRUE(doc) << doc.error().message();
  const auto& events = (*doc)["events"];
  auto find = [&](const std::string& type, const std::string& name) -> nlohmann::json {
    for (const auto& e : events) {
      if (e["type_name"] == type && e["event"].value("name", "") == name) return e;
    }
    return nullptr;
  };
  auto sb = find("EV_EFI_VARIABLE_DRIVER_CONFIG", "SecureBoot");
  ASSERT_FALSE(sb.is_null());
  EXPECT_EQ(sb["event"]["enabled"], true);
  EXPECT_EQ(sb["event"]["guid"], std::string(kEfiGlobalVariableGuid));
  EXPECT_EQ(sb["payload_check"], "match");
  auto db = find("EV_EFI_VARIABLE_DRIVER_CONFIG", "db");
  ASSERT_FALSE(db.is_null());
  ASSERT_EQ(db["event"]["signature_lists"].size(), 1u);
  EXPECT_EQ(db["event"]["signature_lists"][0]["type"], "x509");
  EXPECT_EQ(db["event"]["signature_lists"][0]["count"], 1);
  EXPECT_NE(db["event"]["signature_lists"][0]["entries"][0]["subject"].get<std::string>().find(
                "CN=ironroot demo db"),
            std::string::npos);
  auto dbx = find("EV_EFI_VARIABLE_DRIVER_CONFIG", "dbx");
  EXPECT_EQ(dbx["event"]["signature_lists"][0]["type"], "sha256");
  auto order = find("EV_EFI_VARIABLE_BOOT", "BootOrder");
  EXPECT_EQ(order["event"]["boot_order"], nlohmann::json::array({"Boot0001"}));
  auto boot = find("EV_EFI_VARIABLE_BOOT", "Boot0001");
  EXPECT_EQ(boot["event"]["description"], "debian");
  EXPECT_NE(boot["event"]["device_path"].get<std::string>().find("shimx64.efi"), std::string::npos);
  auto auth = find("EV_EFI_VARIABLE_AUTHORITY", "db");
  EXPECT_NE(auth["event"]["certificate"]["subject"].get<std::string>().find("ironroot demo db"),
            std::string::npos);
  int images = 0;
  for (const auto& e : events) {
    if (e["type_name"] == "EV_EFI_BOOT_SERVICES_APPLICATION") {
      ++images;
      EXPECT_TRUE(e["event"]["device_path"].is_string()) << e.dump();
      EXPECT_EQ(e["payload_check"], "not_applicable");
    }
  }
  EXPECT_EQ(images, 3);
  EXPECT_TRUE((*doc)["digest_mismatches"].empty());
}

TEST(Describe, DecodesGptPartitions) {
  // UEFI_GPT_DATA: a 92-byte header, the partition count and one 128-byte entry.
  std::vector<uint8_t> gpt(92 + 8 + 128, 0);
  std::memcpy(gpt.data(), "EFI PART", 8);
  gpt[12] = 92;   // HeaderSize
  gpt[84] = 128;  // SizeOfPartitionEntry
  gpt[92] = 1;    // NumberOfPartitions
  Guid esp = guid_from_string("c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
  std::copy(esp.begin(), esp.end(), gpt.begin() + 100);
  gpt[100 + 32] = 0x00;
  gpt[100 + 33] = 0x08;  // FirstLBA 2048
  auto name = utf16le("EFI System", false);
  std::copy(name.begin(), name.end(), gpt.begin() + 100 + 56);
  EventLogWriter w({HashAlg::kSha256});
  w.add(5, EV_EFI_GPT_EVENT, gpt);
  auto doc = describe_log(w.bytes());
  ASSERT_TRUE(doc);
  const auto& ev = (*doc)["events"][1];
  EXPECT_EQ(ev["payload_check"], "match");
  ASSERT_EQ(ev["event"]["partitions"].size(), 1u) << ev.dump();
  EXPECT_EQ(ev["event"]["partitions"][0]["type_guid"], "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
  EXPECT_EQ(ev["event"]["partitions"][0]["first_lba"], 2048);
  EXPECT_EQ(ev["event"]["partitions"][0]["name"], "EFI System");
}

TEST(Guid, RoundTripsTheMixedEndianForm) {
  const std::string text = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
  Guid g = guid_from_string(text);
  EXPECT_EQ(g[0], 0x61);  // first field little-endian
  EXPECT_EQ(g[8], 0xaa);  // last fields in order
  EXPECT_EQ(guid_to_string(g.data()), text);
}

}  // namespace
}  // namespace ironroot::evidence::eventlog
