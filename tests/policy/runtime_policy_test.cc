// IMA runtime policies: Keylime formats written here from the public format description and
// from the corpus, generated lists with known violations, incremental appraisal across a
// restart, and hostile policies refused with the policy in force kept.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/file.h"
#include "core/hex.h"
#include "policy/policy.h"
#include "support/corpus.h"

namespace ironroot::policy {
namespace {

Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Builds an ima-ng ascii line the way the kernel hashes it (sha1 template hash column).
std::string ima_ng_line(const std::string& path, const std::string& file_digest_hex,
                        uint32_t pcr = 10) {
  auto digest = from_hex(file_digest_hex).value();
  std::vector<uint8_t> td;
  auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) td.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  const std::string algo = "sha256:";
  put32(static_cast<uint32_t>(algo.size() + 1 + digest.size()));
  td.insert(td.end(), algo.begin(), algo.end());
  td.push_back(0);
  td.insert(td.end(), digest.begin(), digest.end());
  put32(static_cast<uint32_t>(path.size() + 1));
  td.insert(td.end(), path.begin(), path.end());
  td.push_back(0);
  auto th = crypto::hash(crypto::HashAlg::kSha1, td);
  return std::to_string(pcr) + " " + th.hex() + " ima-ng sha256:" + file_digest_hex + " " + path +
         "\n";
}

std::string hex_of(char c) {
  return std::string(64, c);
}

// A Keylime runtime policy written from docs/user_guide/runtime_ima.rst (format version 1).
const char* kPolicy = R"({
  "meta": {"version": 1, "generator": 1, "timestamp": "2026-11-24"},
  "release": 0,
  "digests": {
    "/usr/bin/bash": ["sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                      "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"],
    "/usr/lib/with space.so": ["cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"],
    "/etc/\u00e9t\u00e9": ["dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"]
  },
  "excludes": ["/tmp/.*", "/var/log/[a-z]+\\.log$"],
  "keyrings": {".ima": ["eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"]},
  "ima": {"ignored_keyrings": [".builtin_trusted_keys"], "log_hash_alg": "sha1", "dm_policy": null},
  "ima-buf": {"kexec-cmdline": ["ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"]},
  "verification-keys": ""
})";

TEST(RuntimePolicy, KeylimeFormatVerdicts) {
  auto p = RuntimePolicy::load_keylime_json(kPolicy);
  ASSERT_TRUE(p) << p.error().message();
  const RuntimePolicy& rp = **p;
  auto d = [](char c) { return from_hex(hex_of(c)).value(); };
  EXPECT_EQ(rp.check_file("/usr/bin/bash", d('a')), RuntimeVerdict::kAllowed);
  EXPECT_EQ(rp.check_file("/usr/bin/bash", d('b')), RuntimeVerdict::kAllowed);
  EXPECT_EQ(rp.check_file("/usr/bin/bash", d('c')), RuntimeVerdict::kDigestNotAllowed);
  EXPECT_EQ(rp.check_file("/usr/bin/zsh", d('a')), RuntimeVerdict::kUnknownPath);
  EXPECT_EQ(rp.check_file("/usr/lib/with space.so", d('c')), RuntimeVerdict::kAllowed);
  EXPECT_EQ(rp.check_file("/etc/\xc3\xa9t\xc3\xa9", d('d')), RuntimeVerdict::kAllowed);
  // Excludes are anchored at the start, like Python's re.match.
  EXPECT_EQ(rp.check_file("/tmp/x", d('1')), RuntimeVerdict::kExcluded);
  EXPECT_EQ(rp.check_file("/var/tmp/x", d('1')), RuntimeVerdict::kUnknownPath);
  EXPECT_EQ(rp.check_file("/var/log/syslog.log", d('1')), RuntimeVerdict::kExcluded);
  EXPECT_EQ(rp.check_buffer(".ima", d('e')), RuntimeVerdict::kAllowed);
  EXPECT_EQ(rp.check_buffer(".ima", d('f')), RuntimeVerdict::kDigestNotAllowed);
  EXPECT_EQ(rp.check_buffer(".builtin_trusted_keys", d('0')), RuntimeVerdict::kIgnored);
  EXPECT_EQ(rp.check_buffer("kexec-cmdline", d('f')), RuntimeVerdict::kAllowed);
  EXPECT_EQ(rp.digest_count(), 6u);
  EXPECT_EQ(rp.log_hash_alg(), crypto::HashAlg::kSha1);
  // Round trip through Keylime JSON keeps every verdict.
  auto again = RuntimePolicy::load_keylime_json(rp.to_keylime_json());
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ((*again)->digest_count(), 6u);
  EXPECT_EQ((*again)->check_file("/usr/bin/bash", d('b')), RuntimeVerdict::kAllowed);
  EXPECT_EQ((*again)->check_file("/tmp/y", d('b')), RuntimeVerdict::kExcluded);
}

