// ironroot sim: swtpm processes. See swtpm.h.
#include "sim/swtpm.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

namespace ironroot::sim {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kSetupTimeout = std::chrono::seconds(60);
constexpr auto kReadyTimeout = std::chrono::seconds(15);
constexpr auto kStopGrace = std::chrono::seconds(1);
constexpr milliseconds kForever{-1};
constexpr int kPortAttempts = 20;
// swtpm control channel (swtpm's tpm_ioctl.h): CMD_GET_CAPABILITY = 1, answered with
// {u32 result, u32 capability bits}, big-endian.
constexpr uint32_t kCmdGetCapability = 1;
// swtpm keeps its permanent state in this file of its state directory.
constexpr const char* kPermanentState = "/tpm2-00.permall";

Error io_error(const std::string& what) {
  return Error(ErrorCode::kIo, what + ": " + std::strerror(errno));
}

std::string temp_base() {
  const char* env = std::getenv("TMPDIR");
  return env != nullptr && *env != '\0' ? env : "/tmp";
}

Result<std::string> make_temp_dir(const std::string& prefix) {
  std::string tmpl = temp_base() + "/" + prefix + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return io_error("mkdtemp " + tmpl);
  return tmpl;
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// Creates `dir` if needed; returns its absolute path.
Result<std::string> make_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error(ErrorCode::kIo, dir + ": " + ec.message());
  std::string abs = fs::absolute(dir, ec).string();
  if (ec) return Error(ErrorCode::kIo, dir + ": " + ec.message());
  return abs;
}

// The absolute path of `program` on PATH, or "".
std::string find_program(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

Result<std::string> require_program(const std::string& program) {
  std::string path = find_program(program);
  if (path.empty()) {
    return Error(ErrorCode::kNotFound,
                 program + " is not on PATH (apt-get install swtpm swtpm-tools)");
  }
  return path;
}

Status write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Error(ErrorCode::kIo, path + ": cannot write");
  return {};
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The last `max` bytes of a log, for error messages.
std::string log_tail(const std::string& path, size_t max = 2000) {
  std::string text = read_text(path);
  if (text.size() > max) text = "..." + text.substr(text.size() - max);
  return text.empty() ? "(empty log " + path + ")\n" : text;
}

// Opens a log file for a child's stdout and stderr, emptied first; close-on-exec.
Result<int> open_log(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("open " + path);
  return fd;
}

// Waits for our child `pid` to exit for at most `timeout` (forever when negative) and reaps it.
// Returns true when it exited (wait status in *status).
bool wait_exit(pid_t pid, milliseconds timeout, int* status) {
  if (timeout.count() >= 0) {
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      int r;
      do {
        r = ::poll(&p, 1, static_cast<int>(timeout.count()));
      } while (r < 0 && errno == EINTR);
      ::close(pidfd);
      if (r == 0) return false;
    } else {
      // No pidfd (Linux < 5.3): poll the process table.
      const auto deadline = Clock::now() + timeout;
      for (;;) {
        pid_t r = ::waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) return true;
        if (Clock::now() >= deadline) return false;
        ::usleep(1000);
      }
    }
  }
  while (::waitpid(pid, status, 0) < 0) {
    if (errno != EINTR) return true;  // already reaped
  }
  return true;
}

// Kills our child `pid` (if > 0) with SIGKILL, reaps it and sets it to -1.
void kill_and_reap(pid_t& pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  int status = 0;
  wait_exit(pid, kForever, &status);
  pid = -1;
}

// The file descriptor a spawned child receives `pass_fd` as.
constexpr int kPassedFd = 3;

