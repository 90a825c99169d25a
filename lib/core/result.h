// ironroot core: one error type for the whole tree.
//
// A function that can fail returns Result<T>: either a value or an Error that says what went
// wrong and where (file, offset, field). A failed *appraisal* is not an Error: it is a result with
// reasons. An Error means ironroot could not decide.
//
//   Result<uint32_t> r = reader.u32le("EventSize");
//   if (!r) return r.error().with_context("event 12");
//   uint32_t size = *r;
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace ironroot {

enum class ErrorCode : uint8_t {
  kInvalidArgument,  // the caller asked for something that cannot be (bad flag, bad hex)
  kMalformed,        // the input is not what it claims to be (truncated, wrong size, bad count)
  kUnsupported,      // well-formed, but uses something ironroot does not handle
  kNotFound,         // a file or entry is absent
  kIo,               // the operating system refused (open, read, mmap)
  kResourceLimit,    // the input asks for more than the configured limit allows
  kInternal,         // a library call failed unexpectedly (OpenSSL, tss2)
};

const char* error_code_name(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with where the error happened ("file.bin: event 3: ...").
  Error&& with_context(const std::string& where) && {
    message_ = where + ": " + message_;
    return std::move(*this);
  }
  Error with_context(const std::string& where) const& {
    return Error(code_, where + ": " + message_);
  }

 private:
  ErrorCode code_;
  std::string message_;
};

inline Error malformed(std::string msg) {
  return Error(ErrorCode::kMalformed, std::move(msg));
}
inline Error invalid_argument(std::string msg) {
  return Error(ErrorCode::kInvalidArgument, std::move(msg));
}

// Value-or-error. Deliberately tiny: ok()/operator bool, value access, error access.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool ok_ = true;
};

}  // namespace ironroot

// Propagation helpers: evaluate, return the error upward if it failed.
#define IRONROOT_CONCAT_INNER(a, b) a##b
#define IRONROOT_CONCAT(a, b) IRONROOT_CONCAT_INNER(a, b)
#define IRONROOT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp) return std::move(tmp).error();             \
  lhs = std::move(tmp).value()
#define IRONROOT_ASSIGN_OR_RETURN(lhs, expr) \
  IRONROOT_ASSIGN_OR_RETURN_IMPL(IRONROOT_CONCAT(_ir_result_, __LINE__), lhs, expr)
#define IRONROOT_RETURN_IF_ERROR(expr)                     \
  do {                                                     \
    auto _ir_status = (expr);                              \
    if (!_ir_status) return std::move(_ir_status).error(); \
  } while (0)