TEST(RuntimePolicy, AllowlistAndExcludeList) {
  const std::string allowlist = "# comment\n" + hex_of('a') + "  /usr/bin/a b\n\n" +
                                "sha256:" + hex_of('b') + "  /usr/bin/c\r\n" + hex_of('c') +
                                "  /usr/bin/c\n" + hex_of('d') +
                                "  /usr/bin/a b\n";  // a path seen again later
  auto p = RuntimePolicy::load_allowlist(allowlist, "^/proc/.*\n/sys\n");
  ASSERT_TRUE(p) << p.error().message();
  auto d = [](char c) { return from_hex(hex_of(c)).value(); };
  EXPECT_EQ((*p)->check_file("/usr/bin/a b", d('a')), RuntimeVerdict::kAllowed);
  EXPECT_EQ((*p)->check_file("/usr/bin/a b", d('d')), RuntimeVerdict::kAllowed);
  EXPECT_EQ((*p)->check_file("/usr/bin/a b", d('c')), RuntimeVerdict::kDigestNotAllowed);
  EXPECT_EQ((*p)->allowed_hex(DigestTable::kFiles, "/usr/bin/a b").size(), 2u);
  EXPECT_EQ((*p)->path_count(), 2u);
  EXPECT_EQ((*p)->digest_count(), 4u);
  EXPECT_EQ((*p)->check_file("/usr/bin/c", d('b')), RuntimeVerdict::kAllowed);
  EXPECT_EQ((*p)->check_file("/usr/bin/c", d('c')), RuntimeVerdict::kAllowed);
  EXPECT_EQ((*p)->check_file("/proc/1/exe", d('c')), RuntimeVerdict::kExcluded);
  EXPECT_EQ((*p)->check_file("/sys/x", d('c')), RuntimeVerdict::kExcluded);
  auto bad = RuntimePolicy::load_allowlist(hex_of('a') + "  /x\nnot-hex  /y\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("allowlist line 2"), std::string::npos)
      << bad.error().message();
}

TEST(RuntimePolicy, AppraisalNamesPathDigestAndWhy) {
  auto p = RuntimePolicy::load_keylime_json(kPolicy);
  ASSERT_TRUE(p);
  std::string list =
      ima_ng_line("/usr/bin/bash", hex_of('a')) + ima_ng_line("/usr/bin/bash", hex_of('9')) +
      ima_ng_line("/tmp/scratch", hex_of('9')) + ima_ng_line("/usr/bin/nc", hex_of('9')) +
      ima_ng_line("/usr/bin/bash", hex_of('b'), 11);
  auto r = appraise_ima_list(*p, as_bytes(list));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->appraised, 5u);
  EXPECT_EQ(r->excluded, 1u);
  ASSERT_EQ(r->failure_count, 3u);
  EXPECT_EQ(r->failures[0].index, 1u);
  EXPECT_EQ(r->failures[0].path, "/usr/bin/bash");
  EXPECT_EQ(r->failures[0].digest, "sha256:" + hex_of('9'));
  EXPECT_EQ(r->failures[0].reason, "digest not allowed for path");
  EXPECT_EQ(r->failures[0].allowed.size(), 2u);
  EXPECT_EQ(r->failures[1].path, "/usr/bin/nc");
  EXPECT_EQ(r->failures[1].reason, "path not in policy");
  EXPECT_EQ(r->failures[2].index, 4u);
  EXPECT_NE(r->failures[2].reason.find("PCR 11"), std::string::npos);

  // An edited entry (template data changed, template hash kept) is named too.
  std::string edited = ima_ng_line("/usr/bin/bash", hex_of('a'));
  edited.replace(edited.find("sha256:") + 7, 1, "b");
  auto e = appraise_ima_list(*p, as_bytes(edited));
  ASSERT_TRUE(e);
  ASSERT_EQ(e->failure_count, 1u);
  EXPECT_NE(e->failures[0].reason.find("template hash"), std::string::npos);
}

