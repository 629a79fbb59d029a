// TFRecord: each record is [u64 length][u32 masked crc32c(length)][data][u32 masked crc32c(data)],
// little-endian. Both checksums are verified before a record is handed out.
#include <cstring>

#include "record_formats.h"
#include "zenith/runtime/crc32c.h"

namespace zenith::runtime::internal {
namespace {

template <typename T>
T LoadLe(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // x86-64 and aarch64 are little-endian, as the format is
  return v;
}

class TfRecordReader : public RecordReader {
 public:
  explicit TfRecordReader(std::unique_ptr<ByteSource> source) : RecordReader(std::move(source)) {}

  Result<bool> Next(Record& out) override {
    ByteSource& src = *source_;
    if (pending_skip_ > 0) {
      ZENITH_RETURN_IF_ERROR(src.Skip(pending_skip_));
      pending_skip_ = 0;
    }
    if (done_ || src.remaining() == 0) return false;
    const uint64_t at = src.position();
    if (src.remaining() < 12) {
      done_ = true;
      return src.ErrorAt(
          at, "truncated record header (" + std::to_string(src.remaining()) + " of 12 bytes)");
    }
    ZENITH_ASSIGN_OR_RETURN(auto head, src.Peek(12));
    const uint64_t length = LoadLe<uint64_t>(head.data());
    const uint32_t length_crc = LoadLe<uint32_t>(head.data() + 8);
    if (MaskCrc32c(Crc32c(head.first(8))) != length_crc) {
      done_ = true;  // the length cannot be trusted, so neither can anything after it
      return src.ErrorAt(at, "TFRecord length CRC mismatch");
    }
    if (length > src.remaining() - 12 || src.remaining() - 12 - length < 4) {
      done_ = true;
      return src.ErrorAt(at, "truncated record: length " + std::to_string(length) + " but only " +
                                 std::to_string(src.remaining()) + " bytes left in the file");
    }
    const uint64_t total = 12 + length + 4;
    ZENITH_ASSIGN_OR_RETURN(auto bytes, src.Peek(total));
    const auto data = bytes.subspan(12, length);
    const uint32_t data_crc = LoadLe<uint32_t>(bytes.data() + 12 + length);
    if (MaskCrc32c(Crc32c(data)) != data_crc) {
      ZENITH_RETURN_IF_ERROR(src.Skip(total));  // the framing holds: the next record is fine
      return src.ErrorAt(at, "TFRecord data CRC mismatch (" + std::to_string(length) + " bytes)");
    }
    out.offset = at;
    out.fields.assign(1, RecordField{"", data});
    pending_skip_ = total;
    return true;
  }
  const TensorSpec& spec() const override { return spec_; }

 private:
  TensorSpec spec_;  // variable-length bytes
  uint64_t pending_skip_ = 0;
  bool done_ = false;
};

}  // namespace

Result<std::unique_ptr<RecordReader>> MakeTfRecordReader(std::unique_ptr<ByteSource> source) {
  return std::unique_ptr<RecordReader>(new TfRecordReader(std::move(source)));
}

}  // namespace zenith::runtime::internal
