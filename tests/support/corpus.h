// Test support: locating ../shared/corpus and running peer tools.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ironroot::testing {

// The corpus directory, or "" when it is not beside the checkout (tests then skip).
inline std::string corpus_dir() {
  if (const char* env = std::getenv("IRONROOT_CORPUS")) {
    if (std::filesystem::is_directory(env)) return env;
  }
  if (std::filesystem::is_directory(IRONROOT_CORPUS_DIR)) return IRONROOT_CORPUS_DIR;
  return "";
}

#define IRONROOT_REQUIRE_CORPUS(dir)                         \
  const std::string dir = ::ironroot::testing::corpus_dir(); \
  if (dir.empty()) GTEST_SKIP() << "no corpus at " IRONROOT_CORPUS_DIR

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CommandResult {
  int status = -1;  // exit status, or -1 when killed by a signal
  std::string out;
};

// Runs `command` through the shell, capturing stdout (stderr is discarded).
inline CommandResult run(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline bool have_program(const std::string& name) {
  return run("command -v " + name).status == 0;
}

}  // namespace ironroot::testing
