// ironroot: a hardware-trust control plane. This is only the command-line front door; every
// subcommand lives in its own file and calls into the libraries under lib/.
#include <CLI/CLI.hpp>

#include "commands.h"

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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : ironroot::cli::kExitError;
  }
  return exit_code;
}
