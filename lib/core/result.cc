#include "core/result.h"

namespace ironroot {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kMalformed: return "malformed";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kResourceLimit: return "resource_limit";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

}  // namespace ironroot
