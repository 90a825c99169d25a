#include "sensor/capture.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace ironroot::sensor {
namespace {

Error sys_error(const std::string& what) {
  return Error(ErrorCode::kIo, what + ": " + std::strerror(errno));
}

Result<CaptureFileInfo> read_all(pcap_t* p, const std::string& name, const FrameFn& fn) {
  CaptureFileInfo info;
  info.linktype = pcap_datalink(p);
  if (!supported_link_type(info.linktype)) {
    std::string lt =
        pcap_datalink_val_to_name(info.linktype) ? pcap_datalink_val_to_name(info.linktype) : "?";
    pcap_close(p);
    return Error(ErrorCode::kUnsupported,
                 name + ": link type " + std::to_string(info.linktype) + " (" + lt +
                     ") is not one the sensor decodes (Ethernet, BSD loopback, raw IP, Linux SLL)");
  }
  // Nanosecond files give nanoseconds; microsecond files are scaled.
  bool nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
  Frame f;
  f.link = static_cast<LinkType>(info.linktype);
  while (true) {
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    int rc = pcap_next_ex(p, &h, &data);
    if (rc == PCAP_ERROR_BREAK) break;  // end of file
    if (rc != 1) {
      std::string msg = name + ": frame " + std::to_string(info.frames + 1) + ": " + pcap_geterr(p);
      pcap_close(p);
      return malformed(msg);
    }
    ++info.frames;
    uint64_t sec = h->ts.tv_sec < 0 ? 0 : static_cast<uint64_t>(h->ts.tv_sec);
    uint64_t sub = h->ts.tv_usec < 0 ? 0 : static_cast<uint64_t>(h->ts.tv_usec);
    f.ts_ns = sec * 1'000'000'000ULL + (nano ? sub : sub * 1000);
    f.wire_len = h->len;
    f.data = Bytes(data, h->caplen);
    fn(f);
  }
  pcap_close(p);
  return info;
}

}  // namespace

Result<CaptureFileInfo> read_capture_file(const std::string& path, const FrameFn& fn) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  if (p == nullptr) return malformed(path + ": " + err);
  return read_all(p, path, fn);
}

Result<CaptureFileInfo> read_capture_memory(Bytes data, const FrameFn& fn) {
  if (data.empty()) return malformed("capture in memory: empty");
  FILE* f = ::fmemopen(const_cast<uint8_t*>(data.data()), data.size(), "rb");
  if (f == nullptr) return sys_error("fmemopen");
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, err);
  if (p == nullptr) {
    std::fclose(f);
    return malformed(std::string("capture in memory: ") + err);
  }
  return read_all(p, "capture in memory", fn);  // pcap_close closes f
}

Result<CaptureFileInfo> read_capture_file_blocks(const std::string& path, const BlockFn& fn,
                                                 size_t block) {
  if (block == 0) block = 1;
  std::vector<uint8_t> bytes;  // this block's frame data, one after the other
  std::vector<Frame> frames;   // their data offsets in `bytes` until handed over
  std::vector<size_t> offsets;
  bytes.reserve(block * 2048);
  frames.reserve(block);
  offsets.reserve(block);
  auto hand_over = [&] {
    if (frames.empty()) return;
    for (size_t i = 0; i < frames.size(); ++i) {
      frames[i].data = Bytes(bytes.data() + offsets[i], frames[i].data.size());
    }
    fn(frames);
    frames.clear();
    offsets.clear();
    bytes.clear();
  };
  auto info = read_capture_file(path, [&](const Frame& f) {
    offsets.push_back(bytes.size());
    bytes.insert(bytes.end(), f.data.begin(), f.data.end());
    frames.push_back(f);  // data re-pointed into `bytes` when the block is handed over
    if (frames.size() == block) hand_over();
  });
  hand_over();
  return info;
}

// ---- AF_PACKET TPACKET_V3 ----

