// ironroot evidence: replaying an event log into PCR values, and checking that each event's
// digest is the hash of its own payload where the payload is what was measured.
//
//   IRONROOT_ASSIGN_OR_RETURN(ReplayResult r, replay(bytes, {.check_payloads = true}));
//   for (const PcrBank& bank : r.banks)
//     for (uint32_t pcr = 0; pcr < kNumPcrs; ++pcr)
//       if (bank.was_extended(pcr)) use(bank.alg, pcr, bank.pcrs[pcr]);
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "crypto/digest.h"
#include "evidence/eventlog/eventlog.h"

namespace ironroot::evidence::eventlog {

struct PcrBank {
  crypto::HashAlg alg = crypto::HashAlg::kSha256;
  std::array<crypto::Digest, kNumPcrs> pcrs{};
  uint32_t extended_mask = 0;

  bool was_extended(uint32_t pcr) const { return pcr < kNumPcrs && (extended_mask >> pcr) & 1; }
};

enum class PayloadCheck : uint8_t {
  kNotApplicable,  // the digest covers something outside the log (an image, a firmware volume)
  kMatch,          // every bank's digest equals the hash of the payload
  kMismatch,       // the payload was edited after it was measured, or the firmware lied
};
const char* payload_check_name(PayloadCheck c);

// Whether `ev`'s digests cover its own payload, and if so whether they match. Uses one hasher
// per bank from `hashers` (indexed like the log's banks), so it allocates nothing.
class PayloadChecker {
 public:
  PayloadChecker();
  PayloadCheck check(const Event& ev);
  // The algorithm of the first mismatching digest after check() returned kMismatch.
  uint16_t mismatch_alg() const { return mismatch_alg_; }

 private:
  bool matches(const EventDigest& d, Bytes data);
  crypto::Hasher* hasher_for(uint16_t alg_id);
  std::vector<crypto::Hasher> hashers_;
  std::vector<uint8_t> scratch_;
  uint16_t mismatch_alg_ = 0;
};

struct ReplayOptions {
  bool check_payloads = true;
  // Replay only these banks (empty: every bank the log carries). A verifier that checks a
  // SHA-256 quote need not pay for SHA-384, the costliest hash here (no SHA-NI for it).
  std::vector<crypto::HashAlg> banks;
};

struct DigestMismatch {
  uint32_t event = 0;
  uint64_t offset = 0;
  uint32_t pcr = 0;
  uint32_t type = 0;
  uint16_t alg_id = 0;
};

struct ReplayResult {
  LogFormat format = LogFormat::kSha1;
  uint32_t events = 0;           // records in the log, the first (Spec ID) one included
  uint8_t startup_locality = 0;  // PCR 0 started at 00..0<locality>
  bool hcrtm = false;            // an H-CRTM event set PCR 0 to 00..04
  std::vector<PcrBank> banks;    // one per hash algorithm the log carries and OpenSSL provides
  std::vector<DigestMismatch> digest_mismatches;  // filled when check_payloads
  std::vector<Anomaly> anomalies;
  uint64_t payloads_checked = 0;  // events whose payload is what was hashed
};

// Replays every bank: PCR[i] = H(PCR[i] || digest) per event, skipping EV_NO_ACTION, starting
// PCR 0 at the StartupLocality (PFP 10.4.5.3) or H-CRTM locality.
Result<ReplayResult> replay(Bytes log, const ReplayOptions& options = {});

}  // namespace ironroot::evidence::eventlog
