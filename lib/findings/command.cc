#include "findings/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ironroot::findings {
namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

int pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

// Blocks SIGPIPE in this thread while writing to the child's stdin, so that a child that exits
// without reading gives EPIPE instead of killing the verifier; discards the pending signal after.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    if (saw_epipe && !sigismember(&old_, SIGPIPE)) {
      const struct timespec zero = {0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;
  bool saw_epipe = false;

 private:
  sigset_t pipe_;
  sigset_t old_;
};

}  // namespace

std::string CommandResult::describe() const {
  std::string s;
  if (timed_out)
    s = "killed after the timeout (" + std::to_string(elapsed.count() / 1000) + " ms)";
  else if (cancelled)
    s = "killed: cancelled";
  else if (signal != 0)
    s = "killed by signal " + std::to_string(signal);
  else
    s = "exit status " + std::to_string(exit_code);
  if (!output.empty()) {
    std::string first = output.substr(0, output.find('\n'));
    if (first.size() > 200) first.resize(200);
    s += ": " + first;
  }
  return s;
}

Result<CommandResult> run_command(const CommandSpec& spec, const std::atomic<bool>* cancel) {
  if (spec.argv.empty() || spec.argv[0].empty()) return invalid_argument("command: argv is empty");
  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0)
    return Error(ErrorCode::kIo, std::string("command: pipe: ") + std::strerror(errno));
  Fd in_read(in_pipe[0]), in_write(in_pipe[1]);
  if (::pipe2(out_pipe, O_CLOEXEC) != 0)
    return Error(ErrorCode::kIo, std::string("command: pipe: ") + std::strerror(errno));
  Fd out_read(out_pipe[0]), out_write(out_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_read.fd, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, out_write.fd, 2);
  // The verifier's sockets and files are not the hook's business.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2})
    sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(
      &attr,
      static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));

  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  CommandResult result;
  result.started = Clock::now();
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Error(rc == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                 "command: cannot start " + spec.argv[0] + ": " + std::strerror(rc));
  }
  in_read.reset();
  out_write.reset();
  ::fcntl(in_write.fd, F_SETFL, O_NONBLOCK);
  ::fcntl(out_read.fd, F_SETFL, O_NONBLOCK);
  Fd pidfd(pidfd_open(pid));

  SigpipeGuard sigpipe;
  const auto deadline = result.started + spec.timeout;
  size_t written = 0;
  if (spec.input.empty()) in_write.reset();
  bool exited = false;
  int status = 0;
  char buf[4096];

  auto reap = [&](bool block) {
    const pid_t w = ::waitpid(pid, &status, block ? 0 : WNOHANG);
    if (w == pid || (w < 0 && errno == ECHILD)) exited = true;
  };

  while (!exited) {
    const auto now = Clock::now();
    const bool cancelled = cancel != nullptr && cancel->load(std::memory_order_relaxed);
    if (now >= deadline || cancelled) {
      ::kill(-pid, SIGKILL);
      reap(true);
      result.timed_out = !cancelled;
      result.cancelled = cancelled;
      break;
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    if (cancel != nullptr && wait > 50) wait = 50;
    if (pidfd.fd < 0 && wait > 5) wait = 5;  // no pidfd (old kernel): poll waitpid

    pollfd fds[3];
    nfds_t n = 0;
    int in_idx = -1, out_idx = -1, pid_idx = -1;
    if (in_write.fd >= 0) {
      in_idx = static_cast<int>(n);
      fds[n++] = {in_write.fd, POLLOUT, 0};
    }
    if (out_read.fd >= 0) {
      out_idx = static_cast<int>(n);
      fds[n++] = {out_read.fd, POLLIN, 0};
    }
    if (pidfd.fd >= 0) {
      pid_idx = static_cast<int>(n);
      fds[n++] = {pidfd.fd, POLLIN, 0};
    }
    const int ready = ::poll(fds, n, static_cast<int>(wait));
    if (ready < 0 && errno != EINTR) {
      ::kill(-pid, SIGKILL);
      reap(true);
      break;
    }
    if (in_idx >= 0 && fds[in_idx].revents != 0) {
      const ssize_t w =
          ::write(in_write.fd, spec.input.data() + written, spec.input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno == EPIPE) sigpipe.saw_epipe = true;
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == spec.input.size())
        in_write.reset();
    }
    if (out_idx >= 0 && fds[out_idx].revents != 0) {
      const ssize_t r = ::read(out_read.fd, buf, sizeof buf);
      if (r > 0) {
        const size_t keep =
            std::min(static_cast<size_t>(r),
                     spec.max_output - std::min(spec.max_output, result.output.size()));
        result.output.append(buf, keep);
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        out_read.reset();
      }
    }
    if (pid_idx < 0 || fds[pid_idx].revents != 0) reap(false);
  }
  // Whatever the program wrote just before it exited.
  if (out_read.fd >= 0) {
    ssize_t r;
    while ((r = ::read(out_read.fd, buf, sizeof buf)) > 0) {
      const size_t room = spec.max_output - std::min(spec.max_output, result.output.size());
      result.output.append(buf, std::min(static_cast<size_t>(r), room));
    }
  }
  result.elapsed =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - result.started);
  if (WIFEXITED(status) && !result.timed_out && !result.cancelled) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace ironroot::findings