TEST(RuntimePolicy, IncrementalAppraisalSurvivesRestart) {
  auto p = RuntimePolicy::load_keylime_json(kPolicy);
  ASSERT_TRUE(p);
  std::vector<std::string> lines;
  for (int i = 0; i < 50; ++i) {
    lines.push_back(ima_ng_line(i % 7 == 3 ? "/usr/bin/evil" + std::to_string(i) : "/usr/bin/bash",
                                hex_of(i % 2 ? 'a' : 'b')));
  }
  std::string whole;
  for (const auto& l : lines) whole += l;
  auto full = appraise_ima_list(*p, as_bytes(whole));
  ASSERT_TRUE(full);

  // Three attestations, with a "verifier restart" (state serialised and parsed) between each;
  // the second delivery overlaps the first (the agent resent entries), the third is a delta.
  std::string stored;
  uint64_t failures = 0, appraised = 0;
  std::vector<std::pair<size_t, size_t>> deliveries = {{0, 20}, {10, 35}, {35, 50}};
  for (auto [from, to] : deliveries) {
    ImaAppraisalState state;
    if (!stored.empty()) {
      auto s = ImaAppraisalState::deserialize(stored);
      ASSERT_TRUE(s) << s.error().message();
      state = std::move(s).value();
    }
    ImaAppraiser a(*p, {}, state);
    std::string chunk;
    for (size_t i = from; i < to; ++i) chunk += lines[i];
    auto r = a.appraise(as_bytes(chunk), from);
    ASSERT_TRUE(r) << r.error().message();
    failures += r->failure_count;
    appraised += r->appraised;
    stored = a.state().serialize();
  }
  auto final_state = ImaAppraisalState::deserialize(stored).value();
  EXPECT_EQ(appraised, 50u);
  EXPECT_EQ(final_state.entries, 50u);
  EXPECT_EQ(failures, full->failure_count);
  EXPECT_EQ(final_state.failure_count, full->failure_count);
  // The running PCR 10 equals what `ironroot ima verify` replays for the whole list.
  auto v = evidence::ima::verify(as_bytes(whole));
  ASSERT_TRUE(v);
  ASSERT_NE(final_state.pcr10_for(crypto::HashAlg::kSha1), nullptr);
  EXPECT_EQ(*final_state.pcr10_for(crypto::HashAlg::kSha1),
            v->find(10, crypto::HashAlg::kSha1)->value);

  // A gap (entries missing between two deliveries) is an error and leaves the state as it was.
  ImaAppraiser a(*p, {}, final_state);
  auto gap = a.appraise(as_bytes(lines[0]), 60);
  EXPECT_FALSE(gap);
  EXPECT_EQ(a.state().entries, 50u);
  // A malformed delta does not half-advance the state either.
  auto bad = a.appraise(as_bytes(lines[0] + "10 zz ima-ng\n"), 50);
  EXPECT_FALSE(bad);
  EXPECT_EQ(a.state().entries, 50u);
}

