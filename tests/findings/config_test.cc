#include "findings/config.h"

#include <gtest/gtest.h>

#include <random>

#include "support.h"

namespace ironroot::findings {
namespace {

using namespace testing;

std::string error_of(const std::string& text, const std::string& base = "") {
  auto c = parse_config(text, base);
  return c.ok() ? std::string("(no error)") : c.error().message();
}

TEST(Config, FullExample) {
  TempDir dir;
  write_text(dir.file("siem.key"), "k3y\n");
  write_text(dir.file("ca.pem"), "-----BEGIN CERTIFICATE-----\n");
  const std::string text = R"({
    "sinks": [
      {"type": "webhook", "name": "siem", "url": "https://siem.example:8443/ironroot",
       "secret_file": "siem.key", "ca_file": "ca.pem", "timeout_ms": 2500,
       "headers": {"X-Tenant": "lab"},
       "retry": {"max_attempts": 7, "initial_backoff_ms": 50, "max_backoff_ms": 900, "multiplier": 3}},
      {"type": "exec", "name": "pager", "argv": ["sh", "-c", "cat"], "min_severity": "critical",
       "env": {"SITE": "lab"}, "no_retry_exit_codes": [64]},
      {"type": "jsonl", "path": "findings.jsonl", "fsync": "always"},
      {"type": "syslog", "socket": "/run/x.sock", "facility": "local3", "max_message_bytes": 4000}
    ],
    "remediation": {
      "actions": {
        "quarantine": {"type": "quarantine"},
        "cordon": {"type": "exec", "argv": ["/bin/true", "{host_name}"], "timeout_ms": 1000,
                   "retry": {"max_attempts": 3}}
      },
      "rules": [{"kinds": ["untrusted_transition", "policy_violation"], "min_severity": "high",
                 "actions": ["quarantine", "cordon"]},
                {"kinds": ["*"], "actions": ["quarantine"]}]
    },
    "shutdown_deadline_ms": 2000
  })";
  auto c = parse_config(text, dir.path());
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_EQ(c->sinks.size(), 4u);
  const auto& w = std::get<WebhookConfig>(c->sinks[0].config);
  EXPECT_EQ(w.secret, "k3y");
  EXPECT_EQ(w.ca_pem, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_EQ(w.timeout.count(), 2500);
  EXPECT_EQ(w.headers.at("X-Tenant"), "lab");
  EXPECT_EQ(c->sinks[0].dedup_window.count(), 300);  // webhook default
  EXPECT_EQ(c->sinks[0].retry.max_attempts, 7);
  EXPECT_EQ(c->sinks[0].retry.initial_backoff.count(), 50);
  EXPECT_EQ(c->sinks[0].retry.multiplier, 3.0);
  const auto& e = std::get<ExecConfig>(c->sinks[1].config);
  EXPECT_EQ(e.argv[0][0], '/');  // "sh" resolved on the fixed PATH
  EXPECT_EQ(e.env.at("SITE"), "lab");
  EXPECT_EQ(c->sinks[1].min_severity, Severity::kCritical);
  EXPECT_EQ(c->sinks[2].name, "jsonl");  // defaults to the type
  EXPECT_EQ(std::get<JsonLinesConfig>(c->sinks[2].config).path, dir.file("findings.jsonl"));
  EXPECT_EQ(c->sinks[2].dedup_window.count(), 0);
  EXPECT_EQ(std::get<SyslogConfig>(c->sinks[3].config).facility, 19);
  ASSERT_EQ(c->remediation.actions.size(), 2u);
  ASSERT_EQ(c->remediation.rules.size(), 2u);
  EXPECT_TRUE(c->remediation.rules[1].kinds.empty());
  EXPECT_EQ(c->shutdown_deadline.count(), 2000);
  Finding f = sample_finding();
  EXPECT_EQ(c->remediation.actions_for(f).size(), 2u);
}

TEST(Config, ErrorsNameTheField) {
  EXPECT_NE(error_of("{").find("not JSON"), std::string::npos);
  EXPECT_NE(error_of("[]").find("expected an object"), std::string::npos);
  EXPECT_NE(error_of(R"({"sinkz": []})").find("sinkz: unknown field"), std::string::npos);
  EXPECT_NE(
      error_of(R"({"sinks": [{"type": "jsonl", "pth": "x"}]})").find("sinks[0].path: required"),
      std::string::npos);
  EXPECT_NE(error_of(R"({"sinks": [{"type": "jsonl", "path": "x", "pth": "x"}]})")
                .find("sinks[0].pth: unknown field"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"sinks": [{"type": "kafka"}]})").find("sinks[0].type: 'kafka'"),
            std::string::npos);
  EXPECT_NE(
      error_of(R"({"sinks": [{"type": "webhook", "url": "http://x/"}]})").find("sinks[0].url"),
      std::string::npos);
  EXPECT_NE(error_of(R"({"sinks": [{"type": "exec", "argv": ["no-such-hook-xyz"]}]})")
                .find("sinks[0].argv[0]: 'no-such-hook-xyz' not found"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"sinks": [{"type": "exec", "argv": [1]}]})").find("sinks[0].argv[0]"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"sinks": [{"type": "jsonl", "path": "x", "min_severity": "severe"}]})")
                .find("sinks[0].min_severity: 'severe'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"sinks": [{"type": "jsonl", "path": "x", "retry": {"max_attempts": 0}}]})")
                .find("sinks[0].retry.max_attempts: 0 is outside 1..100"),
            std::string::npos);
  EXPECT_NE(
      error_of(R"({"sinks": [{"type": "jsonl", "path": "x"}, {"type": "jsonl", "path": "y"}]})")
          .find("sinks[1].name: 'jsonl' is used by another sink"),
      std::string::npos);
  EXPECT_NE(error_of(R"({"sinks": [{"type": "syslog", "facility": "local9"}]})")
                .find("sinks[0].facility: 'local9'"),
            std::string::npos);
  EXPECT_NE(
      error_of(
          R"({"sinks": [{"type": "webhook", "url": "https://x/", "secret_file": "/nonexistent/k"}]})")
          .find("sinks[0].secret_file"),
      std::string::npos);
  EXPECT_NE(
      error_of(
          R"({"sinks": [{"type": "webhook", "url": "https://x/", "secret": "a", "secret_file": "b"}]})")
          .find("not both"),
      std::string::npos);
  EXPECT_NE(error_of(R"({"remediation": {"rules": [{"actions": ["reboot"]}]}})")
                .find("remediation.rules[0].actions: 'reboot' is not a defined action"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"remediation": {"actions": {"q": {"type": "quarantine"}},
                         "rules": [{"kinds": ["drift"], "actions": ["q"]}]}})")
                .find("remediation.rules[0].kinds: 'drift'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"remediation": {"actions": {"q": {"type": "reboot"}}}})")
                .find("remediation.actions.q.type: 'reboot'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"remediation": {"actions": {"q": {"type": "quarantine", "argv": []}}}})")
                .find("remediation.actions.q.argv: unknown field"),
            std::string::npos);
}

