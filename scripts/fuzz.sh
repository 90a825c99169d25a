#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS (default 45) with seeds from ../shared/corpus.
# Seeds are copied to a temporary directory: the corpus itself is read-only and never copied
# into the project. A crash leaves its input in build/fuzz/artifacts and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-45}
corpus=${IRONROOT_CORPUS:-$(cd .. && pwd)/shared/corpus}
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$seeds/eventlog" "$seeds/ima" "$seeds/uefi" "$seeds/tpm2" "$seeds/audit" "$seeds/policy" \
  "$seeds/ear" "$seeds/posture" "$seeds/sensor" "$seeds/findings" build/fuzz/artifacts
# The findings configuration has no corpus files: the documented example is the seed.
cat > "$seeds/findings/example.json" <<'JSON'
{"sinks": [{"type": "jsonl", "name": "file", "path": "findings.jsonl", "fsync": "interval",
            "fsync_interval_ms": 1000},
           {"type": "syslog", "name": "local", "socket": "/dev/log", "facility": "authpriv"},
           {"type": "webhook", "name": "siem", "url": "https://siem.example:8443/x",
            "secret": "s", "dedup_window_seconds": 300,
            "retry": {"max_attempts": 6, "initial_backoff_ms": 500}}],
 "remediation": {"actions": {"quarantine": {"type": "quarantine"}},
                 "rules": [{"kinds": ["untrusted_transition", "sensor_finding"],
                            "min_severity": "high", "actions": ["quarantine"]}]}}
JSON
if [ -d "$corpus" ]; then
  find "$corpus/eventlog" -type f ! -name '*.json' ! -name '*.yaml' ! -name '*.b64' ! -name '*.warn' \
    -exec cp {} "$seeds/eventlog/" \;
  find "$corpus/ima" -type f \( -name '*measurements*' -o -name '*.bin' -o -name 'ima-log-*' -o -name '*ima_log*' \) \
    -size -200k -exec cp {} "$seeds/ima/" \;
  find "$corpus/quote" "$corpus/ekcert/gce" -type f -size -100k -exec cp {} "$seeds/tpm2/" \;
  find "$corpus/policy" "$corpus/ima/keylime" -type f -size -200k -exec cp {} "$seeds/policy/" \;
  find "$corpus/ear" -type f -size -100k -exec cp {} "$seeds/ear/" \;
  find "$corpus/platform" -type f -size -200k -exec cp {} "$seeds/posture/" \;
  find "$corpus/pcap" -type f -name '*.pcap' -size -200k -exec cp {} "$seeds/sensor/" \;
fi
status=0
for target in build/fuzz/fuzz/*_fuzz; do
  name=$(basename "$target" _fuzz)
  dir="$seeds/$name"
  mkdir -p "$dir"
  echo "fuzz: $name for ${seconds}s ($(ls "$dir" | wc -l) seeds)"
  if ! "$target" -max_total_time="$seconds" -max_len=100000 -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/"$name"- "$dir" \
      > "build/fuzz/$name.log" 2>&1; then
    echo "fuzz: $name FAILED; see build/fuzz/$name.log and build/fuzz/artifacts/" >&2
    tail -30 "build/fuzz/$name.log" >&2
    status=1
  else
    grep -E '^stat::number_of_executed_units' "build/fuzz/$name.log" | sed "s/^/fuzz: $name /"
  fi
done
exit $status
