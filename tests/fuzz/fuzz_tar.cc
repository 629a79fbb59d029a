// libFuzzer target: the tar reader over arbitrary bytes.
#include "fuzz_formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return zenith::runtime::fuzz::ParseAll(zenith::runtime::Format::kWebDataset, data, size);
}
