// Measured-boot policy: per-event rules from golden logs, firmware updates to approved versions,
// Secure Boot keys, kernel command lines, and golden / mismatching logs from the corpus.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "crypto/digest.h"
#include "evidence/eventlog/event_types.h"
#include "evidence/eventlog/writer.h"
#include "policy/policy.h"
#include "support/corpus.h"

namespace ironroot::policy {
namespace {

namespace el = evidence::eventlog;
using crypto::HashAlg;

std::vector<uint8_t> sample(const std::string& host, const std::string& fw) {
  return el::sample_boot_log(host, fw, {HashAlg::kSha1, HashAlg::kSha256});
}

bool has_failure(const MeasuredBootResult& r, const std::string& stage,
                 const std::string& reason_part = "") {
  for (const auto& f : r.failures) {
    if (f.stage == stage && f.reason.find(reason_part) != std::string::npos) return true;
  }
  return false;
}

TEST(MeasuredBoot, ApprovedFirmwareUpdateStaysTrusted) {
  auto v1 = sample("host-1", "fw 1.0");
  auto v2 = sample("host-1", "fw 2.0");
  auto v3 = sample("host-1", "fw 3.0");
  auto p = create_measured_boot_policy({v1, v2});
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->bank, HashAlg::kSha256);
  ASSERT_EQ(p->firmware_versions.size(), 2u);

  auto r1 = check_measured_boot(*p, v1);
  ASSERT_TRUE(r1) << r1.error().message();
  EXPECT_TRUE(r1->ok()) << r1->to_json().dump(2);
  auto r2 = check_measured_boot(*p, v2);
  ASSERT_TRUE(r2);
  EXPECT_TRUE(r2->ok()) << r2->to_json().dump(2);
  EXPECT_NE(r2->firmware_version.find("fw 2.0"), std::string::npos);

  auto r3 = check_measured_boot(*p, v3);
  ASSERT_TRUE(r3);
  EXPECT_FALSE(r3->ok());
  ASSERT_TRUE(has_failure(*r3, "platform_firmware", "approved firmware")) << r3->to_json().dump(2);
  const auto& f = r3->failures.front();
  EXPECT_EQ(f.pcr, 0u);
  EXPECT_EQ(f.type, "EV_S_CRTM_VERSION");
  EXPECT_GE(f.event, 1);
  EXPECT_NE(f.reason.find("fw 3.0"), std::string::npos);
  // Only PCR 0 changed: nothing else fails.
  for (const auto& x : r3->failures) EXPECT_EQ(x.stage, "platform_firmware") << x.reason;
}

TEST(MeasuredBoot, PerHostValuesNameTheirEvents) {
  auto golden = sample("host-1", "fw 1.0");
  auto other = sample("host-2", "fw 1.0");
  auto p = create_measured_boot_policy({golden});
  ASSERT_TRUE(p);
  auto r = check_measured_boot(*p, other);
  ASSERT_TRUE(r);
  // host-2 differs in its root= command line and its initrd.
  EXPECT_TRUE(has_failure(*r, "kernel_cmdline", "host-2")) << r->to_json().dump(2);
  EXPECT_TRUE(has_failure(*r, "initrds")) << r->to_json().dump(2);
  EXPECT_FALSE(has_failure(*r, "boot_applications"));
  EXPECT_FALSE(has_failure(*r, "platform_firmware"));

  // Widening the command line rule to a pattern and dropping the initrd stage admits host-2.
  MeasuredBootPolicy wide = *p;
  wide.kernel_cmdline->allowed = {R"(/vmlinuz-\S+ root=UUID=\S+ ro quiet ima_policy=tcb)"};
  wide.kernel_cmdline->forbidden = {"init=/bin/sh"};
  wide.allowed_digests.erase("initrds");
  auto j = wide.to_json();
  auto back = MeasuredBootPolicy::from_json(j);
  ASSERT_TRUE(back) << back.error().message();
  auto r2 = check_measured_boot(*back, other);
  ASSERT_TRUE(r2);
  EXPECT_TRUE(r2->ok()) << r2->to_json().dump(2);
}

TEST(MeasuredBoot, SecureBootAndKeys) {
  auto golden = sample("host-1", "fw 1.0");
  auto p = create_measured_boot_policy({golden});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->secure_boot);
  EXPECT_TRUE(p->secure_boot->required);
  ASSERT_TRUE(p->secure_boot->db);
  EXPECT_EQ(p->secure_boot->db->size(), 1u);
  EXPECT_EQ(p->secure_boot->dbx_required.size(), 1u);

