// Exec hooks (real processes), the JSON-lines file and syslog (a datagram socket the test binds).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>

#include "findings/command.h"
#include "findings/dispatcher.h"
#include "support.h"

namespace ironroot::findings {
namespace {

using namespace testing;

std::unique_ptr<Dispatcher> one_sink(SinkSpec s, Outcomes& outcomes) {
  DispatcherConfig c;
  c.sinks.push_back(std::move(s));
  auto d = Dispatcher::create(std::move(c), {.on_outcome = outcomes.callback(), .quarantine = {}});
  EXPECT_TRUE(d.ok()) << d.error().message();
  return d.ok() ? std::move(*d) : nullptr;
}

TEST(RunCommand, FeedsStdinAndKeepsOutput) {
  auto r = run_command({.argv = {"/bin/sh", "-c", "tr a-z A-Z; echo err >&2; exit 3"},
                        .env = {"PATH=/usr/bin:/bin"},
                        .input = "hello\n"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->output, "HELLO\nerr\n");
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->describe(), "exit status 3: HELLO");
}

TEST(RunCommand, EnvironmentIsExactlyWhatWasGiven) {
  ::setenv("IRONROOT_TEST_LEAK", "secret", 1);
  auto r = run_command({.argv = {"/usr/bin/env"}, .env = {"A=1", "B=two"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output, "A=1\nB=two\n");
}

TEST(RunCommand, ChildDoesNotInheritOurFiles) {
  TempDir dir;
  const int fd = ::open(dir.file("x").c_str(), O_CREAT | O_WRONLY, 0600);  // no O_CLOEXEC
  ASSERT_GE(fd, 3);
  auto r = run_command({.argv = {"/bin/sh", "-c", "ls /proc/self/fd"}, .env = {}});
  ::close(fd);
  ASSERT_TRUE(r.ok());
  // 0, 1, 2 and the fd ls opens to read the directory.
  EXPECT_EQ(std::count(r->output.begin(), r->output.end(), '\n'), 4) << r->output;
}

TEST(RunCommand, HangingProcessGroupIsKilledAtTheTimeout) {
  // The shell waits for sleep, which also holds the output pipe: only killing the whole group
  // ends it.
  auto r = run_command({.argv = {"/bin/sh", "-c", "sleep 600; true"},
                        .env = {"PATH=/usr/bin:/bin"},
                        .timeout = std::chrono::milliseconds(300)});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->signal, SIGKILL);
  EXPECT_LT(r->elapsed, std::chrono::seconds(60));
}

TEST(RunCommand, ChildThatIgnoresStdinDoesNotHurtUs) {
  const std::string big(1 << 20, 'x');  // more than a pipe holds
  auto r = run_command({.argv = {"/bin/true"}, .env = {}, .input = big});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
}

TEST(RunCommand, MissingProgramIsAnError) {
  auto r = run_command({.argv = {"/nonexistent/hook"}, .env = {}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("/nonexistent/hook"), std::string::npos);
}

TEST(ExecSink, FindingOnStdinArgumentsAndEnvironment) {
  TempDir dir;
  const std::string script = dir.file("hook.sh");
  write_text(script, "#!/bin/sh\ncat > \"$1\"\nenv > \"$1.env\"\n", true);
  Outcomes outcomes;
  SinkSpec s;
  s.name = "hook";
  s.config = ExecConfig{.argv = {script, dir.file("out-{host_id}.json")},
                        .env = {{"SITE", "lab"}},
                        .timeout = std::chrono::seconds(30),
                        .no_retry_exit_codes = {}};
  auto d = one_sink(std::move(s), outcomes);
  Finding f = sample_finding();
  ASSERT_TRUE(d->submit(f));
  ASSERT_TRUE(outcomes.wait_count("sink:hook", OutcomeStatus::kDelivered, 1));
  const auto j = nlohmann::json::parse(read_text(dir.file("out-host-3.json")));
  EXPECT_EQ(j["class_uid"], 2004);
  EXPECT_EQ(j["finding_info"]["uid"], f.uid());
  const std::string env = read_text(dir.file("out-host-3.json.env"));
  EXPECT_NE(env.find("IRONROOT_HOST_ID=host-3\n"), std::string::npos);
  EXPECT_NE(env.find("IRONROOT_SEVERITY=High\n"), std::string::npos);
  EXPECT_NE(env.find("SITE=lab\n"), std::string::npos);
  EXPECT_EQ(env.find("HOME="), std::string::npos);
  EXPECT_EQ(outcomes.snapshot()[0].detail, "exit status 0");
}

TEST(ExecSink, HangingHookIsKilledAndReported) {
  TempDir dir;
  const std::string script = dir.file("hang.sh");
  write_text(script, "#!/bin/sh\nsleep 600\n", true);
  Outcomes outcomes;
  SinkSpec s;
  s.name = "hang";
  s.config = ExecConfig{.argv = {script},
                        .env = {},
                        .timeout = std::chrono::milliseconds(200),
                        .no_retry_exit_codes = {}};
  s.retry.max_attempts = 2;
  s.retry.initial_backoff = std::chrono::milliseconds(1);
  auto d = one_sink(std::move(s), outcomes);
  ASSERT_TRUE(d->submit(sample_finding()));
  ASSERT_TRUE(outcomes.wait_count("sink:hang", OutcomeStatus::kFailed, 1));
  auto v = outcomes.snapshot();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].status, OutcomeStatus::kRetrying);
  EXPECT_NE(v[1].detail.find("killed after the timeout"), std::string::npos) << v[1].detail;
}

TEST(ExecSink, ListedExitCodeIsNotRetried) {
  Outcomes outcomes;
  SinkSpec s;
  s.name = "refuse";
  s.config = ExecConfig{.argv = {"/bin/sh", "-c", "exit 64"},
                        .env = {},
                        .timeout = std::chrono::seconds(30),
                        .no_retry_exit_codes = {64}};
  s.retry.initial_backoff = std::chrono::milliseconds(1);
  auto d = one_sink(std::move(s), outcomes);
  ASSERT_TRUE(d->submit(sample_finding()));
  ASSERT_TRUE(outcomes.wait_count("sink:refuse", OutcomeStatus::kFailed, 1));
  EXPECT_EQ(outcomes.snapshot().size(), 1u);
  EXPECT_EQ(outcomes.snapshot()[0].detail, "exit status 64");
}

TEST(ExecSink, RelativeProgramIsRefused) {
  auto s = make_exec_sink({.argv = {"kubectl", "cordon"},
                           .env = {},
                           .timeout = std::chrono::seconds(1),
                           .no_retry_exit_codes = {}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("kubectl"), std::string::npos);
}

TEST(JsonLinesSink, OneLinePerFindingInOrder) {
  TempDir dir;
  Outcomes outcomes;
  SinkSpec s;
  s.name = "file";
  s.config = JsonLinesConfig{.path = dir.file("findings.jsonl"), .fsync = FsyncPolicy::kAlways};
  auto d = one_sink(std::move(s), outcomes);
  std::vector<std::string> uids;
  for (uint64_t g = 0; g < 200; ++g) {
    Finding f = sample_finding("host-" + std::to_string(g % 7), g);
    uids.push_back(f.uid());
    ASSERT_TRUE(d->submit(std::move(f)));
  }
  ASSERT_TRUE(outcomes.wait_count("sink:file", OutcomeStatus::kDelivered, 200));
  d->shutdown(std::chrono::seconds(30));
  const auto lines = read_lines(dir.file("findings.jsonl"));
  ASSERT_EQ(lines.size(), 200u);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto j = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(j["finding_info"]["uid"], uids[i]);
  }
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("findings.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(JsonLinesSink, InvalidUtf8FromAHostIsReplacedNotFatal) {
  TempDir dir;
  Outcomes outcomes;
  SinkSpec s;
  s.name = "file";
  s.config = JsonLinesConfig{.path = dir.file("f.jsonl"), .fsync = FsyncPolicy::kNever};
  auto d = one_sink(std::move(s), outcomes);
  Finding f = sample_finding();
  f.host_name = "bad\xff\xfename";
  ASSERT_TRUE(d->submit(f));
  ASSERT_TRUE(outcomes.wait_count("sink:file", OutcomeStatus::kDelivered, 1));
  d->shutdown(std::chrono::seconds(30));
  const auto j = nlohmann::json::parse(read_lines(dir.file("f.jsonl")).at(0));
  EXPECT_EQ(j["device"]["hostname"], "bad\xEF\xBF\xBD\xEF\xBF\xBDname");
}

TEST(JsonLinesSink, AppendsToAnExistingFile) {
  TempDir dir;
  write_text(dir.file("f.jsonl"), "{\"earlier\":true}\n");
  auto s = make_jsonl_sink({.path = dir.file("f.jsonl"), .fsync = FsyncPolicy::kNever});
  ASSERT_TRUE(s.ok());
  const Finding f = sample_finding();
  const std::string body = to_ocsf_json(f);
  EXPECT_EQ((*s)->deliver({.finding = f, .body = body}).result, AttemptResult::kDelivered);
  const auto lines = read_lines(dir.file("f.jsonl"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"earlier\":true}");
  EXPECT_EQ(lines[1], body);
}

TEST(JsonLinesSink, UnwritablePathIsAnErrorAtCreation) {
  auto s = make_jsonl_sink({.path = "/nonexistent-dir/f.jsonl"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("/nonexistent-dir/f.jsonl"), std::string::npos);
}

class Datagram {
 public:
  explicit Datagram(int fd) : fd_(fd) {
    timeval tv{60, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Datagram() { ::close(fd_); }
  std::string receive() {
    std::string buf(65536, '\0');
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return buf;
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// "<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] BOM MSG" -> the MSG, checking the header.
nlohmann::json check_rfc5424(const std::string& msg, int pri, const Finding& f) {
  const std::string head = "<" + std::to_string(pri) + ">1 ";
  EXPECT_EQ(msg.rfind(head, 0), 0u) << msg.substr(0, 80);
  EXPECT_NE(msg.find(" ironroot " + std::to_string(::getpid()) +
                     " untrusted_transition [ironroot@32473 host=\"host-3\""),
            std::string::npos)
      << msg.substr(0, 200);
  EXPECT_NE(msg.find("uid=\"" + f.uid() + "\""), std::string::npos);
  const auto bom = msg.find("\xEF\xBB\xBF");
  EXPECT_NE(bom, std::string::npos);
  return nlohmann::json::parse(msg.substr(bom + 3));
}

TEST(SyslogSink, Rfc5424OverAUnixDatagramSocket) {
  TempDir dir;
  const std::string path = dir.file("log.sock");
  Datagram server(::socket(AF_UNIX, SOCK_DGRAM, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  ASSERT_EQ(::bind(server.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);

  Outcomes outcomes;
  SinkSpec s;
  s.name = "syslog";
  s.config = SyslogConfig{.socket_path = path, .facility = 10, .hostname = "verifier-1"};
  auto d = one_sink(std::move(s), outcomes);
  Finding f = sample_finding();
  ASSERT_TRUE(d->submit(f));
  const std::string msg = server.receive();
  // authpriv (10) * 8 + error (3: High).
  const auto j = check_rfc5424(msg, 83, f);
  EXPECT_NE(msg.find(" verifier-1 "), std::string::npos);
  EXPECT_EQ(j["class_uid"], 2004);
  ASSERT_TRUE(outcomes.wait_count("sink:syslog", OutcomeStatus::kDelivered, 1));
}

TEST(SyslogSink, Rfc5424OverUdp) {
  Datagram server(::socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(server.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(server.fd(), reinterpret_cast<sockaddr*>(&addr), &len);
  Outcomes outcomes;
  SinkSpec s;
  s.name = "udp";
  s.config = SyslogConfig{.udp_address = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port))};
  auto d = one_sink(std::move(s), outcomes);
  Finding f = sample_finding();
  f.severity = Severity::kCritical;
  ASSERT_TRUE(d->submit(f));
  // auth (4) * 8 + critical (2).
  EXPECT_EQ(check_rfc5424(server.receive(), 34, f)["severity_id"], 5);
}

TEST(SyslogSink, MissingSocketIsRetriedThenFails) {
  TempDir dir;
  Outcomes outcomes;
  SinkSpec s;
  s.name = "nobody";
  s.config = SyslogConfig{.socket_path = dir.file("absent.sock")};
  s.retry = {.max_attempts = 2, .initial_backoff = std::chrono::milliseconds(1)};
  auto d = one_sink(std::move(s), outcomes);
  ASSERT_TRUE(d->submit(sample_finding()));
  ASSERT_TRUE(outcomes.wait_count("sink:nobody", OutcomeStatus::kFailed, 1));
  EXPECT_NE(outcomes.snapshot().back().detail.find("absent.sock"), std::string::npos);
}

TEST(SyslogSink, LongMessagesAreCutAndStructuredDataEscaped) {
  Finding f = sample_finding();
  f.host_id = "a\"b]c\\";
  SyslogConfig c{.hostname = "h", .max_message_bytes = 600};
  const std::string m = format_syslog_message(c, f, std::string(5000, 'x'));
  EXPECT_EQ(m.size(), 600u);
  EXPECT_NE(m.find("host=\"a\\\"b\\]c\\\\\""), std::string::npos) << m;
}

}  // namespace
}  // namespace ironroot::findings
