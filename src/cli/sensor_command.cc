// ironroot sensor: the network sensor (capture files or live interfaces, flows, signature and
// reconciliation findings) and `sensor host-flows`, the host-side accounting it is compared with.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.h"
#include "connection.h"
#include "core/text.h"
#include "finding_uploader.h"
#include "findings/config.h"
#include "findings/dispatcher.h"
#include "findings/sensor_finding.h"
#include "output.h"
#include "sensor/capture.h"
#include "sensor/host_flows.h"
#include "sensor/ipfix.h"
#include "sensor/reconcile.h"
#include "sensor/sensor.h"

namespace ironroot::cli {

namespace {
volatile std::sig_atomic_t g_pull_stop = 0;
}  // namespace

namespace {

namespace sn = ironroot::sensor;

std::atomic<bool> g_stop{false};

void on_signal(int) {
  g_stop = true;
}

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

// Where lines go: stdout or --out FILE, one writer shared by threads.
class LineWriter {
 public:
  Status open(const std::string& path) {
    if (path.empty() || path == "-") return {};
    file_.open(path, std::ios::out | std::ios::trunc);
    if (!file_) return Error(ErrorCode::kIo, path + ": cannot open for writing");
    return {};
  }
  void write(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    std::ostream& out = file_.is_open() ? static_cast<std::ostream&>(file_) : std::cout;
    out << line << '\n';
    out.flush();  // a reader follows the file while it grows
  }

 private:
  std::mutex mu_;
  std::ofstream file_;
};

struct SensorArgs {
  std::vector<std::string> pcaps;
  std::string interface;
  std::string capture = "afpacket";
  unsigned threads = 1;
  double duration_s = 0;
  bool json = false;
  bool flows = false;
  std::string out;
  std::vector<std::string> hosts;
  std::vector<std::string> host_flows;
  uint64_t window_ms = 2000;
  double idle_timeout_s = 60;
  size_t max_flows = size_t{1} << 20;
  bool prefault = false;
  bool no_signatures = false;
  double active_timeout_s = 0;
  std::string ipfix;
  uint32_t ipfix_domain = 0;
  size_t ipfix_mtu = 1400;
  uint32_t ipfix_template_interval_s = 600;
  std::string findings_config;
  bool to_verifier = false;  // --verifier given
  bool hosts_from_verifier = false;
  OperatorConnection verifier;
  std::string sensor_name;
};

struct HostFlowsArgs {
  bool follow = false;
  double duration_s = 0;
  std::string out;
  bool json = false;
  std::string host;
  int64_t clock_offset_ns = 0;
  uint32_t snapshot_ms = 1000;
  bool no_conntrack = false;
};

std::string finding_text(const sn::Finding& x) {
  std::string s = "finding [" + std::to_string(x.score) + "] " + x.kind + ": " + x.message;
  for (const auto& r : x.reasons) s += "\n    - " + r;
  return s;
}

std::string flow_text(const sn::Flow& f) {
  std::string s = "flow " + std::to_string(f.proto) + " " + f.src.str();
  if (f.has_ports) s += ":" + std::to_string(f.sport);
  s += " -> " + f.dst.str();
  if (f.has_ports) s += ":" + std::to_string(f.dport);
  s += " pkts " + std::to_string(f.orig.packets) + "/" + std::to_string(f.resp.packets) +
       " bytes " + std::to_string(f.orig.bytes) + "/" + std::to_string(f.resp.bytes) + " " +
       f.community_id();
  return s;
}

std::string stats_line(const sn::SensorStats& s, bool json, const std::string& source) {
  if (json) {
    char buf[512];
    std::snprintf(
        buf, sizeof buf,
        "{\"type\":\"summary\",\"source\":\"%s\",\"frames\":%llu,\"ip_packets\":%llu,"
        "\"not_ip\":%llu,\"truncated\":%llu,\"malformed\":%llu,\"flows\":%llu,"
        "\"flows_dropped\":%llu,\"findings\":%llu,\"ncsi_frames\":%llu}",
        source.c_str(), static_cast<unsigned long long>(s.frames),
        static_cast<unsigned long long>(s.ip_packets), static_cast<unsigned long long>(s.not_ip),
        static_cast<unsigned long long>(s.truncated), static_cast<unsigned long long>(s.malformed),
        static_cast<unsigned long long>(s.flows), static_cast<unsigned long long>(s.flows_dropped),
        static_cast<unsigned long long>(s.findings),
        static_cast<unsigned long long>(s.ncsi_frames));
    return buf;
  }
  return source + ": " + std::to_string(s.frames) + " frames, " + std::to_string(s.ip_packets) +
         " IP, " + std::to_string(s.not_ip) + " not IP, " + std::to_string(s.truncated) +
         " truncated, " + std::to_string(s.malformed) + " malformed, " + std::to_string(s.flows) +
         " flows, " + std::to_string(s.findings) + " findings";
}

// The hosts' own records the wire is judged against, one log per host, kept current: from files
// another process appends to (--host-flows FILE, host i of --host) or from the verifier the
// agents send them to (--hosts-from-verifier, several identity slots per host).
class HostViews {
 public:
  Status open(const std::vector<std::string>& paths) {
    for (const auto& p : paths) {
      tails_.emplace_back(p);
      logs_.emplace_back();
    }
    return refresh();
  }
  // Hosts `ids` from the verifier; identity slot i of the sensor belongs to host slot_host[i].
  Status open_verifier(const OperatorConnection* verifier, std::vector<std::string> ids,
                       std::vector<size_t> slot_host) {
    verifier_ = verifier;
    ids_ = std::move(ids);
    slot_host_ = std::move(slot_host);
    logs_.resize(ids_.size());
    next_line_.assign(ids_.size(), 0);
    return refresh();
  }
  Status refresh() {
    if (verifier_) {
      // The verifier is asked once a second, not on every 200 ms tick.
      auto now = std::chrono::steady_clock::now();
      if (now < next_fetch_) return {};
      next_fetch_ = now + std::chrono::seconds(1);
      for (size_t h = 0; h < ids_.size(); ++h) IRONROOT_RETURN_IF_ERROR(fetch(h));
    }
    auto next = std::make_shared<std::vector<sn::HostFlowIndex>>();
    for (size_t i = 0; i < logs_.size(); ++i) {
      if (i < tails_.size()) IRONROOT_RETURN_IF_ERROR(tails_[i].poll(&logs_[i]));
      next->emplace_back(logs_[i]);
    }
    std::lock_guard<std::mutex> lock(mu_);
    current_ = next;
    return {};
  }
  std::shared_ptr<const std::vector<sn::HostFlowIndex>> current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }
  // Per identity slot of the Sensor, the index of its host (nullptr: none).
  std::vector<const sn::HostFlowIndex*> pointers(const std::vector<sn::HostFlowIndex>& v) const {
    std::vector<const sn::HostFlowIndex*> out;
    if (!verifier_) {
      for (const auto& i : v) out.push_back(&i);
      return out;
    }
    for (size_t h : slot_host_) out.push_back(h < v.size() ? &v[h] : nullptr);
    return out;
  }