  // A log with Secure Boot off and a foreign db key.
  el::EventLogWriter w({HashAlg::kSha256});
  uint8_t off = 0;
  w.add(0, el::EV_S_CRTM_VERSION, el::utf16le("fw 1.0", true));
  w.add(7, el::EV_EFI_VARIABLE_DRIVER_CONFIG,
        el::variable_data(el::kEfiGlobalVariableGuid, "SecureBoot", Bytes(&off, 1)));
  auto r = check_measured_boot(*p, w.bytes());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(has_failure(*r, "secure_boot", "Secure Boot is off")) << r->to_json().dump(2);
  EXPECT_TRUE(has_failure(*r, "secure_boot", "dbx lacks 1 required"));
  EXPECT_TRUE(has_failure(*r, "secure_boot", "db not measured"));
  EXPECT_TRUE(has_failure(*r, "platform_firmware"));
}

TEST(MeasuredBoot, PolicyJsonIsStrict) {
  EXPECT_FALSE(MeasuredBootPolicy::from_json(nlohmann::json::parse(R"({"bank": "md5"})")));
  EXPECT_FALSE(MeasuredBootPolicy::from_json(nlohmann::json::parse(R"({"extra": 1})")));
  auto bad_hex = MeasuredBootPolicy::from_json(
      nlohmann::json::parse(R"({"allowed_digests": {"kernels": ["zz"]}})"));
  ASSERT_FALSE(bad_hex);
  EXPECT_NE(bad_hex.error().message().find("allowed_digests.kernels[0]"), std::string::npos);
  auto bad_re = MeasuredBootPolicy::from_json(
      nlohmann::json::parse(R"({"kernel_cmdline": {"forbidden": ["(unclosed"]}})"));
  ASSERT_FALSE(bad_re);
  EXPECT_NE(bad_re.error().message().find("kernel_cmdline.forbidden[0]"), std::string::npos);
  EXPECT_FALSE(MeasuredBootPolicy::from_json(
      nlohmann::json::parse(R"({"golden_pcrs": [{"pcrs": {"24": "00"}}]})")));
}

TEST(MeasuredBoot, GoldenPcrsWithApprovedFirmware) {
  auto v1 = sample("host-1", "fw 1.0");
  auto v2 = sample("host-1", "fw 2.0");
  CreateOptions o;
  for (uint32_t i = 0; i <= 7; ++i) o.golden_pcrs.push_back(i);
  auto p1 = create_measured_boot_policy({v1}, o);
  ASSERT_TRUE(p1);
  ASSERT_EQ(p1->golden_pcrs.size(), 1u);
  auto r = check_measured_boot(*p1, v2);
  ASSERT_TRUE(r);
  EXPECT_TRUE(has_failure(*r, "golden_pcrs", "PCR 0")) << r->to_json().dump(2);
  // Approving fw 2.0 as a firmware version lets PCR 0 differ from the golden host.
  auto both = create_measured_boot_policy({v1, v2}, o);
  ASSERT_TRUE(both);
  MeasuredBootPolicy p = *both;
  p.golden_pcrs.resize(1);  // only host X's set, plus the firmware versions
  auto r2 = check_measured_boot(p, v2);
  ASSERT_TRUE(r2);
  EXPECT_TRUE(r2->ok()) << r2->to_json().dump(2);
}

TEST(MeasuredBoot, CorpusGoldenAndMismatchingLogs) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  const std::string e = corpus + "/eventlog/";
  // tpm2-tools' event-arch-linux.bin is go-tpm-tools' arch-linux-workstation.bin with a boot
  // event edited (58 bytes differ): a policy from the workstation's log names the event.
  auto golden = FileContents::open(e + "go-tpm-tools/arch-linux-workstation.bin");
  auto edited = FileContents::open(e + "tpm2-tools/event-arch-linux.bin");
  ASSERT_TRUE(golden && edited);
  auto p = create_measured_boot_policy({golden->bytes()});
  ASSERT_TRUE(p) << p.error().message();
  auto ok = check_measured_boot(*p, golden->bytes());
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->ok()) << ok->to_json().dump(2);
  auto bad = check_measured_boot(*p, edited->bytes());
  ASSERT_TRUE(bad) << bad.error().message();
  ASSERT_FALSE(bad->ok());
  for (const auto& f : bad->failures) {
    EXPECT_GE(f.event, 0) << f.reason;
    EXPECT_FALSE(f.type.empty());
    EXPECT_EQ(f.digest.size(), 64u);
  }

  // A Secure Boot variable edited under its digest is caught (the rule reads the payload).
  auto sb = sample("host-1", "fw 1.0");
  auto sbp = create_measured_boot_policy({sb});
  ASSERT_TRUE(sbp);
  const std::string needle = "ironroot demo db";  // inside the db certificate's subject
  auto it = std::search(sb.begin(), sb.end(), needle.begin(), needle.end());
  ASSERT_NE(it, sb.end());
  *it = 'I';
  auto forged = check_measured_boot(*sbp, sb);
  ASSERT_TRUE(forged);
  EXPECT_TRUE(has_failure(*forged, "payload", "payload edited")) << forged->to_json().dump(2);

  // Keylime's create-mb-policy logs: one with Secure Boot on, one with it off, one bogus.
  auto sb_on = FileContents::open(e + "keylime/binary_bios_measurements-secureboot");
  auto sb_off = FileContents::open(e + "keylime/binary_bios_measurements");
  auto bogus = FileContents::open(e + "keylime/binary_bios_measurements-bogus");
  auto kp = create_measured_boot_policy({sb_on->bytes()});
  ASSERT_TRUE(kp) << kp.error().message();
  ASSERT_TRUE(kp->secure_boot);
  EXPECT_TRUE(kp->secure_boot->required);
  auto self = check_measured_boot(*kp, sb_on->bytes());
  ASSERT_TRUE(self);
  EXPECT_TRUE(self->ok()) << self->to_json().dump(2);
  auto off = check_measured_boot(*kp, sb_off->bytes());
  ASSERT_TRUE(off) << off.error().message();
  EXPECT_TRUE(has_failure(*off, "secure_boot", "Secure Boot is off")) << off->to_json().dump(2);
  EXPECT_FALSE(check_measured_boot(*kp, bogus->bytes()));
}

