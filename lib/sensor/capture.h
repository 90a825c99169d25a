// ironroot sensor: where frames come from. Capture files through libpcap (pcap and pcapng, from
// a path or from memory), live interfaces through an AF_PACKET TPACKET_V3 ring with fanout (one
// socket per thread, both directions of a flow on the same thread), and libpcap live capture as
// a fallback.
//
//   IRONROOT_RETURN_IF_ERROR(read_capture_file(path, [&](const Frame& f) { sensor.on_frame(...);
//   }));
//
//   auto ring = AfPacketRing::open({.interface = "eth0", .fanout_group = 7});
//   while (running) (*ring)->next_block(100, [&](const Frame& f) { ... });
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "sensor/packet.h"

namespace ironroot::sensor {

struct Frame {
  uint64_t ts_ns = 0;
  uint32_t wire_len = 0;  // original length (may exceed data.size() with a snap length)
  Bytes data;
  LinkType link = LinkType::kEthernet;
};
using FrameFn = std::function<void(const Frame&)>;
using BlockFn = std::function<void(std::span<const Frame>)>;

struct CaptureFileInfo {
  int linktype = 0;
  uint64_t frames = 0;
};

// Reads every frame of a pcap / pcapng file. Errors name the file and the frame number; a link
// type the decoder does not know is an error (kUnsupported).
Result<CaptureFileInfo> read_capture_file(const std::string& path, const FrameFn& fn);
// The same on bytes in memory (fmemopen + pcap_fopen_offline).
Result<CaptureFileInfo> read_capture_memory(Bytes data, const FrameFn& fn);
// The same in blocks of up to `block` frames copied out of libpcap's buffer (which it reuses for
// the next frame), for Sensor::on_frames. Frames read before an error are still handed over.
Result<CaptureFileInfo> read_capture_file_blocks(const std::string& path, const BlockFn& fn,
                                                 size_t block = 256);

struct LiveOptions {
  std::string interface;
  int fanout_group = 0;  // > 0: join this PACKET_FANOUT group (hash of the flow, defragmented)
  uint32_t block_size = 1u << 22;
  uint32_t block_count = 16;
  uint32_t block_timeout_ms = 50;  // a partly filled block is handed over after this long
  bool promiscuous = true;
};

struct LiveStats {
  uint64_t packets = 0;
  uint64_t drops = 0;
};

// A TPACKET_V3 receive ring on one interface. Not thread-safe; one per thread.
class AfPacketRing {
 public:
  static Result<std::unique_ptr<AfPacketRing>> open(const LiveOptions& options);
  ~AfPacketRing();
  AfPacketRing(const AfPacketRing&) = delete;
  AfPacketRing& operator=(const AfPacketRing&) = delete;

  // Waits up to timeout_ms for a block, hands each of its frames to fn and returns the block to
  // the kernel. Returns the number of frames.
  Result<size_t> next_block(int timeout_ms, const FrameFn& fn);
  // The same, handing over the whole block at once (for Sensor::on_frames).
  Result<size_t> next_block(int timeout_ms, const BlockFn& fn);
  // Kernel counters since the last call (PACKET_STATISTICS).
  LiveStats stats();

 private:
  AfPacketRing() = default;
  Result<size_t> next_block_impl(int timeout_ms, const FrameFn* frame_fn, const BlockFn* block_fn);
  int fd_ = -1;
  uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  uint32_t block_size_ = 0;
  uint32_t block_count_ = 0;
  uint32_t current_ = 0;
  std::vector<Frame> frames_;
};

// libpcap live capture: the fallback where AF_PACKET rings are not available.
class PcapLive {
 public:
  static Result<std::unique_ptr<PcapLive>> open(const LiveOptions& options);
  ~PcapLive();
  PcapLive(const PcapLive&) = delete;
  PcapLive& operator=(const PcapLive&) = delete;
  Result<size_t> next_batch(const FrameFn& fn);
  LiveStats stats();

 private:
  PcapLive() = default;
  void* pcap_ = nullptr;
  LinkType link_ = LinkType::kEthernet;
};

}  // namespace ironroot::sensor
