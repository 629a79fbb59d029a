// Fixed-size raw records: the file is N back-to-back records of record_size bytes.
#include <numeric>

#include "record_formats.h"

namespace zenith::runtime::internal {
namespace {

class RawReader : public RecordReader {
 public:
  RawReader(std::unique_ptr<ByteSource> source, uint64_t record_size, TensorSpec spec)
      : RecordReader(std::move(source)), record_size_(record_size), spec_(std::move(spec)) {}

  Result<bool> Next(Record& out) override {
    ByteSource& src = *source_;
    if (pending_skip_ > 0) {
      ZENITH_RETURN_IF_ERROR(src.Skip(pending_skip_));
      pending_skip_ = 0;
    }
    if (src.remaining() == 0) return false;
    const uint64_t at = src.position();
    if (src.remaining() < record_size_) {
      const uint64_t tail = src.remaining();
      ZENITH_RETURN_IF_ERROR(src.Skip(tail));  // the partial record is never delivered
      return src.ErrorAt(at, std::to_string(tail) + " trailing bytes are not a whole record of " +
                                 std::to_string(record_size_) + " bytes (file size " +
                                 std::to_string(src.size()) + " is not a multiple of it)");
    }
    ZENITH_ASSIGN_OR_RETURN(auto bytes, src.Peek(record_size_));
    out.offset = at;
    out.fields.assign(1, RecordField{"", bytes.first(record_size_)});
    pending_skip_ = record_size_;  // consumed at the next call, so the view stays valid
    return true;
  }
  const TensorSpec& spec() const override { return spec_; }

 private:
  uint64_t record_size_;
  TensorSpec spec_;
  uint64_t pending_skip_ = 0;
};

}  // namespace

Result<std::unique_ptr<RecordReader>> MakeRawReader(std::unique_ptr<ByteSource> source,
                                                    const FormatOptions& options) {
  if (options.record_size == 0) {
    return InvalidArgumentError(source->name() + ": raw format needs record-size");
  }
  ZENITH_ASSIGN_OR_RETURN(int item, DtypeItemSize(options.raw_dtype));
  TensorSpec spec{options.raw_dtype, options.raw_shape};
  if (spec.shape.empty()) {
    if (options.record_size % item != 0) {
      return InvalidArgumentError("record-size " + std::to_string(options.record_size) +
                                  " is not a multiple of dtype " + options.raw_dtype + "'s " +
                                  std::to_string(item) + " bytes");
    }
    spec.shape = {static_cast<int64_t>(options.record_size / item)};
  }
  const int64_t elements =
      std::accumulate(spec.shape.begin(), spec.shape.end(), int64_t{1}, std::multiplies<>());
  if (elements * item != static_cast<int64_t>(options.record_size)) {
    return InvalidArgumentError("record-shape " + ShapeString(spec.shape) + " of " +
                                options.raw_dtype + " is not record-size " +
                                std::to_string(options.record_size) + " bytes");
  }
  return std::unique_ptr<RecordReader>(
      new RawReader(std::move(source), options.record_size, std::move(spec)));
}

}  // namespace zenith::runtime::internal
