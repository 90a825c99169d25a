// The ironroot command: each subcommand family registers itself on the CLI11 app.
//
// Exit codes, the same for every subcommand:
//   0  done, and whatever was verified matched
//   1  done, but verification found a problem (digest mismatch, PCR mismatch, ...)
//   2  could not do it: bad usage, unreadable or malformed input
#pragma once

namespace CLI {
class App;
}

namespace ironroot::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitVerifyFailed = 1;
inline constexpr int kExitError = 2;

// Each adds its subcommands to `app`; the chosen command stores its exit code in `*exit_code`.
void add_eventlog_commands(CLI::App& app, int* exit_code);
void add_ima_commands(CLI::App& app, int* exit_code);
void add_demo_command(CLI::App& app, int* exit_code);
// verifier, agent, hosts, policy.
void add_verifier_commands(CLI::App& app, int* exit_code);
// policy create | check (offline, on files): added to the `policy` command made above.
void add_policy_file_commands(CLI::App& policy, int* exit_code);
// result verify: checks a signed attestation result (EAR) offline.
void add_result_commands(CLI::App& app, int* exit_code);
// posture, report sovereignty.
void add_posture_commands(CLI::App& app, int* exit_code);
// sensor.
void add_sensor_commands(CLI::App& app, int* exit_code);
// log verify | consistency | checkpoint: the audit log, checked by anyone with its public key.
void add_log_commands(CLI::App& app, int* exit_code);
// bench detect: drift-to-remediation latency, end to end.
void add_bench_commands(CLI::App& app, int* exit_code);

}  // namespace ironroot::cli
