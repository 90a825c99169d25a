// Placeholder: the subcommands land with their library.
#include "commands.h"

namespace ironroot::cli {

void add_log_commands(CLI::App& /*app*/, int* /*exit_code*/) {}

}  // namespace ironroot::cli
