#include "agent/agent.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/file.h"
#include "core/hex.h"
#include "core/log.h"
#include "crypto/base64.h"
#include "crypto/pki.h"
#include "net/http.h"
#include "posture/posture.h"
#include "sensor/host_flows.h"
#include "tpmdev/tpm.h"

namespace ironroot::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Result<std::string> read_text(const std::string& path) {
  IRONROOT_ASSIGN_OR_RETURN(FileContents f, FileContents::open(path, uint64_t{1} << 30));
  return std::string(reinterpret_cast<const char*>(f.bytes().data()), f.bytes().size());
}

Status write_private(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Error(ErrorCode::kIo, tmp + ": cannot write");
    out << data;
  }
  ::chmod(tmp.c_str(), 0600);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Error(ErrorCode::kIo, path + ": " + ec.message());
  return {};
}

// The IMA list after its first `offset` lines (entries), or "" when the file is absent.
std::string ima_after(const std::string& text, uint64_t offset) {
  size_t pos = 0;
  for (uint64_t i = 0; i < offset && pos < text.size(); ++i) {
    size_t nl = text.find('\n', pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return text.substr(pos);
}

Result<json> parse_reply(const Result<net::Response>& r, const std::string& what, int expect) {
  if (!r) return r.error();
  auto j = json::parse(r->body, nullptr, false);
  if (r->status != expect) {
    std::string msg = j.is_object() && j.contains("error") ? j["error"].get<std::string>()
                                                           : r->body.substr(0, 200);
    return Error(
        r->status == 403 || r->status == 401 ? ErrorCode::kInvalidArgument : ErrorCode::kIo,
        what + ": verifier answered " + std::to_string(r->status) + ": " + msg);
  }
  if (j.is_discarded() || !j.is_object())
    return Error(ErrorCode::kMalformed, what + ": verifier sent no JSON object");
  return j;
}

class AgentImpl final : public Agent {
 public:
  explicit AgentImpl(AgentOptions o) : opts_(std::move(o)) {}
  // The recorder's thread writes into flow_events_, which is declared after it and so would be
  // destroyed first: stop the thread before any member goes.
  ~AgentImpl() override {
    if (recorder_) recorder_->stop();
  }

  Status init() {
    if (opts_.host_id.empty()) {
      char name[256] = {0};
      ::gethostname(name, sizeof name - 1);
      opts_.host_id = name;
    }
    IRONROOT_ASSIGN_OR_RETURN(auto url, net::parse_https_url(opts_.verifier_url));
    host_ = url.first;
    port_ = url.second;
    IRONROOT_ASSIGN_OR_RETURN(ca_pem_, read_text(opts_.verifier_ca_file));
    std::error_code ec;
    fs::create_directories(opts_.state_dir, ec);
    if (ec) return Error(ErrorCode::kIo, opts_.state_dir + ": " + ec.message());
    ::chmod(opts_.state_dir.c_str(), 0700);
    // Check the TPM answers now, so a wrong --tcti fails at start, not at the first round.
    IRONROOT_ASSIGN_OR_RETURN(auto tpm, open_tpm());
    return {};
  }

  // The TPM is opened for each round and closed after it, so that others (a resource manager's
  // other clients, a simulator that serves one connection at a time) can use it in between.
  Result<std::unique_ptr<tpmdev::Tpm>> open_tpm() {
    IRONROOT_ASSIGN_OR_RETURN(auto tpm, tpmdev::Tpm::open(opts_.tcti));
    if (opts_.tpm_startup) IRONROOT_RETURN_IF_ERROR(tpm->startup());
    return tpm;
  }

  std::string path(const char* name) const { return opts_.state_dir + "/" + name; }

  Status enroll() override {
    if (fs::exists(path("agent.pem")) && fs::exists(path("agent.key"))) {
      IRONROOT_ASSIGN_OR_RETURN(std::string cert, read_text(path("agent.pem")));
      auto cn = crypto::certificate_common_name(cert);
      if (cn && *cn == opts_.host_id) return connect_mtls();
    }
    log::info("enrolling", {{"host", opts_.host_id}, {"verifier", opts_.verifier_url}});
    IRONROOT_ASSIGN_OR_RETURN(auto tpm, open_tpm());
    json req{{"host_id", opts_.host_id}};
    auto cert = tpm->ek_certificate();
    if (cert) {
      req["ek_certificate"] = crypto::base64_encode(*cert);
    } else if (cert.error().code() != ErrorCode::kNotFound) {
      return std::move(cert).error();
    }
    IRONROOT_ASSIGN_OR_RETURN(auto ek, tpm->ek_public());
    IRONROOT_ASSIGN_OR_RETURN(auto ak, tpm->ak_public());
    req["ek_public"] = crypto::base64_encode(ek);
    req["ak_public"] = crypto::base64_encode(ak);
    IRONROOT_ASSIGN_OR_RETURN(std::string key, crypto::generate_key());
    IRONROOT_ASSIGN_OR_RETURN(std::string csr, crypto::make_csr(key, opts_.host_id));
    req["csr"] = csr;
    net::HttpsClient anon(host_, port_, {ca_pem_, "", "", ""});
    IRONROOT_ASSIGN_OR_RETURN(
        json started,
        parse_reply(anon.request("POST", "/v1/enrollments", req.dump()), "enrolment", 201));
    auto id_object = crypto::base64_decode(started.value("id_object", ""));
    auto secret_enc = crypto::base64_decode(started.value("encrypted_secret", ""));
    if (!id_object || !secret_enc)
      return malformed("enrolment: the verifier sent a malformed credential");
    IRONROOT_ASSIGN_OR_RETURN(auto secret, tpm->activate_credential(*id_object, *secret_enc));
    const std::string eid = started.value("enrollment_id", "");
    if (eid.empty() || eid.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return malformed("enrolment: the verifier sent a malformed enrolment id");
    }
    json act{{"secret", crypto::base64_encode(secret)}};
    IRONROOT_ASSIGN_OR_RETURN(
        json done,
        parse_reply(anon.request("POST", "/v1/enrollments/" + eid + "/activate", act.dump()),
                    "credential activation", 200));
    IRONROOT_RETURN_IF_ERROR(write_private(path("agent.key"), key));
    IRONROOT_RETURN_IF_ERROR(write_private(path("agent.pem"), done.value("certificate", "")));
    log::info("enrolled", {{"host", opts_.host_id}});
    return connect_mtls();
  }

  Status connect_mtls() {
    IRONROOT_ASSIGN_OR_RETURN(std::string cert, read_text(path("agent.pem")));
    IRONROOT_ASSIGN_OR_RETURN(std::string key, read_text(path("agent.key")));
    client_ = std::make_unique<net::HttpsClient>(host_, port_,
                                                 net::TlsClientConfig{ca_pem_, cert, key, ""});
    return {};
  }

  Result<AttestResult> attest_once() override {
    if (!client_) IRONROOT_RETURN_IF_ERROR(enroll());
    const std::string base = "/v1/hosts/" + opts_.host_id;
    const int64_t asked_ns = wall_ns();
    IRONROOT_ASSIGN_OR_RETURN(
        json ch,
        parse_reply(client_->request("POST", base + "/challenge", "{}"), "challenge", 200));
    if (opts_.host_flows && ch.contains("time_ns") && ch["time_ns"].is_number_integer()) {
      // The verifier's clock against ours, at the middle of the round trip.
      const int64_t offset = ch["time_ns"].get<int64_t>() - (asked_ns + wall_ns()) / 2;
      if (!recorder_) start_host_flows(offset);
    }
    auto nonce = crypto::base64_decode(ch.value("nonce", ""));
    if (!nonce || nonce->empty() || nonce->size() > 64) return malformed("challenge: bad nonce");
    auto bank = crypto::hash_alg_from_name(ch.value("bank", ""));
    if (!bank) return malformed("challenge: unknown bank");
    uint32_t mask = 0;
    if (!ch.contains("pcrs") || !ch["pcrs"].is_array()) return malformed("challenge: no PCR list");
    for (const auto& p : ch["pcrs"]) {
      if (!p.is_number_unsigned() || p.get<uint32_t>() >= 24)
        return malformed("challenge: bad PCR index");
      mask |= 1u << p.get<uint32_t>();
    }
    uint64_t ima_offset = ch.value("ima_offset", uint64_t{0});
    IRONROOT_ASSIGN_OR_RETURN(auto tpm, open_tpm());
    // Quote first, then read the logs: they can only have grown since, and the verifier looks
    // for the prefix that matches the quote.
    // The PCRs may move between the quote and reading their values (a file executed, a
    // drift): read them before and after, and quote again until both reads agree.
    tpmdev::Tpm::Quote quote;
    std::vector<crypto::Digest> values;
    for (int attempt = 0;; ++attempt) {
      IRONROOT_ASSIGN_OR_RETURN(auto before, tpm->pcr_read(*bank, mask));
      IRONROOT_ASSIGN_OR_RETURN(quote, tpm->quote(*nonce, *bank, mask));
      IRONROOT_ASSIGN_OR_RETURN(values, tpm->pcr_read(*bank, mask));
      if (values == before || attempt == 4) break;
    }
    tpm.reset();
    {
      std::lock_guard lock(watch_mu_);
      watched_bank_ = *bank;
      watched_mask_ = mask;
      watched_pcrs_ = values;
    }
    json pcrs = json::object();
    size_t k = 0;
    for (uint32_t i = 0; i < 24 && k < values.size(); ++i) {
      if ((mask >> i) & 1) pcrs[std::to_string(i)] = values[k++].hex();
    }
    IRONROOT_ASSIGN_OR_RETURN(FileContents log_file, FileContents::open(opts_.eventlog_path));
    std::string ima_text;
    watched_ima_size_ = ima_size();
    if (auto t = read_text(opts_.ima_path); t) ima_text = ima_after(*t, ima_offset);
    json ev{{"nonce", ch["nonce"]},
            {"quote",
             {{"attest", crypto::base64_encode(quote.attest)},
              {"signature", crypto::base64_encode(quote.signature)}}},
            {"pcrs", pcrs},
            {"event_log", crypto::base64_encode(log_file.bytes())},
            {"ima", {{"offset", ima_offset}, {"entries", ima_text}}}};
    if (recorder_) ev["host_flows"] = take_host_flows();
    if (!opts_.posture_root.empty()) {
      auto p = posture::collect_posture(opts_.posture_root);
      if (p) ev["posture"] = posture::to_json(*p);
    }
    IRONROOT_ASSIGN_OR_RETURN(
        json verdict,
        parse_reply(client_->request("POST", base + "/evidence", ev.dump()), "evidence", 200));
    AttestResult out;
    out.state = verdict.value("state", "");
    if (verdict.contains("reasons") && verdict["reasons"].is_array()) {
      for (const auto& r : verdict["reasons"]) {
        if (r.is_string()) out.reasons.push_back(r.get<std::string>());
      }
    }
    out.interval_ms = std::clamp(verdict.value("interval_ms", 2000), 100, 3'600'000);
    out.log_index = verdict.value("log_index", uint64_t{0});
    return out;
  }

  static int64_t wall_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  void start_host_flows(int64_t clock_offset_ns) {
    sensor::HostFlowRecorderOptions o;
    o.host = opts_.host_id;
    o.clock_offset_ns = clock_offset_ns;
    auto r = sensor::HostFlowRecorder::start(o, [this](const sensor::HostFlowEvent& e) {
      std::lock_guard lock(flows_mu_);
      if (e.type == sensor::HostFlowEvent::Type::kHeartbeat && !flow_events_.empty() &&
          flow_events_.back().type == sensor::HostFlowEvent::Type::kHeartbeat) {
        flow_events_.back() = e;  // only the latest coverage matters
      } else if (flow_events_.size() >= kMaxPendingFlowEvents) {
        // Unsent records are lost: say so, so that the sensor does not read silence as absence.
        if (!dropped_since_) dropped_since_ = e.ts_ns;
      } else {
        flow_events_.push_back(e);
      }
    });
    if (!r) {
      log::warn("host flows not recorded", {{"error", r.error().message()}});
      opts_.host_flows = false;
      return;
    }
    recorder_ = std::move(*r);
  }

  // The events recorded since the last attestation, as the sensor's JSON lines.
  json take_host_flows() {
    std::vector<sensor::HostFlowEvent> events;
    uint64_t dropped_since = 0;
    {
      std::lock_guard lock(flows_mu_);
      events.swap(flow_events_);
      std::swap(dropped_since, dropped_since_);
    }
    json lines = json::array();
    for (const auto& e : events) lines.push_back(e.json(recorder_->header()));
    if (dropped_since) {
      sensor::HostFlowEvent gap;
      gap.type = sensor::HostFlowEvent::Type::kGap;
      gap.ts_ns = static_cast<uint64_t>(wall_ns());
      gap.gap = {dropped_since, gap.ts_ns, "agent buffer full: records dropped"};
      lines.push_back(gap.json(recorder_->header()));
    }
    return json{{"lines", lines}};
  }

  // How much the IMA list holds: the kernel's count file where there is one (securityfs files
  // report no size), else the file's size (a simulated host's list).
  uint64_t ima_size() const {
    const std::string count =
        (fs::path(opts_.ima_path).parent_path() / "runtime_measurements_count").string();
    if (auto t = read_text(count); t) {
      return std::strtoull(t->c_str(), nullptr, 10);
    }
    std::error_code ec;
    auto n = fs::file_size(opts_.ima_path, ec);
    return ec ? 0 : n;
  }

  // True when something the verifier should see has happened since the last quote.
  bool drifted() {
    if (ima_size() != watched_ima_size_) return true;
    std::lock_guard lock(watch_mu_);
    if (watched_mask_ == 0) return false;
    auto tpm = open_tpm();
    if (!tpm) return false;
    auto now = (*tpm)->pcr_read(watched_bank_, watched_mask_);
    return now && *now != watched_pcrs_;
  }

  void run(const std::atomic<bool>& stop) override {
    int backoff_ms = 500;
    int interval_ms = 2000;
    std::string last_state;
    while (!stop) {
      Result<AttestResult> r = Error(ErrorCode::kInternal, "not attempted");
      try {
        r = attest_once();
      } catch (const std::exception& e) {  // a verifier answer with a field of the wrong type
        r = Error(ErrorCode::kMalformed,
                  std::string("unexpected answer from the verifier: ") + e.what());
      }
      int wait = interval_ms;
      if (r) {
        backoff_ms = 500;
        interval_ms = r->interval_ms;
        wait = interval_ms;
        if (r->state != last_state) {
          log::info("attested", {{"host", opts_.host_id},
                                 {"state", r->state},
                                 {"reason", r->reasons.empty() ? "" : r->reasons.front()}});
          last_state = r->state;
        }
      } else {
        log::warn("attestation failed; retrying", {{"host", opts_.host_id},
                                                   {"error", r.error().message()},
                                                   {"retry_ms", std::to_string(backoff_ms)}});
        if (r.error().code() == ErrorCode::kInvalidArgument) client_.reset();  // re-enrol next time
        wait = backoff_ms;
        backoff_ms = std::min(backoff_ms * 2, 30'000);
      }
      const int step = opts_.watch_ms > 0 ? std::min(opts_.watch_ms, 50) : 50;
      int since_watch = 0;
      for (int slept = 0; slept < wait && !stop; slept += step) {
        std::this_thread::sleep_for(std::chrono::milliseconds(step));
        since_watch += step;
        if (r && opts_.watch_ms > 0 && since_watch >= opts_.watch_ms) {
          since_watch = 0;
          if (drifted()) {
            log::info("change seen: attesting now", {{"host", opts_.host_id}});
            break;
          }
        }
      }
    }
  }

 private:
  AgentOptions opts_;
  std::string host_;
  uint16_t port_ = 0;
  std::string ca_pem_;
  std::unique_ptr<net::HttpsClient> client_;
  // What the last quote covered, to notice a change before the next interval.
  std::mutex watch_mu_;
  crypto::HashAlg watched_bank_ = crypto::HashAlg::kSha256;
  uint32_t watched_mask_ = 0;
  std::vector<crypto::Digest> watched_pcrs_;
  uint64_t watched_ima_size_ = 0;
  // Host-side flow accounting, sent with each attestation.
  static constexpr size_t kMaxPendingFlowEvents = 50'000;
  std::unique_ptr<sensor::HostFlowRecorder> recorder_;
  std::mutex flows_mu_;
  std::vector<sensor::HostFlowEvent> flow_events_;
  uint64_t dropped_since_ = 0;
};

}  // namespace

Result<std::unique_ptr<Agent>> Agent::create(const AgentOptions& options) {
  if (options.verifier_url.empty())
    return invalid_argument("the agent needs --verifier https://HOST:PORT");
  if (options.verifier_ca_file.empty())
    return invalid_argument("the agent needs --verifier-ca FILE (the verifier's ca.pem)");
  if (options.state_dir.empty()) return invalid_argument("the agent needs --state-dir DIR");
  auto a = std::make_unique<AgentImpl>(options);
  IRONROOT_RETURN_IF_ERROR(a->init());
  return std::unique_ptr<Agent>(std::move(a));
}

}  // namespace ironroot::agent
