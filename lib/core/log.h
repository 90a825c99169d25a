// ironroot core: structured logs, one JSON object per line on stderr, safe to call from any
// thread. Never log secrets: nonces and credentials are logged by fingerprint only.
//
//   log::info("host state changed", {{"host", id}, {"state", "trusted"}});
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

namespace ironroot::log {

enum class Level { kDebug, kInfo, kWarn, kError };

using Field = std::pair<std::string, std::string>;

void set_level(Level level);
// "text" (default when stderr is a terminal) or "json".
void set_format(const std::string& format);
void write(Level level, const std::string& message, std::initializer_list<Field> fields = {});

inline void debug(const std::string& m, std::initializer_list<Field> f = {}) {
  write(Level::kDebug, m, f);
}
inline void info(const std::string& m, std::initializer_list<Field> f = {}) {
  write(Level::kInfo, m, f);
}
inline void warn(const std::string& m, std::initializer_list<Field> f = {}) {
  write(Level::kWarn, m, f);
}
inline void error(const std::string& m, std::initializer_list<Field> f = {}) {
  write(Level::kError, m, f);
}

}  // namespace ironroot::log