// ../shared/tools/gen_ima.py: every entry allowed by policy_N.json; bad1pct fails i % 100 == 50.
TEST(RuntimePolicy, GeneratedListsWithKnownViolations) {
  const std::string tool = std::string(IRONROOT_CORPUS_DIR) + "/../tools/gen_ima.py";
  if (!std::filesystem::exists(tool) || !testing::have_program("python3")) {
    GTEST_SKIP() << "no " << tool;
  }
  const std::string dir = ::testing::TempDir() + "/policy_gen_" + std::to_string(::getpid());
  auto run = testing::run("python3 " + tool + " --entries 3000 --out-dir " + dir);
  ASSERT_EQ(run.status, 0);
  auto list = FileContents::open(dir + "/ima_3000.log");
  ASSERT_TRUE(list);
  auto good = load_policy_file(dir + "/policy_3000.json");
  ASSERT_TRUE(good) << good.error().message();
  auto r = appraise_ima_list((*good)->runtime, list->bytes());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->appraised, 3000u);
  EXPECT_EQ(r->failure_count, 0u);
  auto pcr = nlohmann::json::parse(testing::read_text(dir + "/ima_3000.pcr10.json"));
  ImaAppraisalOptions opts;
  opts.banks = {crypto::HashAlg::kSha1, crypto::HashAlg::kSha256};
  ImaAppraiser a((*good)->runtime, opts);
  ASSERT_TRUE(a.appraise(list->bytes()));
  const std::string text = pcr.dump();
  EXPECT_NE(text.find(a.state().pcr10_for(crypto::HashAlg::kSha1)->hex()), std::string::npos);
  EXPECT_NE(text.find(a.state().pcr10_for(crypto::HashAlg::kSha256)->hex()), std::string::npos);

  auto bad = load_policy_file(dir + "/policy_3000_bad1pct.json");
  ASSERT_TRUE(bad);
  ImaAppraisalOptions keep_all;
  keep_all.max_kept_failures = 1000;
  auto b = appraise_ima_list((*bad)->runtime, list->bytes(), keep_all);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->failure_count, 30u);
  ASSERT_EQ(b->failures.size(), 30u);
  for (const auto& f : b->failures) {
    EXPECT_EQ(f.index % 100, 50u) << f.path;
    EXPECT_EQ(f.reason, "digest not allowed for path");
    EXPECT_FALSE(f.path.empty());
    EXPECT_EQ(f.allowed.size(), 1u);
  }
  std::filesystem::remove_all(dir);
}

TEST(RuntimePolicy, KeylimeCorpusPolicies) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  const std::string k = corpus + "/ima/keylime/";
  for (const char* name :
       {"runtime-policy-test.json", "runtime-policy.json", "runtime-policy-empty.json",
        "create-runtime-policy/policy-sha256", "create-runtime-policy/policy-sha1"}) {
    PolicyFormat fmt{};
    auto p = load_policy_file(k + name, "", {}, &fmt);
    ASSERT_TRUE(p) << name << ": " << p.error().message();
    EXPECT_EQ(fmt, PolicyFormat::kKeylimeRuntime) << name;
  }
  auto test = load_policy_file(k + "runtime-policy-test.json");
  auto boot = from_hex("4309217e9709def327c3409407f4d52907aeba46ef1b4f46529fd095f2ef9fb2").value();
  EXPECT_EQ((*test)->runtime->check_file("boot_aggregate", boot), RuntimeVerdict::kAllowed);
  // The legacy allowlist from the same test data.
  PolicyFormat fmt{};
  auto allow = load_policy_file(k + "ima-allowlist-short.txt", "", {}, &fmt);
  ASSERT_TRUE(allow) << allow.error().message();
  EXPECT_EQ(fmt, PolicyFormat::kKeylimeAllowlist);
  EXPECT_EQ((*allow)->runtime->check_file("boot_aggregate", boot), RuntimeVerdict::kAllowed);
  // A signed (DSSE) policy is refused with the reason.
  auto signed_policy = load_policy_file(k + "runtime-policy-test-signed.json");
  ASSERT_FALSE(signed_policy);
  EXPECT_NE(signed_policy.error().message().find("DSSE"), std::string::npos);
  // Keylime's create-runtime-policy log against a policy that lacks its files.
  auto list = FileContents::open(k + "create-runtime-policy/ima-log-sha256");
  auto p256 = load_policy_file(k + "create-runtime-policy/policy-sha256");
  auto r = appraise_ima_list((*p256)->runtime, list->bytes());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->failure_count, 2u);
  EXPECT_EQ(r->failures[1].path, "/data");
  EXPECT_EQ(r->failures[1].reason, "path not in policy");
}