 private:
  // The lines host h's agent sent since the last fetch (none yet: 404, nothing to add).
  Status fetch(size_t h) {
    auto body = verifier_->call_text(
        "GET", "/v1/hosts/" + ids_[h] + "/host-flows?since=" + std::to_string(next_line_[h]));
    if (!body) {
      if (body.error().code() == ErrorCode::kNotFound) return {};
      return std::move(body).error().with_context("host flows of " + ids_[h]);
    }
    size_t start = 0;
    for (size_t nl; (nl = body->find('\n', start)) != std::string::npos; start = nl + 1) {
      ++next_line_[h];
      Status s =
          sn::apply_host_flow_line(std::string_view(*body).substr(start, nl - start), &logs_[h]);
      if (!s)
        return std::move(s).error().with_context("host flows of " + ids_[h] + ", line " +
                                                 std::to_string(next_line_[h]));
    }
    return {};
  }

  std::vector<sn::HostFlowLogTail> tails_;
  std::vector<sn::HostFlowLog> logs_;
  const OperatorConnection* verifier_ = nullptr;
  std::vector<std::string> ids_;
  std::vector<size_t> slot_host_;
  std::vector<uint64_t> next_line_;
  std::chrono::steady_clock::time_point next_fetch_{};
  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<sn::HostFlowIndex>> current_;
};

// --hosts-from-verifier: each enrolled host's interfaces (GET /v1/sensor/hosts) become identity
// slots of the Sensor, one per address (with the interface's MAC) or one for a MAC alone.
// IPv6 link-local addresses are left out: every host has them, the MAC covers that traffic.
// The answer is checked like any input from the network: a host id goes into later request
// paths, so it must be a verifier host id ([A-Za-z0-9._-], at most 64); errors name the entry.
Status hosts_from_verifier(const OperatorConnection& verifier, sn::SensorOptions* opts,
                           std::vector<std::string>* ids, std::vector<size_t>* slot_host) {
  IRONROOT_ASSIGN_OR_RETURN(nlohmann::json answer, verifier.call("GET", "/v1/sensor/hosts"));
  auto list = answer.is_object() ? answer.find("hosts") : answer.end();
  if (list == answer.end() || !list->is_array())
    return malformed("GET /v1/sensor/hosts: no \"hosts\" list in the answer");
  auto string_at = [](const nlohmann::json& j, const char* key) -> const std::string* {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  };
  for (size_t i = 0; i < list->size(); ++i) {
    const nlohmann::json& h = (*list)[i];
    const std::string where = "GET /v1/sensor/hosts: hosts[" + std::to_string(i) + "]";
    const std::string* id = h.is_object() ? string_at(h, "id") : nullptr;
    if (id == nullptr || !is_token(*id, 64, "._-") || id->front() == '.')
      return malformed(where + ".id: not a host id");
    auto interfaces = h.find("interfaces");
    if (interfaces == h.end() || !interfaces->is_array())
      return malformed(where + ".interfaces: must be a list");
    size_t slot = ids->size();
    bool any = false;
    for (const auto& n : *interfaces) {
      if (!n.is_object()) return malformed(where + ".interfaces: entries must be objects");
      const std::string* mac = string_at(n, "mac");
      std::vector<std::string> specs;
      if (auto addresses = n.find("addresses"); addresses != n.end() && addresses->is_array()) {
        for (const auto& a : *addresses) {
          if (!a.is_string() || a.get_ref<const std::string&>().starts_with("fe80:")) continue;
          const std::string& ip = a.get_ref<const std::string&>();
          specs.push_back(mac == nullptr || mac->empty() ? ip : *mac + "," + ip);
        }
      }
      if (specs.empty() && mac != nullptr && !mac->empty()) specs.push_back(*mac);
      for (const auto& spec : specs) {
        auto identity = sn::parse_host_identity(*id + "=" + spec);
        if (!identity) return std::move(identity).error().with_context(where);
        opts->hosts.push_back(*identity);
        slot_host->push_back(slot);
        any = true;
      }
    }
    if (any) ids->push_back(*id);
  }
  return {};
}

// Why the flow sink is being called, per capture thread: Sensor::tick() ends idle flows (and,
// with --active-timeout, exports long ones), Sensor::finish() ends the rest.
thread_local bool t_finishing = false;
thread_local uint64_t t_tick_ns = 0;

sn::FlowEndReason end_cause(const sn::Flow& f, const SensorArgs& a) {
  if (t_finishing) return sn::FlowEndReason::kForcedEnd;
  const auto idle_ns = static_cast<uint64_t>(a.idle_timeout_s * 1e9);
  if (a.active_timeout_s > 0 && f.last_ns + idle_ns > t_tick_ns)
    return sn::FlowEndReason::kActiveTimeout;
  return sn::FlowEndReason::kIdleTimeout;
}

// --ipfix: one exporter shared by the capture threads. A failing destination warns once per
// streak of failures; a file that cannot be written fails the run at the end.
class IpfixOut {
 public:
  Status open(const SensorArgs& a) {
    IRONROOT_ASSIGN_OR_RETURN(dest_, sn::IpfixDestination::open(a.ipfix));
    sn::IpfixOptions o;
    o.observation_domain_id = a.ipfix_domain;
    o.mtu = a.ipfix_mtu;
    if (dest_->is_udp()) o.template_interval_s = a.ipfix_template_interval_s;
    auto exp = sn::IpfixExporter::create(o, [this](Bytes m) { return dest_->send(m); });
    if (!exp) return std::move(exp).error().with_context("--ipfix " + a.ipfix);
    exporter_ = std::move(*exp);
    return {};
  }
  void add(const sn::Flow& f, sn::FlowEndReason reason) {
    std::lock_guard<std::mutex> lock(mu_);
    note(exporter_->add(f, reason));
  }
  void flush() {
    std::lock_guard<std::mutex> lock(mu_);
    note(exporter_->flush());
  }
  // The error that should fail the run (a file), or "".
  std::string fatal_error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return dest_->is_udp() ? "" : first_error_;
  }

