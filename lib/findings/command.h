// ironroot findings: run a program without a shell, feed it stdin, and bound it in time.
//
//   auto r = run_command({.argv = {"/usr/bin/logger", "-t", "ironroot"}, .input = json});
//   if (r && r->exit_code == 0) ...
//
// The child gets its own process group (a timeout kills the whole group, grandchildren too), a
// default signal mask and dispositions, only fds 0-2 (stdout and stderr go to a pipe whose first
// bytes are kept), and exactly the environment given.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "core/result.h"

namespace ironroot::findings {

struct CommandSpec {
  std::vector<std::string> argv;  // argv[0]: the program's path (no PATH search)
  std::vector<std::string> env;   // "NAME=value"
  std::string input;              // written to stdin, which is then closed
  std::chrono::milliseconds timeout{10000};
  size_t max_output = 4096;  // bytes of stdout+stderr kept
};

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the signal that ended it, if any
  bool timed_out = false;
  bool cancelled = false;
  std::string output;                             // first max_output bytes of stdout and stderr
  std::chrono::steady_clock::time_point started;  // when the program was started
  std::chrono::microseconds elapsed{0};

  // "exit status 3", "killed by signal 9 after the 2000 ms timeout", ...
  std::string describe() const;
};

// Runs the program to completion, timeout or cancellation (`cancel` set by another thread is
// noticed within 50 ms). An Error means it could not be started.
Result<CommandResult> run_command(const CommandSpec& spec,
                                  const std::atomic<bool>* cancel = nullptr);

}  // namespace ironroot::findings