// The fuzz build leaves lib/findings out (it needs lib/net), so mutate a valid configuration here:
// every variant must parse or give an error with a message (and run clean under ASan/UBSan).
TEST(Config, MutatedInputGivesAConfigOrAnError) {
  const std::string seed = R"({"sinks": [{"type": "jsonl", "path": "/dev/null", "fsync": "never",
    "retry": {"max_attempts": 3, "multiplier": 1.5}, "min_severity": "low"},
    {"type": "syslog", "address": "127.0.0.1:514", "facility": "local0"},
    {"type": "exec", "argv": ["/bin/true", "{host_id}"], "env": {"A": "b"}}],
    "remediation": {"actions": {"q": {"type": "quarantine"}},
      "rules": [{"kinds": ["*"], "min_severity": "high", "actions": ["q"]}]}})";
  ASSERT_TRUE(parse_config(seed).ok());
  std::mt19937 rng(2004);
  const std::string alphabet = "{}[]\":,0123456789-.eE tfnaluxyz\\\n";
  size_t errors = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = seed;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.erase(pos, 1 + rng() % 8); break;
        default: text.insert(pos, 1, alphabet[rng() % alphabet.size()]);
      }
      if (text.empty()) text = "{";
    }
    auto c = parse_config(text);
    if (!c.ok()) {
      ++errors;
      EXPECT_FALSE(c.error().message().empty());
    }
  }
  EXPECT_GT(errors, 0u);
}

TEST(Config, LoadResolvesRelativeFilesBesideTheConfig) {
  TempDir dir;
  write_text(dir.file("findings.json"), R"({"sinks": [{"type": "jsonl", "path": "out.jsonl"}]})");
  auto c = load_config(dir.file("findings.json"));
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(std::get<JsonLinesConfig>(c->sinks[0].config).path, dir.file("out.jsonl"));
  auto missing = load_config(dir.file("absent.json"));
  ASSERT_FALSE(missing.ok());
  write_text(dir.file("bad.json"), R"({"sinks": 3})");
  auto bad = load_config(dir.file("bad.json"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("bad.json: sinks: expected an array"), std::string::npos)
      << bad.error().message();
}

}  // namespace
}  // namespace ironroot::findings
