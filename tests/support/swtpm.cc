// Test support: swtpm processes. See swtpm.h.
#include "support/swtpm.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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
#include <sstream>

namespace ironroot::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kSetupTimeout = std::chrono::seconds(60);
constexpr auto kReadyTimeout = std::chrono::seconds(15);
constexpr int kPortAttempts = 20;
// swtpm control channel (swtpm's tpm_ioctl.h): CMD_GET_CAPABILITY = 1, answered with
// {u32 result, u32 capability bits}, big-endian.
constexpr uint32_t kCmdGetCapability = 1;

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

Status write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Error(ErrorCode::kIo, "cannot write " + path);
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
  return text.empty() ? "(empty log " + path + ")" : text;
}

// Waits for `pid` to exit for at most `timeout` (forever when negative) and reaps it.
// Returns true when it exited (wait status in *status).
bool wait_exit(pid_t pid, std::chrono::milliseconds timeout, int* status) {
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

// The file descriptor a spawned child receives `pass_fd` as.
constexpr int kPassedFd = 3;

// Starts `argv[0]` (an absolute path) with stdout+stderr appended to `log_path` and stdin from
// /dev/null. The child inherits no other descriptor of ours, except `pass_fd` (if >= 0) as
// descriptor 3: tss2 opens TCTI sockets and /dev/tpmrm0 without close-on-exec, and an inherited
// one would stay open in the wrong process (a swtpm serves one connection at a time; a resource
// manager keeps a connection's objects loaded). The child gets SIGKILL when the calling thread
// exits.
Result<pid_t> spawn(const std::vector<std::string>& argv, const std::string& log_path,
                    int pass_fd = -1) {
  // Everything the child needs is prepared here: between fork and exec only async-signal-safe
  // calls are allowed (the test process may have other threads).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const long max_fd = ::sysconf(_SC_OPEN_MAX);
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return io_error("open " + log_path);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    ::close(log_fd);
    return io_error("open /dev/null");
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
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
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int saved = errno;
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) {
    errno = saved;
    return io_error("fork " + argv[0]);
  }
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
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
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

// The test process's local CA: swtpm_localca's configuration and, after the first swtpm_setup,
// its keys and certificates. Removed at process exit by the process that made it.
class LocalCa {
 public:
  static Result<LocalCa*> get() {
    static LocalCa ca;
    std::lock_guard<std::mutex> lock(ca.mu_);
    if (ca.dir_.empty()) IRONROOT_RETURN_IF_ERROR(ca.create());
    return &ca;
  }

  ~LocalCa() {
    std::error_code ec;
    if (!dir_.empty() && ::getpid() == owner_) fs::remove_all(dir_, ec);
  }

  std::string setup_conf() const { return dir_ + "/swtpm_setup.conf"; }
  std::string chain_path() const { return dir_ + "/ca-chain.pem"; }
  std::string root_path() const { return dir_ + "/swtpm-localca-rootca-cert.pem"; }

  // After a successful swtpm_setup the CA exists: writes the chain file (issuer, then root) once.
  Status write_chain() {
    std::lock_guard<std::mutex> lock(mu_);
    if (fs::exists(chain_path())) return {};
    std::string issuer = read_text(dir_ + "/issuercert.pem");
    std::string root = read_text(root_path());
    if (issuer.empty() || root.empty()) {
      return Error(ErrorCode::kNotFound, "swtpm_localca left no issuercert.pem / root in " + dir_);
    }
    std::string tmp = chain_path() + ".tmp";
    IRONROOT_RETURN_IF_ERROR(write_text(tmp, issuer + root));
    fs::rename(tmp, chain_path());
    return {};
  }

 private:
  Status create() {
    std::string localca = find_program("swtpm_localca");
    if (localca.empty()) return Error(ErrorCode::kNotFound, "swtpm_localca not on PATH");
    IRONROOT_ASSIGN_OR_RETURN(std::string dir, make_temp_dir("ironroot-swtpm-ca-"));
    // swtpm-localca.conf(5): swtpm_localca creates the signing key, the issuer certificate and a
    // root CA (swtpm-localca-rootca-*.pem) in statedir on first use, under a lock in statedir.
    IRONROOT_RETURN_IF_ERROR(write_text(
        dir + "/swtpm-localca.conf", "statedir = " + dir + "\nsigningkey = " + dir +
                                         "/signkey.pem\nissuercert = " + dir +
                                         "/issuercert.pem\ncertserial = " + dir + "/certserial\n"));
    // swtpm-localca.options: the platform certificate's attributes.
    IRONROOT_RETURN_IF_ERROR(write_text(dir + "/swtpm-localca.options",
                                        "--platform-manufacturer ironroot\n"
                                        "--platform-version 2.1\n"
                                        "--platform-model swtpm\n"));
    // swtpm_setup.conf(5). --pcr-banks on the command line overrides active_pcr_banks.
    IRONROOT_RETURN_IF_ERROR(write_text(
        dir + "/swtpm_setup.conf", "create_certs_tool = " + localca +
                                       "\ncreate_certs_tool_config = " + dir +
                                       "/swtpm-localca.conf\ncreate_certs_tool_options = " + dir +
                                       "/swtpm-localca.options\n"
                                       "active_pcr_banks = sha256\n"));
    dir_ = dir;
    owner_ = ::getpid();
    return {};
  }

  std::mutex mu_;
  std::string dir_;
  pid_t owner_ = -1;
};

}  // namespace

bool swtpm_available() {
  static const bool available = !find_program("swtpm").empty() &&
                                !find_program("swtpm_setup").empty() &&
                                !find_program("swtpm_localca").empty();
  return available;
}