// Every go-tpm-tools log passes a policy made from itself (no false failures on real logs).
TEST(MeasuredBoot, CorpusLogsPassTheirOwnPolicy) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus + "/eventlog/go-tpm-tools")) {
    if (entry.path().extension() != ".bin") continue;
    auto f = FileContents::open(entry.path().string());
    ASSERT_TRUE(f);
    auto p = create_measured_boot_policy({f->bytes()});
    ASSERT_TRUE(p) << entry.path() << ": " << p.error().message();
    auto doc = p->to_json();
    auto back = MeasuredBootPolicy::from_json(doc);
    ASSERT_TRUE(back) << entry.path() << ": " << back.error().message();
    auto r = check_measured_boot(*back, f->bytes());
    ASSERT_TRUE(r) << entry.path();
    EXPECT_TRUE(r->ok()) << entry.path() << r->to_json().dump(2);
    ++checked;
  }
  EXPECT_GE(checked, 10u);
}

TEST(MeasuredBoot, CombinedPolicyDocument) {
  auto v1 = sample("host-1", "fw 1.0");
  auto mb = create_measured_boot_policy({v1});
  ASSERT_TRUE(mb);
  Policy p;
  p.measured_boot = *mb;
  auto rt = RuntimePolicy::load_allowlist(std::string(64, 'a') + "  /bin/true\n");
  ASSERT_TRUE(rt);
  p.runtime = *rt;
  const std::string doc = p.to_json();
  PolicyFormat fmt{};
  auto loaded =
      load_policy(Bytes(reinterpret_cast<const uint8_t*>(doc.data()), doc.size()), {}, {}, &fmt);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(fmt, PolicyFormat::kIronroot);
  ASSERT_TRUE((*loaded)->runtime);
  EXPECT_EQ((*loaded)->runtime->digest_count(), 1u);
  auto r = check_event_log(**loaded, v1);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok());
}

}  // namespace
}  // namespace ironroot::policy
