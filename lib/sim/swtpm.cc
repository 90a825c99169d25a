#include "sim/swtpm.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace ironroot::sim {
namespace {

namespace fs = std::filesystem;

Status write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Error(ErrorCode::kIo, path + ": cannot write");
  out << text;
  return {};
}

// A loopback port pair (port, port+1) that nothing listens on right now.
Result<uint16_t> free_port_pair() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ::close(fd);
      continue;
    }
    ::close(fd);
    uint16_t port = ntohs(a.sin_port);
    if (port >= 65534) continue;
    int fd2 = ::socket(AF_INET, SOCK_STREAM, 0);
    a.sin_port = htons(static_cast<uint16_t>(port + 1));
    bool ok = ::bind(fd2, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd2);
    if (ok) return port;
  }
  return Error(ErrorCode::kIo, "no free loopback port pair for swtpm");
}

bool can_connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Result<std::string> run_command(const std::vector<std::string>& argv) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Error(ErrorCode::kIo, "pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) return Error(ErrorCode::kIo, "fork failed");
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    ::close_range(3, ~0U, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return Error(ErrorCode::kIo,
                 argv[0] + " failed (" +
                     (code == 127 ? std::string("not installed? apt-get install swtpm swtpm-tools")
                                  : "status " + std::to_string(code)) +
                     "): " + out.substr(out.size() > 600 ? out.size() - 600 : 0));
  }
  return out;
}

Result<LocalCa> LocalCa::create(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error(ErrorCode::kIo, dir + ": " + ec.message());
  LocalCa ca;
  ca.dir_ = fs::absolute(dir).string();
  const std::string d = ca.dir_ + "/";
  IRONROOT_RETURN_IF_ERROR(write_text(
      d + "swtpm-localca.conf", "statedir = " + ca.dir_ + "\nsigningkey = " + d + "signkey.pem\n" +
                                    "issuercert = " + d + "issuercert.pem\ncertserial = " + d +
                                    "certserial\n"));
  IRONROOT_RETURN_IF_ERROR(write_text(
      d + "swtpm-localca.options",
      "--platform-manufacturer ironroot\n--platform-version 2.1\n--platform-model swtpm\n"));
  ca.setup_config_ = d + "swtpm_setup.conf";
  IRONROOT_RETURN_IF_ERROR(write_text(
      ca.setup_config_, "create_certs_tool = swtpm_localca\ncreate_certs_tool_config = " + d +
                            "swtpm-localca.conf\ncreate_certs_tool_options = " + d +
                            "swtpm-localca.options\n"));
  // swtpm_localca makes its CA on first use; make one TPM now so the CA files exist before a
  // verifier is told to trust them.
  if (!fs::exists(d + "issuercert.pem")) {
    const std::string scratch = d + "first-tpm";
    fs::create_directories(scratch, ec);
    auto made = run_command({"swtpm_setup", "--tpm2", "--tpmstate", scratch, "--create-ek-cert",
                             "--config", ca.setup_config_});
    fs::remove_all(scratch, ec);
    if (!made) return std::move(made).error().with_context("creating the local EK CA");
  }
  return ca;
}

std::vector<std::string> LocalCa::ca_files() const {
  return {dir_ + "/swtpm-localca-rootca-cert.pem", dir_ + "/issuercert.pem"};
}

Result<std::unique_ptr<Swtpm>> Swtpm::start(const SwtpmOptions& options) {
  std::error_code ec;
  fs::create_directories(options.state_dir, ec);
  if (ec) return Error(ErrorCode::kIo, options.state_dir + ": " + ec.message());
  const std::string state = fs::absolute(options.state_dir).string();
  if (!fs::exists(state + "/tpm2-00.permall")) {
    std::vector<std::string> argv = {"swtpm_setup", "--tpm2",      "--tpmstate",  state,
                                     "--pcr-banks", options.banks, "--lock-nvram"};
    if (options.ca != nullptr) {
      argv.insert(argv.end(), {"--create-ek-cert", "--create-platform-cert", "--config",
                               options.ca->setup_config()});
    }
    IRONROOT_RETURN_IF_ERROR(run_command(argv));
  }
  IRONROOT_ASSIGN_OR_RETURN(uint16_t port, free_port_pair());
  std::unique_ptr<Swtpm> t(new Swtpm());
  t->port_ = port;
  t->pid_ = ::fork();
  if (t->pid_ < 0) return Error(ErrorCode::kIo, "fork failed");
  if (t->pid_ == 0) {
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::close_range(3, ~0U, 0);  // nothing of ours (sockets, TPM connections) leaks into swtpm
    const std::string server = "type=tcp,port=" + std::to_string(port) + ",bindaddr=127.0.0.1";
    const std::string ctrl = "type=tcp,port=" + std::to_string(port + 1) + ",bindaddr=127.0.0.1";
    const std::string tpmstate = "dir=" + state;
    ::execlp("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate", tpmstate.c_str(), "--server",
             server.c_str(), "--ctrl", ctrl.c_str(), "--flags", "not-need-init,startup-clear",
             static_cast<char*>(nullptr));
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!can_connect(port)) {
    int status = 0;
    if (::waitpid(t->pid_, &status, WNOHANG) == t->pid_) {
      t->pid_ = -1;
      return Error(ErrorCode::kIo, "swtpm exited at start (status " + std::to_string(status) + ")");
    }
    if (std::chrono::steady_clock::now() > deadline)
      return Error(ErrorCode::kIo, "swtpm did not start listening in 10 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return t;
}

std::string Swtpm::tcti() const {
  return "swtpm:host=127.0.0.1,port=" + std::to_string(port_);
}

void Swtpm::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

Swtpm::~Swtpm() {
  stop();
}

}  // namespace ironroot::sim