// Starts `argv[0]` (an absolute path) with stdout and stderr on `out_fd` and stdin from
// /dev/null. The child inherits no other descriptor of ours, except `pass_fd` (if >= 0) as
// descriptor 3: tss2 opens TCTI sockets and /dev/tpmrm0 without close-on-exec, and an inherited
// one would stay open in the wrong process (a swtpm serves one connection at a time; a resource
// manager keeps a connection's objects loaded). The child gets SIGKILL when the calling thread
// exits, and starts with default dispositions for the usual termination signals.
Result<pid_t> spawn(const std::vector<std::string>& argv, int out_fd, int pass_fd = -1) {
  // Everything the child needs is prepared here: between fork and exec only async-signal-safe
  // calls are allowed (the process may have other threads).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const long max_fd = ::sysconf(_SC_OPEN_MAX);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) return io_error("open /dev/null");
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent is gone already
    ::dup2(null_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(out_fd, 2);
    int first_closed = kPassedFd;
    if (pass_fd >= 0) {
      if (pass_fd == kPassedFd) {
        ::fcntl(kPassedFd, F_SETFD, 0);
      } else {
        ::dup2(pass_fd, kPassedFd);  // dup2 clears close-on-exec on the copy
      }
      first_closed = kPassedFd + 1;
    }
    if (::syscall(SYS_close_range, first_closed, ~0U, 0) != 0) {
      for (long fd = first_closed; fd < max_fd; ++fd) ::close(static_cast<int>(fd));
    }
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) ::signal(sig, SIG_DFL);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int saved = errno;
  ::close(null_fd);
  if (pid < 0) {
    errno = saved;
    return io_error("fork " + argv[0]);
  }
  return pid;
}

// spawn() with stdout and stderr appended to the (emptied) file `log_path`.
Result<pid_t> spawn_logged(const std::vector<std::string>& argv, const std::string& log_path,
                           int pass_fd = -1) {
  IRONROOT_ASSIGN_OR_RETURN(int log_fd, open_log(log_path));
  auto pid = spawn(argv, log_fd, pass_fd);
  ::close(log_fd);
  return pid;
}

// A listening TCP socket on 127.0.0.1:port (0: any free port), close-on-exec.
Result<int> listen_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return io_error("socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || ::listen(fd, 16) < 0) {
    Error e = io_error("bind 127.0.0.1:" + std::to_string(port));
    ::close(fd);
    return e;
  }
  return fd;
}

uint16_t local_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// Sends CMD_GET_CAPABILITY on swtpm's control channel and waits for the answer. swtpm serves its
// control channel only from its main loop, after the TPM port is bound and the TPM initialised,
// so an answer means the TPM is ready.
enum class Probe { kReady, kClosed, kTimeout };
Probe probe_control(uint16_t ctrl_port, Clock::time_point deadline) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Probe::kClosed;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(ctrl_port);
  Probe result = Probe::kClosed;
  const uint8_t request[4] = {0, 0, 0, static_cast<uint8_t>(kCmdGetCapability)};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, request, sizeof request, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof request)) {
    uint8_t response[8];
    size_t got = 0;
    while (got < sizeof response) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        result = Probe::kTimeout;
        break;
      }
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) {
        result = Probe::kTimeout;
        break;
      }
      ssize_t n = ::recv(fd, response + got, sizeof response - got, 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (got == sizeof response) result = Probe::kReady;
  }
  ::close(fd);
  return result;
}

// Starts swtpm_setup manufacturing a TPM in `state` (logs in `state`: swtpm_setup.log, .out).
Result<pid_t> start_setup(const std::string& state, const std::string& banks, const LocalCa* ca,
                          bool lock_nvram) {
  IRONROOT_ASSIGN_OR_RETURN(std::string setup, require_program("swtpm_setup"));
  const std::string log = state + "/swtpm_setup.log";
  IRONROOT_RETURN_IF_ERROR(write_text(log, ""));  // swtpm_setup appends
  std::vector<std::string> argv = {setup,         "--tpm2", "--tpmstate", state,
                                   "--pcr-banks", banks,    "--logfile",  log};
  if (lock_nvram) argv.push_back("--lock-nvram");
  if (ca != nullptr) {
    argv.insert(argv.end(),
                {"--create-ek-cert", "--create-platform-cert", "--config", ca->setup_config()});
  }
  return spawn_logged(argv, state + "/swtpm_setup.out");
}

