// Fuzz target: the UEFI structure parsers on their own, so the fuzzer reaches them without
// first having to build a valid event log around them. The first byte picks the parser.
#include <cstddef>
#include <cstdint>

#include "evidence/eventlog/uefi.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace el = ironroot::evidence::eventlog;
  if (size < 1) return 0;
  ironroot::Bytes b(data + 1, size - 1);
  switch (data[0] % 7) {
    case 0: (void)el::parse_variable_data(b, 0); break;
    case 1: (void)el::parse_signature_lists(b, 0); break;
    case 2: (void)el::parse_load_option(b, 0); break;
    case 3: (void)el::parse_image_load_event(b, 0); break;
    case 4: (void)el::parse_gpt_data(b, 0); break;
    case 5: (void)el::device_path_to_text(b, 0); break;
    case 6: (void)el::payload_text(b); break;
  }
  return 0;
}
