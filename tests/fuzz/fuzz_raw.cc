// libFuzzer target: the raw fixed-size record reader; the first byte picks the record size.
#include "fuzz_formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  zenith::runtime::FormatOptions options;
  options.record_size = 1 + data[0] % 64;
  return zenith::runtime::fuzz::ParseAll(zenith::runtime::Format::kRaw, data + 1, size - 1,
                                         options);
}
