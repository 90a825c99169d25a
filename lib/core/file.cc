#include "core/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ironroot {
namespace {

Error io_error(const std::string& path, const char* what) {
  return Error(ErrorCode::kIo, path + ": " + what + ": " + std::strerror(errno));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Result<FileContents> FileContents::open(const std::string& path, uint64_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Error(ErrorCode::kNotFound, path + ": no such file");
    return io_error(path, "cannot open");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error(path, "cannot stat");
  if (S_ISDIR(st.st_mode)) return invalid_argument(path + ": is a directory, expected a file");

  FileContents out;
  out.path_ = path;
  if (S_ISREG(st.st_mode) && st.st_size > 0) {
    auto size = static_cast<uint64_t>(st.st_size);
    if (size > max_bytes) {
      return Error(ErrorCode::kResourceLimit, path + ": " + std::to_string(size) +
                                                  " bytes exceeds the input limit of " +
                                                  std::to_string(max_bytes));
    }
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (m != MAP_FAILED) {
      ::madvise(m, size, MADV_SEQUENTIAL);
      out.mapping_ = m;
      out.data_ = static_cast<const uint8_t*>(m);
      out.size_ = size;
      return out;
    }
  }
  // Pseudo-file, pipe or unmappable: read in chunks up to the limit.
  constexpr size_t kChunk = 1 << 16;
  for (;;) {
    size_t at = out.owned_.size();
    if (at >= max_bytes) {
      return Error(ErrorCode::kResourceLimit,
                   path + ": larger than the input limit of " + std::to_string(max_bytes));
    }
    out.owned_.resize(at + kChunk);
    ssize_t n = ::read(fd.get(), out.owned_.data() + at, kChunk);
    if (n < 0) {
      if (errno == EINTR) {
        out.owned_.resize(at);
        continue;
      }
      return io_error(path, "cannot read");
    }
    out.owned_.resize(at + static_cast<size_t>(n));
    if (n == 0) break;
  }
  out.data_ = out.owned_.data();
  out.size_ = out.owned_.size();
  return out;
}

FileContents::FileContents(FileContents&& other) noexcept {
  *this = std::move(other);
}

FileContents& FileContents::operator=(FileContents&& other) noexcept {
  if (this == &other) return *this;
  if (mapping_) ::munmap(mapping_, size_);
  path_ = std::move(other.path_);
  owned_ = std::move(other.owned_);
  mapping_ = other.mapping_;
  size_ = other.size_;
  data_ = mapping_ ? other.data_ : owned_.data();
  other.mapping_ = nullptr;
  other.data_ = nullptr;
  other.size_ = 0;
  return *this;
}

FileContents::~FileContents() {
  if (mapping_) ::munmap(mapping_, size_);
}

Status write_file(const std::string& path, Bytes data) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) return io_error(path, "cannot create");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(path, "cannot write");
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace ironroot
