// ironroot findings: the sinks and the remediation policy, from JSON.
//
//   {
//     "sinks": [
//       {"type": "webhook", "name": "siem", "url": "https://siem.example:8443/ironroot",
//        "secret_file": "/etc/ironroot/siem.key", "ca_file": "/etc/ironroot/siem-ca.pem",
//        "dedup_window_seconds": 300, "retry": {"max_attempts": 6, "initial_backoff_ms": 500}},
//       {"type": "exec", "name": "pager", "argv": ["/usr/local/bin/page-oncall"],
//        "timeout_ms": 10000, "min_severity": "high"},
//       {"type": "jsonl", "name": "file", "path": "/var/log/ironroot/findings.jsonl",
//        "fsync": "interval", "fsync_interval_ms": 1000},
//       {"type": "syslog", "name": "local", "socket": "/dev/log", "facility": "authpriv"}
//     ],
//     "remediation": {
//       "actions": {
//         "quarantine": {"type": "quarantine"},
//         "cordon": {"type": "exec", "argv": ["kubectl", "cordon", "{host_name}"]},
//         "netops": {"type": "webhook", "url": "https://netops.example/shut-port", "secret": "..."}
//       },
//       "rules": [{"kinds": ["untrusted_transition", "policy_violation"],
//                  "min_severity": "high", "actions": ["quarantine", "cordon"]}]
//     }
//   }
//
// Errors name the field: "sinks[1].argv[0]: 'kubectl' not found on PATH ...". Unknown keys are
// errors too (a typo must not silently disable a sink).
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "findings/dispatcher.h"

namespace ironroot::findings {

// Relative file names (secret_file, ca_file, ...) are resolved against `base_dir` when given.
Result<DispatcherConfig> parse_config(std::string_view json_text, const std::string& base_dir = "");
Result<DispatcherConfig> load_config(const std::string& path);

}  // namespace ironroot::findings
