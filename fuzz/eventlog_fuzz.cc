// Fuzz target: the whole event log path a user's `ironroot eventlog show` takes (reader, replay
// with payload checks, every payload decoder including libefivar's device path formatter).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "evidence/eventlog/describe.h"
#include "evidence/eventlog/replay.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ironroot::Bytes bytes(data, size);
  (void)ironroot::evidence::eventlog::replay(bytes);
  auto doc = ironroot::evidence::eventlog::describe_log(bytes);
  if (doc) (void)doc->dump();  // every string we produce must be valid UTF-8 for nlohmann
  return 0;
}
