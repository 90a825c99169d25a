// ironroot: a hardware-trust control plane. This is only the command-line front door; every
// subcommand lives in its own file and calls into the libraries under lib/.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "commands.h"

namespace {

// `--config FILE`: the TOML file's keys become long options, inserted after the subcommand's
// name unless the command line already gives them (so flags win over the file).
std::vector<std::string> expand_config(int argc, char** argv, std::string* error) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string file;
  std::set<std::string> given;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) file = args[i + 1];
    if (args[i].rfind("--config=", 0) == 0) file = args[i].substr(9);
    if (args[i].rfind("--", 0) == 0) given.insert(args[i].substr(2, args[i].find('=') - 2));
  }
  if (file.empty()) return args;
  std::ifstream in(file);
  if (!in) {
    *error = "cannot read the configuration file " + file;
    return args;
  }
  std::vector<std::string> extra;
  try {
    for (const auto& item : CLI::ConfigTOML().from_config(in)) {
      if (item.name.empty() || item.name == "--" || given.count(item.name)) continue;
      if (item.inputs.size() == 1 && (item.inputs[0] == "true" || item.inputs[0] == "false")) {
        if (item.inputs[0] == "true") extra.push_back("--" + item.name);
        continue;
      }
      for (const auto& v : item.inputs) {
        extra.push_back("--" + item.name);
        extra.push_back(v);
      }
    }
  } catch (const std::exception& e) {
    *error = file + ": " + e.what();
    return args;
  }
  // After the first word (the subcommand), before the rest.
  args.insert(args.begin() + (args.empty() ? 0 : 1), extra.begin(), extra.end());
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ironroot: prove what every server runs from the firmware up.\n"
      "Offline readers work on files with no server: an event log or IMA list on a laptop."};
  app.set_version_flag("--version", "ironroot 0.1.0");
  app.require_subcommand(1);
  int exit_code = ironroot::cli::kExitOk;
  ironroot::cli::add_eventlog_commands(app, &exit_code);
  ironroot::cli::add_ima_commands(app, &exit_code);
  ironroot::cli::add_demo_command(app, &exit_code);
  ironroot::cli::add_verifier_commands(app, &exit_code);
  ironroot::cli::add_result_commands(app, &exit_code);
  ironroot::cli::add_posture_commands(app, &exit_code);
  ironroot::cli::add_sensor_commands(app, &exit_code);
  ironroot::cli::add_log_commands(app, &exit_code);
  ironroot::cli::add_bench_commands(app, &exit_code);
  std::string config_error;
  std::vector<std::string> args = expand_config(argc, argv, &config_error);
  if (!config_error.empty()) {
    std::fprintf(stderr, "ironroot: %s\n", config_error.c_str());
    return ironroot::cli::kExitError;
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments back to front
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : ironroot::cli::kExitError;
  } catch (const std::exception& e) {
    // A malformed answer from a server (a field of the wrong type) must not abort the process.
    std::fprintf(stderr, "ironroot: unexpected data: %s\n", e.what());
    return ironroot::cli::kExitError;
  }
  return exit_code;
}
