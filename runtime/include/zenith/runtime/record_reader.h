// Streaming record readers for the dataset formats: fixed-size raw records, TFRecord, WebDataset
// tar shards and .npy arrays. Each pulls from a ByteSource and yields one record (a sample) at a
// time as views into the source's window. A reader never trusts a length it has not checked
// against the file; every error names the file and byte offset. After an error a reader either
// continues with the next record (CRC mismatch of a record's data, a bad tar sample) or reports
// end of file on the next call (the framing is lost), so `onError: skip` can keep going.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "zenith/common/status.h"
#include "zenith/runtime/byte_source.h"

namespace zenith::runtime {

enum class Format { kRaw, kTfRecord, kWebDataset, kNpy };

std::string_view FormatName(Format format);  // "raw", "tfrecord", "wds", "npy"
// `configured` is "auto" (by extension: .tfrecord/.tfrecords/.tfr, .tar, .npy, .raw/.bin) or a
// format name; errors name the file.
Result<Format> ChooseFormat(std::string_view configured, std::string_view path);

// Element type and per-sample shape of fixed-shape records (raw and npy); dtype is NumPy's
// descr ("<f4", "|u1"). An empty dtype means variable-length bytes.
struct TensorSpec {
  std::string dtype;
  std::vector<int64_t> shape;
  friend bool operator==(const TensorSpec&, const TensorSpec&) = default;
};
std::string ShapeString(std::span<const int64_t> shape);  // "(3, 4)"
// Bytes of one element of a NumPy descr ("<f4" → 4); an error for descrs Zenith does not read.
Result<int> DtypeItemSize(std::string_view descr);

struct RecordField {
  std::string_view name;  // the extension for WebDataset ("jpg", "cls"), else ""
  std::span<const std::byte> data;
};

struct Record {
  uint64_t offset = 0;  // byte offset of the record in its file
  std::vector<RecordField> fields;
};

struct FormatOptions {
  uint64_t record_size = 0;        // raw: bytes per record (required)
  std::string raw_dtype = "|u1";   // raw: element type of a record
  std::vector<int64_t> raw_shape;  // raw: per-record shape (default: [record_size / itemsize])
};

class RecordReader {
 public:
  virtual ~RecordReader() = default;
  // Fills `out` with the next record and returns true, or returns false at the end of the
  // file. The views stay valid until the next call.
  virtual Result<bool> Next(Record& out) = 0;
  // Fixed-shape formats: the spec every record of this file has; else an empty dtype.
  virtual const TensorSpec& spec() const = 0;
  const ByteSource& source() const { return *source_; }

 protected:
  explicit RecordReader(std::unique_ptr<ByteSource> source) : source_(std::move(source)) {}
  std::unique_ptr<ByteSource> source_;
};

Result<std::unique_ptr<RecordReader>> MakeRecordReader(Format format,
                                                       std::unique_ptr<ByteSource> source,
                                                       const FormatOptions& options);

}  // namespace zenith::runtime