Swtpm::Swtpm(std::string dir, SwtpmOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {}

Swtpm::~Swtpm() {
  stop();
  if (setup_pid_ > 0) {
    ::kill(setup_pid_, SIGKILL);
    int status = 0;
    wait_exit(setup_pid_, std::chrono::milliseconds(-1), &status);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string Swtpm::tcti() const {
  return "swtpm:host=127.0.0.1,port=" + std::to_string(port_);
}

std::string Swtpm::ca_cert_pem_path() const {
  auto ca = LocalCa::get();
  return ca ? (*ca)->chain_path() : "";
}

std::string Swtpm::root_cert_pem_path() const {
  auto ca = LocalCa::get();
  return ca ? (*ca)->root_path() : "";
}

Result<std::unique_ptr<Swtpm>> Swtpm::start(const SwtpmOptions& options) {
  IRONROOT_ASSIGN_OR_RETURN(auto all, start_many(1, options));
  return std::move(all[0]);
}

Result<std::vector<std::unique_ptr<Swtpm>>> Swtpm::start_many(size_t count,
                                                              const SwtpmOptions& options) {
  if (!swtpm_available()) return Error(ErrorCode::kNotFound, "swtpm is not installed");
  std::vector<std::unique_ptr<Swtpm>> all;
  for (size_t i = 0; i < count; ++i) {
    IRONROOT_ASSIGN_OR_RETURN(std::string dir, make_temp_dir("ironroot-swtpm-"));
    all.push_back(std::unique_ptr<Swtpm>(new Swtpm(std::move(dir), options)));
    IRONROOT_RETURN_IF_ERROR(all.back()->spawn_setup());
  }
  for (auto& s : all) IRONROOT_RETURN_IF_ERROR(s->wait_setup());
  for (auto& s : all) IRONROOT_RETURN_IF_ERROR(s->launch());
  return all;
}

Status Swtpm::spawn_setup() {
  IRONROOT_ASSIGN_OR_RETURN(LocalCa * ca, LocalCa::get());
  std::string state = dir_ + "/state";
  if (::mkdir(state.c_str(), 0700) != 0) return io_error("mkdir " + state);
  IRONROOT_ASSIGN_OR_RETURN(
      setup_pid_,
      spawn({find_program("swtpm_setup"), "--tpm2", "--tpmstate", state, "--create-ek-cert",
             "--create-platform-cert", "--lock-nvram", "--pcr-banks", options_.pcr_banks,
             "--config", ca->setup_conf(), "--logfile", dir_ + "/setup.log"},
            dir_ + "/setup.out"));
  return {};
}

Status Swtpm::wait_setup() {
  int status = 0;
  bool exited = wait_exit(setup_pid_, kSetupTimeout, &status);
  if (!exited) {
    ::kill(setup_pid_, SIGKILL);
    wait_exit(setup_pid_, std::chrono::milliseconds(-1), &status);
  }
  setup_pid_ = -1;
  if (!exited || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error(ErrorCode::kInternal,
                 std::string("swtpm_setup ") + (exited ? "failed" : "timed out") + ":\n" +
                     log_tail(dir_ + "/setup.log") + log_tail(dir_ + "/setup.out", 500));
  }
  IRONROOT_ASSIGN_OR_RETURN(LocalCa * ca, LocalCa::get());
  return ca->write_chain();
}

Status Swtpm::launch() {
  const std::string swtpm = find_program("swtpm");
  std::string last_error;
  // The tss2 swtpm TCTI wants the control channel on the TPM port + 1. The control socket is
  // bound here and handed to swtpm (no race for it); the port below it is checked free here and
  // bound by swtpm, which exits if it loses that race: then try other ports. A restart keeps
  // the ports it had.
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    const bool keep_ports = port_ != 0;
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
    std::string flags = options_.startup_clear ? "not-need-init,startup-clear" : "not-need-init";
    auto pid = spawn({swtpm, "socket", "--tpm2", "--tpmstate", "dir=" + dir_ + "/state", "--server",
                      "type=tcp,bindaddr=127.0.0.1,port=" + std::to_string(tpm_port), "--ctrl",
                      "type=tcp,fd=" + std::to_string(kPassedFd), "--flags", flags, "--log",
                      "file=" + dir_ + "/swtpm.log"},
                     dir_ + "/swtpm.out", ctrl_fd);
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
      // The probe failed: either swtpm exited (bind lost, bad state), or it is still starting.
      // Wait on the process rather than sleeping: back within 20 ms unless it exits.
      bool exited = wait_exit(
          *pid, p == Probe::kTimeout ? std::chrono::milliseconds(0) : std::chrono::milliseconds(20),
          &status);
      if (exited) {
        last_error =
            "swtpm exited:\n" + log_tail(dir_ + "/swtpm.log") + log_tail(dir_ + "/swtpm.out", 500);
        // Only a lost race for the TPM port ("Could not open TCP socket: Address already in
        // use") is worth another try on other ports.
        if (last_error.find("in use") == std::string::npos) {
          return Error(ErrorCode::kInternal, last_error);
        }
        break;
      }
      if (p == Probe::kTimeout || Clock::now() >= deadline) {
        ::kill(*pid, SIGKILL);
        wait_exit(*pid, std::chrono::milliseconds(-1), &status);
        return Error(ErrorCode::kInternal, "swtpm did not answer on port " +
                                               std::to_string(ctrl_port) + ":\n" +
                                               log_tail(dir_ + "/swtpm.log"));
      }
    }
    if (keep_ports) break;  // a restart cannot move to other ports
  }
  return Error(ErrorCode::kInternal, "cannot start swtpm: " + last_error);
}

Status Swtpm::restart() {
  stop();
  return launch();
}

void Swtpm::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  wait_exit(pid_, std::chrono::milliseconds(-1), &status);
  pid_ = -1;
}

}  // namespace ironroot::testing