// Waits for the swtpm_setup started by start_setup() (killing it after kSetupTimeout).
Status finish_setup(pid_t& pid, const std::string& state) {
  int status = 0;
  bool exited = wait_exit(pid, kSetupTimeout, &status);
  if (!exited) kill_and_reap(pid);
  pid = -1;
  if (!exited || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error(ErrorCode::kIo, std::string("swtpm_setup ") + (exited ? "failed" : "timed out") +
                                     " in " + state + ":\n" + log_tail(state + "/swtpm_setup.log") +
                                     log_tail(state + "/swtpm_setup.out", 500));
  }
  return {};
}

}  // namespace

bool swtpm_available() {
  static const bool available = !find_program("swtpm").empty() &&
                                !find_program("swtpm_setup").empty() &&
                                !find_program("swtpm_localca").empty();
  return available;
}

Result<std::string> run_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return invalid_argument("run_command: no program");
  std::vector<std::string> args = argv;
  if (args[0].find('/') == std::string::npos) {
    IRONROOT_ASSIGN_OR_RETURN(args[0], require_program(args[0]));
  }
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return io_error("pipe");
  auto pid = spawn(args, pipefd[1]);
  ::close(pipefd[1]);
  if (!pid) {
    ::close(pipefd[0]);
    return std::move(pid).error();
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  wait_exit(*pid, kForever, &status);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string how = WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                              : "signal " + std::to_string(WTERMSIG(status));
    return Error(ErrorCode::kIo, argv[0] + " failed (" + how +
                                     "): " + out.substr(out.size() > 600 ? out.size() - 600 : 0));
  }
  return out;
}

// --- LocalCa -----------------------------------------------------------------------------------

Result<LocalCa> LocalCa::create(const std::string& dir) {
  IRONROOT_ASSIGN_OR_RETURN(std::string abs, make_dir(dir));
  IRONROOT_ASSIGN_OR_RETURN(std::string localca, require_program("swtpm_localca"));
  LocalCa ca;
  ca.dir_ = abs;
  const std::string d = abs + "/";
  // swtpm-localca.conf(5): swtpm_localca creates the signing key, the issuer certificate and a
  // root CA (swtpm-localca-rootca-*.pem) in statedir on first use, under a lock in statedir.
  IRONROOT_RETURN_IF_ERROR(write_text(
      d + "swtpm-localca.conf", "statedir = " + abs + "\nsigningkey = " + d + "signkey.pem\n" +
                                    "issuercert = " + d + "issuercert.pem\ncertserial = " + d +
                                    "certserial\n"));
  // swtpm-localca.options: the platform certificate's attributes.
  IRONROOT_RETURN_IF_ERROR(write_text(
      d + "swtpm-localca.options",
      "--platform-manufacturer ironroot\n--platform-version 2.1\n--platform-model swtpm\n"));
  // swtpm_setup.conf(5).
  ca.setup_config_ = d + "swtpm_setup.conf";
  IRONROOT_RETURN_IF_ERROR(write_text(
      ca.setup_config_, "create_certs_tool = " + localca + "\ncreate_certs_tool_config = " + d +
                            "swtpm-localca.conf\ncreate_certs_tool_options = " + d +
                            "swtpm-localca.options\n"));
  // swtpm_localca makes its CA on first use; make one TPM now so the CA files exist before a
  // verifier is told to trust them.
  if (!file_exists(d + "issuercert.pem") || !file_exists(ca.root_file())) {
    const std::string scratch = d + "first-tpm";
    std::error_code ec;
    fs::remove_all(scratch, ec);
    if (::mkdir(scratch.c_str(), 0700) != 0) return io_error("mkdir " + scratch);
    auto pid = start_setup(scratch, "sha256", &ca, /*lock_nvram=*/false);
    Status made = pid ? finish_setup(*pid, scratch) : Status(std::move(pid).error());
    fs::remove_all(scratch, ec);
    if (!made) return std::move(made).error().with_context("creating the local EK CA in " + abs);
  }
  const std::string issuer = read_text(d + "issuercert.pem");
  const std::string root = read_text(ca.root_file());
  if (issuer.empty() || root.empty()) {
    return Error(ErrorCode::kNotFound, "swtpm_localca left no issuercert.pem / root in " + abs);
  }
  const std::string tmp = ca.chain_file() + ".tmp";
  IRONROOT_RETURN_IF_ERROR(write_text(tmp, issuer + root));
  std::error_code ec;
  fs::rename(tmp, ca.chain_file(), ec);
  if (ec) return Error(ErrorCode::kIo, ca.chain_file() + ": " + ec.message());
  return ca;
}