 private:
  void note(const Status& s) {
    if (s) {
      failing_ = false;
      return;
    }
    if (first_error_.empty()) first_error_ = s.error().message();
    if (!failing_) print_error("warning: " + s.error().message());
    failing_ = true;
  }
  mutable std::mutex mu_;
  std::unique_ptr<sn::IpfixDestination> dest_;
  std::unique_ptr<sn::IpfixExporter> exporter_;
  bool failing_ = false;
  std::string first_error_;
};

std::string default_sensor_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

int run_sensor(const SensorArgs& a) {
  if (a.pcaps.empty() == a.interface.empty()) {
    print_error("sensor: give --pcap FILE (repeatable) or --interface IF");
    return kExitError;
  }
  if (a.host_flows.size() > a.hosts.size()) {
    print_error("sensor: each --host-flows FILE belongs to a --host (in order); " +
                std::to_string(a.host_flows.size()) + " files for " +
                std::to_string(a.hosts.size()) + " hosts");
    return kExitError;
  }
  sn::SensorOptions opts;
  for (const auto& h : a.hosts) {
    auto id = sn::parse_host_identity(h);
    if (!id) {
      print_error("--host: " + id.error().message());
      return kExitError;
    }
    opts.hosts.push_back(*id);
  }
  opts.reconcile.window_ns = a.window_ms * 1'000'000ULL;
  opts.table.idle_timeout_ns = static_cast<uint64_t>(a.idle_timeout_s * 1e9);
  opts.signatures = !a.no_signatures;
  opts.table.capacity = a.max_flows;
  opts.table.prefault = a.prefault;
  opts.table.active_timeout_ns = static_cast<uint64_t>(a.active_timeout_s * 1e9);
  LineWriter out;
  if (Status s = out.open(a.out); !s) {
    print_error(s.error().message());
    return kExitError;
  }
  HostViews views;
  if (a.hosts_from_verifier) {
    if (!a.to_verifier || !a.hosts.empty() || !a.host_flows.empty()) {
      print_error(
          "sensor: --hosts-from-verifier takes the hosts from --verifier URL, instead of --host "
          "and --host-flows");
      return kExitError;
    }
    std::vector<std::string> ids;
    std::vector<size_t> slot_host;
    if (Status s = hosts_from_verifier(a.verifier, &opts, &ids, &slot_host); !s) {
      print_error("--hosts-from-verifier: " + s.error().message());
      return kExitError;
    }
    print_error("sensor: " + std::to_string(ids.size()) + " enrolled hosts (" +
                std::to_string(opts.hosts.size()) + " addresses and MACs) from " + a.verifier.url);
    if (Status s = views.open_verifier(&a.verifier, std::move(ids), std::move(slot_host)); !s) {
      print_error("--hosts-from-verifier: " + s.error().message());
      return kExitError;
    }
  } else if (Status s = views.open(a.host_flows); !s) {
    print_error(s.error().message());
    return kExitError;
  }
  std::unique_ptr<IpfixOut> ipfix;
  if (!a.ipfix.empty()) {
    ipfix = std::make_unique<IpfixOut>();
    if (Status s = ipfix->open(a); !s) {
      print_error(s.error().message());
      return kExitError;
    }
  }
  std::unique_ptr<findings::Dispatcher> dispatcher;
  if (!a.findings_config.empty()) {
    auto config = findings::load_config(a.findings_config);
    findings::Callbacks cb;
    cb.on_outcome = [](const findings::Outcome& o) {
      using findings::OutcomeStatus;
      if (o.status == OutcomeStatus::kFailed || o.status == OutcomeStatus::kDropped ||
          o.status == OutcomeStatus::kAbandoned)
        print_error("warning: " + o.target + ": finding " + o.finding_uid + " " +
                    findings::outcome_status_name(o.status) +
                    (o.detail.empty() ? "" : ": " + o.detail));
    };
    auto d = config ? findings::Dispatcher::create(std::move(*config), cb)
                    : Result<std::unique_ptr<findings::Dispatcher>>(config.error());
    if (!d) {
      print_error("--findings-config " + a.findings_config + ": " + d.error().message());
      return kExitError;
    }
    dispatcher = std::move(*d);
  }
  std::unique_ptr<FindingUploader> uploader;
  if (a.to_verifier) {
    uploader = std::make_unique<FindingUploader>();
    if (Status s = uploader->start(a.verifier,
                                   a.sensor_name.empty() ? default_sensor_name() : a.sensor_name);
        !s) {
      print_error(s.error().message());
      return kExitError;
    }
  }
  // Everything after capture: delivery finishes (or gives up), then the exit status.
  auto finish = [&](int status) {
    if (ipfix) {
      ipfix->flush();
      if (std::string e = ipfix->fatal_error(); !e.empty()) {
        print_error(e);
        status = kExitError;
      }
    }
    if (dispatcher) {
      if (size_t n = dispatcher->shutdown(std::chrono::seconds(10)); n > 0)
        print_error("warning: --findings-config: " + std::to_string(n) +
                    " deliveries abandoned at exit");
    }
    if (uploader) {
      std::string line = uploader->stop(std::chrono::seconds(10));
      if (uploader->lost_any()) {
        print_error(line);
        status = kExitError;
      }
    }
    return status;
  };
  std::atomic<uint64_t> findings{0};
  auto on_flow = [&](const sn::Flow& f) {
    if (a.flows) out.write(a.json ? sn::flow_json(f) : flow_text(f));
    if (ipfix) ipfix->add(f, sn::flow_end_reason(f, end_cause(f, a)));
  };
  auto on_finding = [&](const sn::Finding& x) {
    ++findings;
    std::string line = x.json();
    out.write(a.json ? line : finding_text(x));
    if (dispatcher) {
      auto j = nlohmann::json::parse(line);
      findings::SensorFindingFields in{x.kind,    x.score,   x.host,
                                       x.message, x.reasons, j.value("flow", nlohmann::json()),
                                       x.ts_ns,   j};
      dispatcher->submit(findings::from_sensor_finding(in));
    }
    if (uploader) uploader->push(std::move(line));
  };

  if (!a.pcaps.empty()) {
    for (const auto& path : a.pcaps) {
      sn::Sensor sensor(opts, on_flow, on_finding);
      uint64_t last_tick = 0;
      auto idx = views.current();
      auto ptrs = views.pointers(*idx);
      std::vector<sn::Sensor::FrameRef> refs;
      auto info = sn::read_capture_file_blocks(path, [&](std::span<const sn::Frame> frames) {
        refs.clear();
        for (const auto& f : frames) refs.push_back({f.ts_ns, f.data, f.link});
        sensor.on_frames(refs);  // decoded and prefetched as a batch, as on the live path
        uint64_t ts = frames.back().ts_ns;
        if (ts > last_tick + 1'000'000'000ULL) {  // expire by capture time, once a second
          t_tick_ns = ts;
          if (last_tick != 0) sensor.tick(ts, ptrs);
          last_tick = ts;
        }
      });
      if (!info) {
        print_error(info.error().message());
        return finish(kExitError);
      }
      t_finishing = true;
      sensor.finish(ptrs);
      t_finishing = false;
      out.write(stats_line(sensor.stats(), a.json, path));
    }
    return finish(findings > 0 ? kExitVerifyFailed : kExitOk);
  }

  // Live: one ring (or libpcap handle) and one Sensor per thread, fanout keeps flows together.
  install_signals();
  unsigned threads = a.threads == 0 ? 1 : a.threads;
  int group = static_cast<int>((::getpid() & 0x7fff) | 1);
  std::vector<std::thread> workers;
  std::mutex err_mu;
  std::string first_error;
  std::vector<sn::SensorStats> stats(threads);
  std::atomic<unsigned> ready{0};
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      sn::LiveOptions lo;
      lo.interface = a.interface;
      lo.fanout_group = threads > 1 ? group : 0;
      std::unique_ptr<sn::AfPacketRing> ring;
      std::unique_ptr<sn::PcapLive> live;
      if (a.capture == "afpacket") {
        auto r = sn::AfPacketRing::open(lo);
        if (!r) {
          std::lock_guard<std::mutex> lock(err_mu);
          first_error = r.error().message();
          g_stop = true;
          return;
        }
        ring = std::move(*r);
      } else {
        auto r = sn::PcapLive::open(lo);
        if (!r) {
          std::lock_guard<std::mutex> lock(err_mu);
          first_error = r.error().message();
          g_stop = true;
          return;
        }
        live = std::move(*r);
      }
      ++ready;
      sn::Sensor sensor(opts, on_flow, on_finding);
      uint64_t next_tick = 0;
      auto fn = [&](const sn::Frame& f) { sensor.on_frame(f.ts_ns, f.data, f.link); };
      std::vector<sn::Sensor::FrameRef> refs;
      sn::BlockFn block_fn = [&](std::span<const sn::Frame> frames) {
        refs.clear();
        for (const auto& f : frames) refs.push_back({f.ts_ns, f.data, f.link});
        sensor.on_frames(refs);  // decoded and prefetched as a batch
      };
      while (!g_stop) {
        Result<size_t> n = ring ? ring->next_block(100, block_fn) : live->next_batch(fn);
        if (!n) {
          std::lock_guard<std::mutex> lock(err_mu);
          first_error = n.error().message();
          g_stop = true;
          break;
        }
        uint64_t now = sn::realtime_ns();
        if (now >= next_tick) {
          next_tick = now + 200'000'000ULL;
          auto idx = views.current();
          t_tick_ns = now;
          sensor.tick(now, views.pointers(*idx));
        }
      }
      auto idx = views.current();
      t_finishing = true;
      sensor.finish(views.pointers(*idx));
      stats[t] = sensor.stats();
    });
  }
  auto start = std::chrono::steady_clock::now();
  auto next_ipfix = start;
  bool views_failing = false;
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // A failing source is reported when it starts failing, not on every tick.
    if (Status s = views.refresh(); !s) {
      if (!views_failing) print_error("warning: " + s.error().message());
      views_failing = true;
    } else {
      views_failing = false;
    }
    // Ended flows reach the collector within a second even when no message fills up.
    if (ipfix && std::chrono::steady_clock::now() >= next_ipfix) {
      ipfix->flush();
      next_ipfix = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
    if (a.duration_s > 0 &&
        std::chrono::steady_clock::now() - start >= std::chrono::duration<double>(a.duration_s)) {
      g_stop = true;
    }
  }
  for (auto& w : workers) w.join();
  if (!first_error.empty()) {
    print_error(first_error);
    return finish(kExitError);
  }
  sn::SensorStats total;
  for (const auto& s : stats) {
    total.frames += s.frames;
    total.ip_packets += s.ip_packets;
    total.not_ip += s.not_ip;
    total.truncated += s.truncated;
    total.malformed += s.malformed;
    total.flows += s.flows;
    total.flows_dropped += s.flows_dropped;
    total.findings += s.findings;
    total.ncsi_frames += s.ncsi_frames;
  }
  out.write(stats_line(total, a.json, a.interface));
  return finish(findings > 0 ? kExitVerifyFailed : kExitOk);
}