TEST(RuntimePolicy, RealListAgainstItsOwnPolicy) {
  IRONROOT_REQUIRE_CORPUS(corpus);
  auto list = FileContents::open(corpus + "/ima/rust-keylime/ascii_runtime_measurements");
  ASSERT_TRUE(list);
  // Allowlist built from the list itself: every entry passes; then one digest is changed.
  std::string allowlist;
  std::string victim;
  ASSERT_TRUE(evidence::ima::for_each_entry(list->bytes(), {}, [&](const evidence::ima::Entry& e) {
    if (e.digest.empty()) return true;
    std::string hex = to_hex(e.digest);
    if (e.index == 100) {
      victim = std::string(e.path);
      hex[0] = hex[0] == '0' ? '1' : '0';
    }
    allowlist += hex + "  " + std::string(e.path) + "\n";
    return true;
  }));
  auto p = RuntimePolicy::load_allowlist(allowlist);
  ASSERT_TRUE(p) << p.error().message();
  auto r = appraise_ima_list(*p, list->bytes());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->appraised, 826u);
  ASSERT_EQ(r->failure_count, 1u);
  EXPECT_EQ(r->failures[0].index, 100u);
  EXPECT_EQ(r->failures[0].path, victim);
  EXPECT_FALSE(r->pcr10_matched_after);  // not asked: stays unset
  ImaAppraisalOptions o;
  o.expected_pcr10 = crypto::Digest{crypto::HashAlg::kSha1, 20, {}};
  ASSERT_TRUE(
      decode_hex("82231c67a69da98dc5b3aa10f6343d33109225fc", o.expected_pcr10->bytes.data(), 20));
  auto m = appraise_ima_list(*p, list->bytes(), o);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->pcr10_matched_after);
  EXPECT_EQ(*m->pcr10_matched_after, 826u);
}

// ---- hostile policies: refused with a clear error naming the field; the policy in force stays.

void expect_refused(const std::string& doc, const std::string& needle,
                    const PolicyLimits& limits = {}) {
  auto r = load_policy(as_bytes(doc), {}, limits);
  ASSERT_FALSE(r) << "accepted: " << doc.substr(0, 200);
  EXPECT_NE(r.error().message().find(needle), std::string::npos)
      << "error \"" << r.error().message() << "\" lacks \"" << needle << "\"";
}

