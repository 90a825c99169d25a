// Placeholder: the subcommands land with their library.
#include "commands.h"

namespace ironroot::cli {

void add_policy_file_commands(CLI::App& /*policy*/, int* /*exit_code*/) {}

}  // namespace ironroot::cli
