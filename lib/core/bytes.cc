#include "core/bytes.h"

#include <cstdio>

namespace ironroot {

Error field_error(uint64_t offset, std::string_view field, const std::string& what) {
  char where[32];
  std::snprintf(where, sizeof where, "offset 0x%llx", static_cast<unsigned long long>(offset));
  std::string msg = where;
  if (!field.empty()) {
    msg += ": field ";
    msg += field;
  }
  msg += ": ";
  msg += what;
  return malformed(std::move(msg));
}

Error ByteReader::short_read(std::string_view field, uint64_t need) const {
  return field_error(file_offset(), field,
                     "needs " + std::to_string(need) + " bytes, " + std::to_string(remaining()) +
                         " left (truncated or wrong size)");
}

}  // namespace ironroot
