// Sensor throughput: decode + flow classification (flow table, signatures) per core, on an
// in-memory replay, so the figure is the sensor's own and not the disk's or libpcap's.
//
//   sensor_bench gen FILE N [--zipf S]
//                                  write a synthetic N-packet trace (64-byte frames, TCP / UDP /
//                                  ICMP, 10 % VLAN-tagged, 10 % IPv6). Default: the worst case,
//                                  each packet drawn uniformly from 100k ids with its protocol,
//                                  family and VLAN drawn again (~825k live flows, no locality).
//                                  --zipf S: 1M flows, each packet's flow drawn with Zipf
//                                  exponent S (real links: a few flows carry most packets)
//   sensor_bench run FILE... [--min-packets M]
//                                  load the files into memory, replay them (repeatedly until M
//                                  packets) through decode() alone and through a Sensor, on a
//                                  cold and on a pre-faulted flow table; prints packets/s per core
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sensor/capture.h"
#include "sensor/sensor.h"

namespace {

namespace sn = ironroot::sensor;

struct Trace {
  std::vector<uint8_t> bytes;
  struct Rec {
    uint64_t ts;
    size_t off;
    uint32_t len;
    sn::LinkType link;
  };
  std::vector<Rec> recs;
};

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

int gen(const char* path, uint64_t n, double zipf) {
  FILE* f = std::fopen(path, "wb");
  if (!f) {
    std::perror(path);
    return 2;
  }
  // pcap file header (microsecond, Ethernet).
  uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
  std::fwrite(hdr, sizeof hdr, 1, f);
  uint64_t x = 88172645463325252ULL;
  auto rnd = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  // Zipf: the cumulative weights of 1M flow ids, sampled by binary search.
  std::vector<double> cdf;
  if (zipf > 0) {
    cdf.resize(1'000'000);
    double sum = 0;
    for (size_t k = 0; k < cdf.size(); ++k) cdf[k] = sum += 1.0 / std::pow(double(k + 1), zipf);
    for (double& c : cdf) c /= sum;
  }
  std::vector<uint8_t> fr;
  std::vector<uint8_t> out;
  out.reserve(1 << 20);
  uint64_t ts_us = 1'700'000'000ULL * 1'000'000;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t r = rnd();
    uint32_t flow = static_cast<uint32_t>(r % 100'000);
    bool reply = (r >> 20) & 1;
    uint64_t attrs = r;
    if (zipf > 0) {
      double u = static_cast<double>(rnd() >> 11) * 0x1.0p-53;
      flow = static_cast<uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
      attrs = flow * 0x9e3779b97f4a7c15ULL;  // a flow keeps its protocol, family and VLAN
      attrs ^= attrs >> 29;
    }
    int kind = static_cast<int>((attrs >> 24) % 100);  // <70 TCP, <95 UDP, else ICMP
    bool v6 = ((attrs >> 32) % 10) == 0;
    bool vlan = ((attrs >> 40) % 10) == 0;
    fr.clear();
    uint8_t a[6] = {0x02, 0, 0, 0, static_cast<uint8_t>(flow >> 8), static_cast<uint8_t>(flow)};
    uint8_t b[6] = {0x02, 0, 0, 1, 0, 1};
    fr.insert(fr.end(), reply ? a : b, (reply ? a : b) + 6);
    fr.insert(fr.end(), reply ? b : a, (reply ? b : a) + 6);
    if (vlan) {
      put16(fr, 0x8100);
      put16(fr, static_cast<uint16_t>(100 + flow % 4));
    }
    uint8_t proto = kind < 70 ? 6 : kind < 95 ? 17 : 1;
    if (v6 && proto == 1) proto = 58;
    size_t l4len = proto == 6 ? 20 : 8;
    uint8_t src[16] = {}, dst[16] = {};
    if (v6) {
      src[0] = dst[0] = 0x20;
      src[1] = dst[1] = 0x01;
      src[11] = static_cast<uint8_t>(flow >> 24);
      src[12] = static_cast<uint8_t>(flow >> 16);
      src[13] = static_cast<uint8_t>(flow >> 8);
      src[14] = static_cast<uint8_t>(flow);
      src[15] = 2;
      dst[15] = 1;
    } else {
      src[0] = 10;
      src[1] = static_cast<uint8_t>(flow >> 16);
      src[2] = static_cast<uint8_t>(flow >> 8);
      src[3] = static_cast<uint8_t>(flow);
      dst[0] = 192;
      dst[1] = 0;
      dst[2] = 2;
      dst[3] = static_cast<uint8_t>(1 + flow % 50);
    }
    if (reply) std::swap(src, dst);
    if (v6) {
      put16(fr, 0x86dd);
      fr.insert(fr.end(), {0x60, 0, 0, 0});
      put16(fr, static_cast<uint16_t>(l4len));
      fr.push_back(proto);
      fr.push_back(64);
      fr.insert(fr.end(), src, src + 16);
      fr.insert(fr.end(), dst, dst + 16);
    } else {
      put16(fr, 0x0800);
      fr.insert(fr.end(), {0x45, 0});
      put16(fr, static_cast<uint16_t>(20 + l4len));
      fr.insert(fr.end(), {0, 1, 0x40, 0, 64, proto, 0, 0});
      fr.insert(fr.end(), src, src + 4);
      fr.insert(fr.end(), dst, dst + 4);
    }
    uint16_t cport = static_cast<uint16_t>(1024 + flow % 60000);
    uint16_t sport = proto == 6 ? 443 : 53;
    if (proto == 6 || proto == 17) {
      put16(fr, reply ? sport : cport);
      put16(fr, reply ? cport : sport);
      if (proto == 6) {
        fr.insert(fr.end(), {0, 0, 0, 1, 0, 0, 0, 1, 0x50,
                             static_cast<uint8_t>(reply ? 0x10 : 0x18), 0xff, 0xff, 0, 0, 0, 0});
      } else {
        put16(fr, 8);
        put16(fr, 0);
      }
    } else {
      fr.insert(fr.end(), {static_cast<uint8_t>(proto == 1 ? (reply ? 0 : 8) : (reply ? 129 : 128)),
                           0, 0, 0, 0, 1, 0, 1});
    }
    while (fr.size() < 60) fr.push_back(0);  // minimum Ethernet frame without FCS
    ts_us += 1 + (r >> 50) % 3;
    uint32_t ph[4] = {static_cast<uint32_t>(ts_us / 1'000'000),
                      static_cast<uint32_t>(ts_us % 1'000'000), static_cast<uint32_t>(fr.size()),
                      static_cast<uint32_t>(fr.size())};
    const auto* p = reinterpret_cast<const uint8_t*>(ph);
    out.insert(out.end(), p, p + sizeof ph);
    out.insert(out.end(), fr.begin(), fr.end());
    if (out.size() > (1u << 20)) {
      std::fwrite(out.data(), 1, out.size(), f);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), f);
  std::fclose(f);
  return 0;
}

// CPU time of this thread: packets per second per core, even on a machine shared with others.
double cpu_now() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

int run(const std::vector<std::string>& files, uint64_t min_packets, const char* label) {
  Trace t;
  for (const auto& path : files) {
    auto info = sn::read_capture_file(path, [&](const sn::Frame& f) {
      t.recs.push_back({f.ts_ns, t.bytes.size(), static_cast<uint32_t>(f.data.size()), f.link});
      t.bytes.insert(t.bytes.end(), f.data.begin(), f.data.end());
    });
    if (!info) {
      std::fprintf(stderr, "%s\n", info.error().message().c_str());
      return 2;
    }
  }
  if (t.recs.empty()) return 2;
  uint64_t rounds = (min_packets + t.recs.size() - 1) / t.recs.size();
  if (rounds == 0) rounds = 1;
  uint64_t total = rounds * t.recs.size();
  const double n = static_cast<double>(total);

  // decode() alone.
  uint64_t ok = 0;
  double t0 = cpu_now();
  for (uint64_t r = 0; r < rounds; ++r) {
    for (const auto& rec : t.recs) {
      sn::Packet p;
      ok += sn::decode(ironroot::Bytes(t.bytes.data() + rec.off, rec.len), rec.link, &p) ==
            sn::DecodeStatus::kOk;
    }
  }
  double d_decode = cpu_now() - t0;

  // The sensor: decode + flow table + signatures, flows expired once a second of trace time.
  // Twice: on a cold table (the kernel zeroes its pages as flows arrive, inside the timing) and
  // on a pre-faulted one (`ironroot sensor --prefault`, a long-running sensor's steady state).
  struct Pass {
    double seconds = 0;
    double setup_seconds = 0;
    uint64_t flows = 0;
    uint64_t findings = 0;
  };
  auto sensor_pass = [&](bool prefault) {
    Pass out;
    sn::SensorOptions o;
    o.table.capacity = size_t{1} << 21;  // room for the synthetic trace's ~800k live flows
    o.table.prefault = prefault;
    uint64_t flows_out = 0;
    double s0 = cpu_now();
    sn::Sensor s(
        o, [&](const sn::Flow&) { ++flows_out; }, [&](const sn::Finding&) { ++out.findings; });
    out.setup_seconds = cpu_now() - s0;
    uint64_t shift = 0;
    uint64_t last_tick = 0;
    std::vector<const sn::HostFlowIndex*> none;
    std::vector<sn::Sensor::FrameRef> batch;
    batch.reserve(256);
    double start = cpu_now();
    for (uint64_t r = 0; r < rounds; ++r) {
      for (size_t k = 0; k < t.recs.size(); k += 256) {
        batch.clear();
        size_t end = std::min(t.recs.size(), k + 256);
        for (size_t j = k; j < end; ++j) {
          const auto& rec = t.recs[j];
          batch.push_back(
              {rec.ts + shift, ironroot::Bytes(t.bytes.data() + rec.off, rec.len), rec.link});
        }
        s.on_frames(batch);  // as a TPACKET_V3 block arrives: a batch of frames
        uint64_t ts = batch.back().ts_ns;
        if (ts > last_tick + 1'000'000'000ULL) {
          if (last_tick) s.tick(ts, none);
          last_tick = ts;
        }
      }
      shift += t.recs.back().ts - t.recs.front().ts + 1'000'000'000ULL;
    }
    s.finish(none);
    out.seconds = cpu_now() - start;
    out.flows = s.stats().flows;
    return out;
  };
  Pass cold = sensor_pass(false);
  Pass warm = sensor_pass(true);
  std::printf(
      "%s: %llu packets in memory (%zu distinct, %llu rounds): decode %.2f Mpps/core, "
      "decode+flows+signatures %.2f Mpps/core (pre-faulted table; %.2f cold) (%llu flows, %llu "
      "findings, %llu decoded; pre-faulting took %.0f ms)\n",
      label, static_cast<unsigned long long>(total), t.recs.size(),
      static_cast<unsigned long long>(rounds), n / d_decode / 1e6, n / warm.seconds / 1e6,
      n / cold.seconds / 1e6, static_cast<unsigned long long>(warm.flows),
      static_cast<unsigned long long>(warm.findings), static_cast<unsigned long long>(ok),
      warm.setup_seconds * 1e3);
  std::printf("PPS %s %.0f\n", label, n / warm.seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::strcmp(argv[1], "gen") == 0) {
    double zipf = argc >= 6 && std::strcmp(argv[4], "--zipf") == 0 ? std::atof(argv[5]) : 0;
    return gen(argv[2], std::strtoull(argv[3], nullptr, 10), zipf);
  }
  if (argc >= 3 && std::strcmp(argv[1], "run") == 0) {
    std::vector<std::string> files;
    uint64_t min_packets = 0;
    std::string label = "trace";
    for (int i = 2; i < argc; ++i) {
      if (std::strcmp(argv[i], "--min-packets") == 0 && i + 1 < argc) {
        min_packets = std::strtoull(argv[++i], nullptr, 10);
      } else if (std::strcmp(argv[i], "--label") == 0 && i + 1 < argc) {
        label = argv[++i];
      } else {
        files.emplace_back(argv[i]);
      }
    }
    return run(files, min_packets, label.c_str());
  }
  std::fprintf(
      stderr,
      "usage: sensor_bench gen FILE N [--zipf S] | sensor_bench run FILE... [--min-packets M] "
      "[--label NAME]\n");
  return 2;
}