Result<std::unique_ptr<AfPacketRing>> AfPacketRing::open(const LiveOptions& o) {
  std::unique_ptr<AfPacketRing> r(new AfPacketRing());
  r->fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (r->fd_ < 0) return sys_error("AF_PACKET socket (needs CAP_NET_RAW)");
  int version = TPACKET_V3;
  if (::setsockopt(r->fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) {
    return sys_error("PACKET_VERSION TPACKET_V3");
  }
  tpacket_req3 req{};
  req.tp_block_size = o.block_size;
  req.tp_block_nr = o.block_count;
  req.tp_frame_size = 2048;
  req.tp_frame_nr = (o.block_size / req.tp_frame_size) * o.block_count;
  req.tp_retire_blk_tov = o.block_timeout_ms;
  if (::setsockopt(r->fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) {
    return sys_error("PACKET_RX_RING");
  }
  r->block_size_ = o.block_size;
  r->block_count_ = o.block_count;
  r->map_size_ = size_t{o.block_size} * o.block_count;
  void* m =
      ::mmap(nullptr, r->map_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, r->fd_, 0);
  if (m == MAP_FAILED)
    m = ::mmap(nullptr, r->map_size_, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd_, 0);
  if (m == MAP_FAILED) return sys_error("mmap of the packet ring");
  r->map_ = static_cast<uint8_t*>(m);
  unsigned int ifindex = ::if_nametoindex(o.interface.c_str());
  if (ifindex == 0) return sys_error("interface " + o.interface);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(ifindex);
  if (::bind(r->fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) {
    return sys_error("bind to " + o.interface);
  }
  if (o.promiscuous) {
    packet_mreq mr{};
    mr.mr_ifindex = static_cast<int>(ifindex);
    mr.mr_type = PACKET_MR_PROMISC;
    ::setsockopt(r->fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr);
  }
  if (o.fanout_group > 0) {
    int arg = (o.fanout_group & 0xffff) | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
    if (::setsockopt(r->fd_, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) < 0) {
      return sys_error("PACKET_FANOUT group " + std::to_string(o.fanout_group));
    }
  }
  return r;
}

AfPacketRing::~AfPacketRing() {
  if (map_) ::munmap(map_, map_size_);
  if (fd_ >= 0) ::close(fd_);
}

Result<size_t> AfPacketRing::next_block(int timeout_ms, const FrameFn& fn) {
  return next_block_impl(timeout_ms, &fn, nullptr);
}

// Frames point into the block, which stays ours until it is handed back to the kernel at the end.
Result<size_t> AfPacketRing::next_block_impl(int timeout_ms, const FrameFn* frame_fn,
                                             const BlockFn* block_fn) {
  frames_.clear();
  auto* block = reinterpret_cast<tpacket_block_desc*>(map_ + size_t{current_} * block_size_);
  if ((block->hdr.bh1.block_status & TP_STATUS_USER) == 0) {
    pollfd pfd{fd_, POLLIN | POLLERR, 0};
    int n = ::poll(&pfd, 1, timeout_ms);
    if (n < 0 && errno != EINTR) return sys_error("poll on the packet ring");
    if ((block->hdr.bh1.block_status & TP_STATUS_USER) == 0) return size_t{0};
  }
  uint32_t count = block->hdr.bh1.num_pkts;
  uint32_t off = block->hdr.bh1.offset_to_first_pkt;
  Frame f;
  f.link = LinkType::kEthernet;
  uint8_t* base = reinterpret_cast<uint8_t*>(block);
  for (uint32_t i = 0; i < count; ++i) {
    if (off + sizeof(tpacket3_hdr) > block_size_) break;  // the kernel's layout, checked anyway
    auto* h = reinterpret_cast<tpacket3_hdr*>(base + off);
    if (h->tp_mac + h->tp_snaplen <= block_size_ - off) {
      f.ts_ns = uint64_t{h->tp_sec} * 1'000'000'000ULL + h->tp_nsec;
      f.wire_len = h->tp_len;
      f.data = Bytes(base + off + h->tp_mac, h->tp_snaplen);
      if (frame_fn) (*frame_fn)(f);
      if (block_fn) frames_.push_back(f);
    }
    if (h->tp_next_offset == 0) break;
    off += h->tp_next_offset;
  }
  if (block_fn && !frames_.empty()) (*block_fn)(frames_);
  __atomic_store_n(&block->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
  current_ = (current_ + 1) % block_count_;
  return size_t{count};
}

Result<size_t> AfPacketRing::next_block(int timeout_ms, const BlockFn& fn) {
  return next_block_impl(timeout_ms, nullptr, &fn);
}

LiveStats AfPacketRing::stats() {
  tpacket_stats_v3 s{};
  socklen_t len = sizeof s;
  LiveStats out;
  if (::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &s, &len) == 0) {
    out.packets = s.tp_packets;
    out.drops = s.tp_drops;
  }
  return out;
}

// ---- libpcap live ----

Result<std::unique_ptr<PcapLive>> PcapLive::open(const LiveOptions& o) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_create(o.interface.c_str(), err);
  if (p == nullptr) return Error(ErrorCode::kIo, "pcap " + o.interface + ": " + err);
  pcap_set_snaplen(p, 65535);
  pcap_set_promisc(p, o.promiscuous ? 1 : 0);
  pcap_set_timeout(p, static_cast<int>(o.block_timeout_ms));
  pcap_set_immediate_mode(p, 1);
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
  if (pcap_activate(p) < 0) {
    std::string msg = "pcap " + o.interface + ": " + pcap_geterr(p);
    pcap_close(p);
    return Error(ErrorCode::kIo, msg);
  }
  int lt = pcap_datalink(p);
  if (!supported_link_type(lt)) {
    pcap_close(p);
    return Error(ErrorCode::kUnsupported,
                 "pcap " + o.interface + ": link type " + std::to_string(lt));
  }
  std::unique_ptr<PcapLive> r(new PcapLive());
  r->pcap_ = p;
  r->link_ = static_cast<LinkType>(lt);
  return r;
}

PcapLive::~PcapLive() {
  if (pcap_) pcap_close(static_cast<pcap_t*>(pcap_));
}

Result<size_t> PcapLive::next_batch(const FrameFn& fn) {
  struct Ctx {
    const FrameFn* fn;
    LinkType link;
  } ctx{&fn, link_};
  int n = pcap_dispatch(
      static_cast<pcap_t*>(pcap_), -1,
      [](u_char* user, const pcap_pkthdr* h, const u_char* data) {
        auto* c = reinterpret_cast<Ctx*>(user);
        Frame f;
        f.link = c->link;
        f.ts_ns = static_cast<uint64_t>(h->ts.tv_sec) * 1'000'000'000ULL +
                  static_cast<uint64_t>(h->ts.tv_usec);
        f.wire_len = h->len;
        f.data = Bytes(data, h->caplen);
        (*c->fn)(f);
      },
      reinterpret_cast<u_char*>(&ctx));
  if (n < 0)
    return Error(ErrorCode::kIo, std::string("pcap: ") + pcap_geterr(static_cast<pcap_t*>(pcap_)));
  return static_cast<size_t>(n);
}

LiveStats PcapLive::stats() {
  pcap_stat s{};
  LiveStats out;
  if (pcap_stats(static_cast<pcap_t*>(pcap_), &s) == 0) {
    out.packets = s.ps_recv;
    out.drops = s.ps_drop;
  }
  return out;
}

}  // namespace ironroot::sensor
