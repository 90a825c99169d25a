#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "core/text.h"

namespace ironroot::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<bool> g_json{isatty(STDERR_FILENO) == 0};
std::mutex g_mu;

const char* name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

void json_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : printable(s)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

}  // namespace

void set_level(Level level) {
  g_level = static_cast<int>(level);
}
void set_format(const std::string& format) {
  g_json = format == "json";
}

void write(Level level, const std::string& message, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[96];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  std::string line;
  if (g_json) {
    line = "{\"ts\":\"" + std::string(ts) + "\",\"level\":\"" + name(level) + "\",\"msg\":";
    json_string(line, message);
    for (const auto& [k, v] : fields) {
      line += ",";
      json_string(line, k);
      line += ":";
      json_string(line, v);
    }
    line += "}\n";
  } else {
    line = std::string(ts) + " " + name(level) + " " + printable(message);
    for (const auto& [k, v] : fields) line += " " + k + "=" + printable(v);
    line += "\n";
  }
  std::lock_guard lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace ironroot::log