int run_host_flows(const HostFlowsArgs& a) {
  LineWriter out;
  if (Status s = out.open(a.out); !s) {
    print_error(s.error().message());
    return kExitError;
  }
  sn::HostFlowRecorderOptions o;
  o.host = a.host.empty() ? [] {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    return std::string(buf);
  }()
                          : a.host;
  o.conntrack = !a.no_conntrack;
  o.clock_offset_ns = a.clock_offset_ns;
  o.snapshot_ms = a.snapshot_ms;
  sn::HostFlowLog header;
  header.host = o.host;
  header.clock_offset_ns = o.clock_offset_ns;
  bool as_json = a.json || !a.out.empty();
  auto sink = [&](const sn::HostFlowEvent& e) {
    if (as_json) {
      out.write(e.json(header));
    } else if (e.type == sn::HostFlowEvent::Type::kFlow) {
      const auto& r = e.record;
      out.write(r.source + " " + r.event + " " + std::to_string(r.proto) + " " + r.src.str() + ":" +
                std::to_string(r.sport) + " -> " + r.dst.str() + ":" + std::to_string(r.dport) +
                " " + r.community_id);
    } else if (e.type == sn::HostFlowEvent::Type::kGap) {
      out.write("gap: " + e.gap.reason);
    }
  };
  install_signals();
  auto rec = sn::HostFlowRecorder::start(o, sink);
  if (!rec) {
    print_error("host-flows: " + rec.error().message());
    return kExitError;
  }
  if (a.follow) {
    auto start = std::chrono::steady_clock::now();
    while (!g_stop) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (a.duration_s > 0 &&
          std::chrono::steady_clock::now() - start >= std::chrono::duration<double>(a.duration_s)) {
        break;
      }
    }
  }
  (*rec)->stop();
  return kExitOk;
}

}  // namespace