TEST(RuntimePolicy, BadPoliciesAreRefused) {
  auto in_force = load_policy(as_bytes(std::string(kPolicy)));
  ASSERT_TRUE(in_force);
  PolicyPtr current = *in_force;

  expect_refused("{\"digests\": {\"/a\": [\"" + hex_of('a') + "\"]", "policy");  // truncated
  expect_refused("{\"digests\": []}", "digests: expected an object");
  expect_refused("{\"digests\": {\"/a\": \"" + hex_of('a') + "\"}}", "digests[\"/a\"]");
  expect_refused("{\"digests\": {\"/a\": [42]}}", "digests[\"/a\"][0]: expected a digest string");
  expect_refused("{\"digests\": {\"/a\": [\"xyz\"]}}", "is not a hex digest");
  expect_refused("{\"digests\": {}, \"excludes\": \"/tmp\"}", "excludes: expected an array");
  expect_refused("{\"digests\": {}, \"ima\": {\"log_hash_alg\": \"md5\"}}", "ima.log_hash_alg");
  expect_refused("{\"digests\": {}, \"meta\": {\"version\": 2}}", "meta.version");
  expect_refused("{\"meta\": {\"version\": 1}}", "no \"digests\"");
  expect_refused("[1, 2]", "not a JSON object");
  expect_refused("{\"digests\": {}}}", "content after the JSON document at offset 15");
  expect_refused("  \n", "the document is empty");
  EXPECT_FALSE(RuntimePolicy::load_keylime_json("{\"digests\": {}} {}"));
  expect_refused("{\"ironroot_policy\": 1, \"digests\": {}}", "under \"runtime\"");
  expect_refused(
      "{\"ironroot_policy\": 1, \"measured_boot\": {\"allowed_digests\": {\"bios\": []}}}",
      "measured_boot.allowed_digests.bios: unknown stage");
  // Deeply nested documents, in an ignored member and in the measured-boot part.
  std::string deep =
      "{\"digests\": {}, \"x\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  expect_refused(deep, "x: nested deeper than 32 levels");
  std::string deep_mb =
      "{\"ironroot_policy\": 1, \"measured_boot\": {\"bank\": " + std::string(20, '[') +
      std::string(20, ']') + "}}";
  PolicyLimits shallow;
  shallow.runtime.max_depth = 64;
  auto deep_mb_r = load_policy(as_bytes(deep_mb), {}, shallow);
  EXPECT_FALSE(deep_mb_r);
  // Huge documents and too many excludes hit the limits, naming them.
  PolicyLimits tiny;
  tiny.runtime.max_document_bytes = 100;
  expect_refused(std::string(kPolicy), "limit 100", tiny);
  PolicyLimits few;
  few.runtime.max_excludes = 1;
  expect_refused(std::string(kPolicy), "excludes[1]: more than 1 excludes", few);
  PolicyLimits few_digests;
  few_digests.runtime.max_digests = 3;
  expect_refused(std::string(kPolicy), "more than 3 digests", few_digests);
  // Regular expressions: Python-only syntax and regex bombs are refused, naming the entry.
  expect_refused(R"({"digests": {}, "excludes": ["/ok", "(a)\\1"]})", "excludes[1]");
  expect_refused(R"J({"digests": {}, "excludes": ["(?=lookahead)"]})J", "excludes[0]");
  expect_refused(R"J({"digests": {}, "excludes": ["((((a{100}){100}){100}){100})"]})J",
                 "excludes[0]");
  // A catastrophic-backtracking pattern for Python is linear in RE2: accepted, and fast.
  auto evil = load_policy(as_bytes(R"({"digests": {}, "excludes": ["(a+)+$", "(x|x)*y"]})"));
  ASSERT_TRUE(evil) << evil.error().message();
  std::string attack(100000, 'a');
  attack += '!';
  EXPECT_FALSE((*evil)->runtime->is_excluded(attack));
  EXPECT_TRUE((*evil)->runtime->is_excluded("aaaa"));

  // Whatever failed, the policy in force still answers as before.
  EXPECT_EQ(current->runtime->check_file("/usr/bin/bash", from_hex(hex_of('a')).value()),
            RuntimeVerdict::kAllowed);
}

TEST(RuntimePolicy, StateRejectsMalformedJson) {
  EXPECT_FALSE(ImaAppraisalState::deserialize("{"));
  EXPECT_FALSE(ImaAppraisalState::deserialize("{\"entries\": \"x\"}"));
  EXPECT_FALSE(ImaAppraisalState::deserialize(
      R"({"entries":1,"failure_count":0,"excluded":0,"violations":0,"policy_sha256":"",)"
      R"("pcr10":{"sha1":"00"},"failures":[]})"));
  ImaAppraisalState s;
  s.entries = 7;
  s.pcr10.push_back(crypto::Digest::zero(crypto::HashAlg::kSha256));
  auto back = ImaAppraisalState::deserialize(s.serialize());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->entries, 7u);
  EXPECT_EQ(back->pcr10.size(), 1u);
}

}  // namespace
}  // namespace ironroot::policy
