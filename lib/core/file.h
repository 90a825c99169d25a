// ironroot core: reading whole input files without trusting their size.
//
// Regular files are memory-mapped; pseudo-files (securityfs reports size 0 for
// binary_bios_measurements) and pipes are read in chunks. Both stop at `max_bytes`.
//
//   IRONROOT_ASSIGN_OR_RETURN(FileContents f, FileContents::open(path));
//   parse(f.bytes());
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace ironroot {

inline constexpr uint64_t kDefaultMaxInputBytes = uint64_t{4} << 30;  // 4 GiB

class FileContents {
 public:
  static Result<FileContents> open(const std::string& path,
                                   uint64_t max_bytes = kDefaultMaxInputBytes);

  FileContents(FileContents&& other) noexcept;
  FileContents& operator=(FileContents&& other) noexcept;
  FileContents(const FileContents&) = delete;
  FileContents& operator=(const FileContents&) = delete;
  ~FileContents();

  Bytes bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

 private:
  FileContents() = default;

  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* mapping_ = nullptr;     // non-null when mmap'ed
  std::vector<uint8_t> owned_;  // used when the file could not be mapped
};

Status write_file(const std::string& path, Bytes data);

}  // namespace ironroot
