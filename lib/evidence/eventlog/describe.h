// ironroot evidence: what an event log says, as a JSON document for people and scripts.
//
// describe_event() decodes one record's payload by type (Spec ID, StartupLocality, UEFI
// variables with signature lists and X.509 subjects, boot options with device paths, image
// loads, GPT, strings, firmware blobs, handoff tables, tagged events) and reports whether its
// digest matches the payload. Anything it cannot decode is kept as hex with the reason, never
// dropped.
//
//   nlohmann::json doc = describe_log(bytes);   // {"format": ..., "events": [...], ...}
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "core/bytes.h"
#include "core/result.h"
#include "evidence/eventlog/eventlog.h"
#include "evidence/eventlog/replay.h"

namespace ironroot::evidence::eventlog {

// {"number", "offset", "pcr", "type", "type_name", "digests": [{"alg", "digest"}], "size",
//  "payload_check", "event": {decoded fields}}
nlohmann::json describe_event(const Event& ev, PayloadChecker& checker);

// The whole log: format, spec_id, events, replayed pcrs, digest mismatches and anomalies.
// Fails only when the log cannot be read at all; an error after some events is reported in
// the document's "error" member along with the events read before it.
Result<nlohmann::json> describe_log(Bytes log);

// {"sha256": {"0": "<hex>", ...}, ...} with only the PCRs that were extended.
nlohmann::json pcrs_json(const ReplayResult& r);

}  // namespace ironroot::evidence::eventlog
