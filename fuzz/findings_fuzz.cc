// Fuzz target: the findings configuration parser (sinks and remediation rules from JSON, as an
// operator or a configuration tool writes it), the sensor-finding reader (what
// POST /v1/sensor/findings receives) and the OCSF rendering of whatever text a host or sensor
// reported (any bytes, valid UTF-8 or not, must come out as valid JSON).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "findings/config.h"
#include "findings/finding.h"
#include "findings/sensor_finding.h"

namespace {

namespace fd = ironroot::findings;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // Relative file names resolve under a directory that does not exist: nothing is read.
  (void)fd::parse_config(text, "/nonexistent/ironroot-fuzz");

  // A sensor finding as POST /v1/sensor/findings receives it: whatever parses as JSON.
  auto posted = nlohmann::json::parse(text, nullptr, false);
  if (!posted.is_discarded()) {
    if (auto fields = fd::read_sensor_finding(posted)) {
      check(fields->score >= 0 && fields->score <= 100);
      check(fd::to_ocsf(fd::from_sensor_finding(*fields)).value("class_uid", 0) == 2004);
    }
  }

  (void)fd::kind_from_name(text);
  (void)fd::severity_from_name(text);

  fd::Finding f;
  f.kind = fd::Kind::kSensorFinding;
  f.host_id = std::string(text.substr(0, 64));
  f.title = std::string(text);
  f.message = std::string(text.substr(size / 2));
  f.evidence = {{"observed", std::string(text)}};
  std::string line = fd::to_ocsf_json(f);
  auto parsed = nlohmann::json::parse(line, nullptr, false);
  check(!parsed.is_discarded());
  check(parsed.value("class_uid", 0) == 2004);
  check(f.dedup_key() == f.dedup_key());
  return 0;
}