Result<const LocalCa*> LocalCa::process_default() {
  // Removes the CA's directory at exit, in the process that made it (not in forked children).
  struct Holder {
    std::mutex mu;
    std::optional<LocalCa> ca;
    pid_t owner = -1;
    ~Holder() {
      std::error_code ec;
      if (ca && ::getpid() == owner) fs::remove_all(ca->dir(), ec);
    }
  };
  static Holder holder;
  std::lock_guard<std::mutex> lock(holder.mu);
  if (holder.ca) return &*holder.ca;
  IRONROOT_ASSIGN_OR_RETURN(std::string dir, make_temp_dir("ironroot-swtpm-ca-"));
  auto ca = create(dir);
  if (!ca) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    return std::move(ca).error();
  }
  holder.ca = std::move(*ca);
  holder.owner = ::getpid();
  return &*holder.ca;
}

std::vector<std::string> LocalCa::ca_files() const {
  return {root_file(), dir_ + "/issuercert.pem"};
}

std::string LocalCa::root_file() const {
  return dir_ + "/swtpm-localca-rootca-cert.pem";
}

std::string LocalCa::chain_file() const {
  return dir_ + "/ca-chain.pem";
}

// --- Swtpm -------------------------------------------------------------------------------------

Result<std::unique_ptr<Swtpm>> Swtpm::start(const SwtpmOptions& options) {
  IRONROOT_ASSIGN_OR_RETURN(auto all, start_many(std::span<const SwtpmOptions>(&options, 1)));
  return std::move(all[0]);
}

Result<std::vector<std::unique_ptr<Swtpm>>> Swtpm::start_many(
    std::span<const SwtpmOptions> options) {
  // On any error `all` is destroyed: the destructors kill and reap what was started, and remove
  // the temporary directories.
  std::vector<std::unique_ptr<Swtpm>> all;
  for (const SwtpmOptions& o : options) {
    std::unique_ptr<Swtpm> s(new Swtpm());
    if (o.state_dir.empty()) {
      IRONROOT_ASSIGN_OR_RETURN(s->dir_, make_temp_dir("ironroot-swtpm-"));
      s->owns_dir_ = true;
    } else {
      IRONROOT_ASSIGN_OR_RETURN(s->dir_, make_dir(o.state_dir));
    }
    s->banks_ = o.banks;
    s->startup_clear_ = o.startup_clear;
    all.push_back(std::move(s));
    IRONROOT_RETURN_IF_ERROR(all.back()->spawn_setup(o.ca));
  }
  for (auto& s : all) IRONROOT_RETURN_IF_ERROR(s->wait_setup());
  for (auto& s : all) IRONROOT_RETURN_IF_ERROR(s->launch());
  return all;
}

Status Swtpm::spawn_setup(const LocalCa* ca) {
  if (file_exists(dir_ + kPermanentState)) return {};  // manufactured before
  IRONROOT_ASSIGN_OR_RETURN(setup_pid_, start_setup(dir_, banks_, ca, /*lock_nvram=*/true));
  return {};
}

