// ironroot findings: helpers shared by the .cc files of this library; not part of its API.
#pragma once

#include <string>

#include "core/file.h"
#include "core/result.h"

namespace ironroot::findings::internal {

// A whole (small) text file: certificates, secrets.
inline Result<std::string> read_text_file(const std::string& path, uint64_t max_bytes = 16 << 20) {
  IRONROOT_ASSIGN_OR_RETURN(FileContents f, FileContents::open(path, max_bytes));
  const Bytes b = f.bytes();
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace ironroot::findings::internal
