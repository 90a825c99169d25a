#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "findings/sink.h"

namespace ironroot::findings {
namespace {

using Clock = std::chrono::steady_clock;

class JsonLinesSink final : public Sink {
 public:
  JsonLinesSink(JsonLinesConfig config, int fd) : config_(std::move(config)), fd_(fd) {}
  ~JsonLinesSink() override {
    if (fd_ >= 0) {
      if (config_.fsync != FsyncPolicy::kNever && dirty_) ::fsync(fd_);
      ::close(fd_);
    }
  }
  JsonLinesSink(const JsonLinesSink&) = delete;
  JsonLinesSink& operator=(const JsonLinesSink&) = delete;

  Attempt deliver(const Delivery& d) override {
    if (fd_ < 0) {
      fd_ = ::open(config_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
      if (fd_ < 0) return {AttemptResult::kRetryable, config_.path + ": " + std::strerror(errno)};
    }
    std::string line = d.body;
    line += '\n';
    // One write per line: with O_APPEND, concurrent writers (other processes) never interleave
    // inside a line on a local file system.
    size_t done = 0;
    while (done < line.size()) {
      const ssize_t w = ::write(fd_, line.data() + done, line.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        const std::string why = config_.path + ": write: " + std::strerror(errno);
        ::close(fd_);
        fd_ = -1;  // reopened on the next attempt
        return {AttemptResult::kRetryable, why};
      }
      done += static_cast<size_t>(w);
    }
    dirty_ = true;
    const auto now = Clock::now();
    if (config_.fsync == FsyncPolicy::kAlways ||
        (config_.fsync == FsyncPolicy::kInterval && now - last_sync_ >= config_.fsync_interval)) {
      if (::fdatasync(fd_) != 0)
        return {AttemptResult::kRetryable, config_.path + ": fdatasync: " + std::strerror(errno)};
      last_sync_ = now;
      dirty_ = false;
    }
    return {AttemptResult::kDelivered, config_.path};
  }

 private:
  JsonLinesConfig config_;
  int fd_ = -1;
  bool dirty_ = false;
  Clock::time_point last_sync_ = Clock::now();
};

}  // namespace

Result<SinkPtr> make_jsonl_sink(JsonLinesConfig config) {
  if (config.path.empty()) return invalid_argument("path is empty");
  const int fd = ::open(config.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0)
    return Error(ErrorCode::kIo, "cannot open " + config.path + ": " + std::strerror(errno));
  return SinkPtr(std::make_unique<JsonLinesSink>(std::move(config), fd));
}

}  // namespace ironroot::findings