Status Swtpm::wait_setup() {
  if (setup_pid_ <= 0) return {};
  return finish_setup(setup_pid_, dir_);
}

Status Swtpm::launch() {
  IRONROOT_ASSIGN_OR_RETURN(std::string swtpm, require_program("swtpm"));
  const std::string log = dir_ + "/swtpm.log";
  const std::string out = dir_ + "/swtpm.out";
  std::string last_error;
  // The tss2 swtpm TCTI wants the control channel on the TPM port + 1. The control socket is
  // bound here and handed to swtpm (no race for it); the port below it is checked free here and
  // bound by swtpm, which exits if it loses that race: then try other ports. A restart keeps
  // the ports it had.
  const bool keep_ports = port_ != 0;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    IRONROOT_ASSIGN_OR_RETURN(int ctrl_fd,
                              listen_loopback(keep_ports ? static_cast<uint16_t>(port_ + 1) : 0));
    const uint16_t ctrl_port = local_port(ctrl_fd);
    const auto tpm_port = static_cast<uint16_t>(ctrl_port - 1);
    if (!keep_ports) {
      if (ctrl_port <= 1024) {
        ::close(ctrl_fd);
        continue;
      }
      auto probe = listen_loopback(tpm_port);
      if (!probe) {
        ::close(ctrl_fd);
        last_error = probe.error().message();
        continue;
      }
      ::close(*probe);
    }
    const std::string flags = startup_clear_ ? "not-need-init,startup-clear" : "not-need-init";
    auto pid = spawn_logged({swtpm, "socket", "--tpm2", "--tpmstate", "dir=" + dir_, "--server",
                             "type=tcp,bindaddr=127.0.0.1,port=" + std::to_string(tpm_port),
                             "--ctrl", "type=tcp,fd=" + std::to_string(kPassedFd), "--flags", flags,
                             "--log", "file=" + log + ",truncate"},
                            out, ctrl_fd);
    ::close(ctrl_fd);  // swtpm has its own copy; once it exits, connections are refused
    if (!pid) return std::move(pid).error();

    const auto deadline = Clock::now() + kReadyTimeout;
    for (;;) {
      Probe p = probe_control(ctrl_port, deadline);
      if (p == Probe::kReady) {
        pid_ = *pid;
        port_ = tpm_port;
        return {};
      }
      int status = 0;
      // The probe failed: swtpm closed the channel, so it exited (bind lost, bad state) or is
      // exiting; or the deadline passed. Wait on the process, not on a clock.
      bool exited =
          wait_exit(*pid, p == Probe::kTimeout ? milliseconds(0) : milliseconds(20), &status);
      if (exited) {
        last_error = "swtpm exited:\n" + log_tail(log) + log_tail(out, 500);
        // Only a lost race for the TPM port ("Could not open TCP socket: Address already in
        // use") is worth another try on other ports.
        if (last_error.find("in use") == std::string::npos) {
          return Error(ErrorCode::kIo, last_error);
        }
        break;
      }
      if (p == Probe::kTimeout || Clock::now() >= deadline) {
        kill_and_reap(*pid);
        return Error(ErrorCode::kIo, "swtpm did not answer on port " + std::to_string(ctrl_port) +
                                         ":\n" + log_tail(log));
      }
    }
    if (keep_ports) break;  // a restart cannot move to other ports
  }
  return Error(ErrorCode::kIo, "cannot start swtpm: " + last_error);
}

std::string Swtpm::tcti() const {
  return "swtpm:host=127.0.0.1,port=" + std::to_string(port_);
}

Status Swtpm::restart() {
  kill_now();
  return launch();
}

void Swtpm::kill_now() {
  kill_and_reap(pid_);
}

void Swtpm::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  if (wait_exit(pid_, kStopGrace, &status)) {
    pid_ = -1;
  } else {
    kill_now();
  }
}

Swtpm::~Swtpm() {
  stop();
  kill_and_reap(setup_pid_);
  if (owns_dir_) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

}  // namespace ironroot::sim