void add_sensor_commands(CLI::App& app, int* exit_code) {
  static SensorArgs sa;
  auto* cmd = app.add_subcommand(
      "sensor",
      "Network sensor: reads capture files or a live interface, keeps flows (5-tuple, VLAN, MACs, "
      "per-direction counters, Community ID), reports management-engine signatures (RMCP/ASF, "
      "IPMI, AMT ports, WS-Man, VNC on AMT ports) and, given an enrolled host and its host-flows "
      "records, traffic on its MAC/IP that the host OS did not account for. Exit 1 when there "
      "are findings");
  cmd->require_subcommand(0, 1);
  cmd->add_option("--pcap", sa.pcaps, "Capture file (pcap or pcapng); repeatable")
      ->check(CLI::ExistingFile)
      ->allow_extra_args(false);
  cmd->add_option("--interface", sa.interface, "Live interface (AF_PACKET TPACKET_V3 ring)");
  cmd->add_option("--capture", sa.capture, "Live capture method")
      ->check(CLI::IsMember({"afpacket", "pcap"}))
      ->capture_default_str();
  cmd->add_option("--threads", sa.threads,
                  "Live capture threads (PACKET_FANOUT by flow hash, one flow table each)")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  cmd->add_option("--duration", sa.duration_s, "Live: stop after this many seconds (0: Ctrl-C)")
      ->capture_default_str();
  cmd->add_flag("--json", sa.json, "JSON lines (findings, flows, summary) instead of text");
  cmd->add_flag("--flows", sa.flows, "Also export every flow when it ends");
  cmd->add_option("--out", sa.out, "Write to this file instead of stdout");
  cmd->add_option("--host", sa.hosts,
                  "Enrolled host to reconcile: [NAME=]MAC,IP (or only MAC or IP); repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--host-flows", sa.host_flows,
                  "The host's records from `ironroot sensor host-flows --out FILE` (JSON lines, "
                  "followed while it grows); one per --host, in order")
      ->allow_extra_args(false);
  cmd->add_option("--window-ms", sa.window_ms,
                  "How far apart in time a host record and a wire flow may be and still match")
      ->capture_default_str();
  cmd->add_option("--idle-timeout", sa.idle_timeout_s, "Seconds without packets that end a flow")
      ->capture_default_str();
  cmd->add_option("--max-flows", sa.max_flows,
                  "Flow table slots per thread (rounded up to a power of two; 7/8 usable; 200 "
                  "bytes each, taken as flows arrive)")
      ->check(CLI::Range(size_t{16}, size_t{1} << 26))
      ->capture_default_str();
  cmd->add_flag("--prefault", sa.prefault,
                "Take the flow table's memory (--max-flows x 200 bytes per thread) at start, so "
                "no packet waits for the kernel to zero a page (a busy 10 GbE link)");
  cmd->add_flag("--no-signatures", sa.no_signatures,
                "Only reconciliation findings (no RMCP / AMT signature findings)");
  cmd->add_option("--active-timeout", sa.active_timeout_s,
                  "Export a long flow every this many seconds while it lasts (0: only at its end)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--ipfix", sa.ipfix,
                  "Export ended flows as IPFIX (RFC 7011, RFC 5103 biflows): to a file (RFC 5655) "
                  "or to a collector, udp://HOST:PORT (IPv6 literals in brackets)");
  cmd->add_option("--ipfix-domain", sa.ipfix_domain, "IPFIX observation domain id")
      ->capture_default_str();
  cmd->add_option("--ipfix-mtu", sa.ipfix_mtu, "Largest IPFIX message, bytes")
      ->check(CLI::Range(size_t{512}, size_t{65535}))
      ->capture_default_str();
  cmd->add_option("--ipfix-template-interval", sa.ipfix_template_interval_s,
                  "UDP: send the templates again every this many seconds (RFC 7011 8.4)")
      ->check(CLI::Range(1u, 86400u))
      ->capture_default_str();
  cmd->add_option("--findings-config", sa.findings_config,
                  "Also deliver each finding (as OCSF) to the sinks and remediation of this "
                  "findings configuration (docs/findings.md)")
      ->check(CLI::ExistingFile);
  sa.verifier.add_options(cmd);
  cmd->add_flag("--hosts-from-verifier", sa.hosts_from_verifier,
                "Take the enrolled hosts (the MACs and addresses their agents report) and their "
                "host-side flow records from --verifier, instead of --host and --host-flows");
  cmd->add_option("--sensor-name", sa.sensor_name,
                  "With --verifier: this sensor's name in what it sends (default: hostname)");

  static HostFlowsArgs ha;
  auto* hf = cmd->add_subcommand(
      "host-flows",
      "Host-side accounting (run on the host, as root): the flows the host OS knows of, from "
      "conntrack events (netlink) and sock_diag snapshots of listeners and connections, with "
      "gaps and the clock offset; JSON lines for `ironroot sensor --host-flows`");
  hf->add_flag("--follow", ha.follow,
               "Keep recording until --duration or Ctrl-C (default: one "
               "snapshot of existing connections and sockets)");
  hf->add_option("--duration", ha.duration_s, "With --follow: stop after this many seconds")
      ->capture_default_str();
  hf->add_option("--out", ha.out, "Write JSON lines to this file (flushed per line)");
  hf->add_flag("--json", ha.json, "JSON lines on stdout instead of text");
  hf->add_option("--host", ha.host, "Host name written in the start record (default: hostname)");
  hf->add_option("--clock-offset-ns", ha.clock_offset_ns,
                 "Offset to add to this host's clock to reach the sensor's (measured elsewhere)")
      ->capture_default_str();
  hf->add_option("--snapshot-ms", ha.snapshot_ms, "sock_diag snapshot period")
      ->check(CLI::Range(50u, 3600000u))
      ->capture_default_str();
  hf->add_flag("--no-conntrack", ha.no_conntrack, "Only sock_diag snapshots");
  hf->callback([exit_code] { *exit_code = run_host_flows(ha); });
  // The agents' host-side accounting, as the verifier received it, into a file this sensor
  // (or another) follows with --host-flows FILE.
  static OperatorConnection pull_conn;
  static std::string pull_host, pull_out;
  static bool pull_follow = false;
  static int pull_interval_ms = 500;
  auto* pull = cmd->add_subcommand(
      "pull-host-flows",
      "Fetch an enrolled host's flow accounting from the verifier (its agent runs with "
      "--host-flows) and append it to a file for `ironroot sensor --host-flows FILE`");
  pull_conn.add_options(pull);
  pull->add_option("HOST", pull_host, "The host id")->required();
  pull->add_option("--out", pull_out, "The JSON lines file to append to")->required();
  pull->add_flag("--follow", pull_follow, "Keep fetching until Ctrl-C");
  pull->add_option("--interval-ms", pull_interval_ms, "With --follow: how often")
      ->check(CLI::Range(50, 60000))
      ->capture_default_str();
  pull->callback([exit_code] {
    std::signal(SIGINT, [](int) { g_pull_stop = true; });
    std::signal(SIGTERM, [](int) { g_pull_stop = true; });
    std::ofstream out(pull_out, std::ios::app);
    if (!out) {
      print_error(pull_out + ": cannot write");
      *exit_code = kExitError;
      return;
    }
    uint64_t next = 0;
    do {
      auto body = pull_conn.call_text(
          "GET", "/v1/hosts/" + pull_host + "/host-flows?since=" + std::to_string(next));
      if (!body) {
        print_error(body.error().message());
        *exit_code = kExitError;
        return;
      }
      for (char c : *body) next += c == '\n';
      out << *body << std::flush;
      if (pull_follow) std::this_thread::sleep_for(std::chrono::milliseconds(pull_interval_ms));
    } while (pull_follow && !g_pull_stop);
    *exit_code = kExitOk;
  });
  cmd->callback([exit_code, hf, pull, cmd] {
    if (hf->parsed() || pull->parsed()) return;
    // --verifier (or IRONROOT_VERIFIER) turns on delivery; its default URL alone does not.
    sa.to_verifier = cmd->get_option("--verifier")->count() > 0;
    *exit_code = run_sensor(sa);
  });
}

}  // namespace ironroot::cli
