#include "zenith/runtime/record_reader.h"

#include "record_formats.h"

namespace zenith::runtime {

std::string_view FormatName(Format format) {
  switch (format) {
    case Format::kRaw:
      return "raw";
    case Format::kTfRecord:
      return "tfrecord";
    case Format::kWebDataset:
      return "wds";
    case Format::kNpy:
      return "npy";
  }
  return "?";
}

Result<Format> ChooseFormat(std::string_view configured, std::string_view path) {
  if (configured == "raw") return Format::kRaw;
  if (configured == "tfrecord") return Format::kTfRecord;
  if (configured == "wds") return Format::kWebDataset;
  if (configured == "npy") return Format::kNpy;
  if (configured != "auto") {
    return InvalidArgumentError("format: unknown format '" + std::string(configured) + "'");
  }
  auto ends = [&](std::string_view ext) { return path.ends_with(ext); };
  if (ends(".tfrecord") || ends(".tfrecords") || ends(".tfr")) return Format::kTfRecord;
  if (ends(".tar")) return Format::kWebDataset;
  if (ends(".npy")) return Format::kNpy;
  if (ends(".raw") || ends(".bin")) return Format::kRaw;
  return InvalidArgumentError(std::string(path) +
                              ": cannot tell the format from the extension (expected .tfrecord, "
                              ".tar, .npy, .raw or .bin); set format");
}

std::string ShapeString(std::span<const int64_t> shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

Result<int> DtypeItemSize(std::string_view d) {
  if (d.size() < 3 || (d[0] != '<' && d[0] != '>' && d[0] != '|' && d[0] != '=')) {
    return InvalidArgumentError("dtype '" + std::string(d) + "' is not a NumPy descr like '<f4'");
  }
  const char kind = d[1];
  const std::string_view digits = d.substr(2);
  int size = 0;
  for (char c : digits) {
    if (c < '0' || c > '9' || size > 64) {
      return InvalidArgumentError("dtype '" + std::string(d) + "': bad item size");
    }
    size = size * 10 + (c - '0');
  }
  const bool ok =
      (kind == 'b' && size == 1) ||
      ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
      (kind == 'f' && (size == 2 || size == 4 || size == 8)) ||
      (kind == 'c' && (size == 8 || size == 16));
  if (!ok) return InvalidArgumentError("dtype '" + std::string(d) + "' is not supported");
  if (d[0] == '>' && size > 1) {
    return InvalidArgumentError("dtype '" + std::string(d) + "': big-endian data is not supported");
  }
  return size;
}

Result<std::unique_ptr<RecordReader>> MakeRecordReader(Format format,
                                                       std::unique_ptr<ByteSource> source,
                                                       const FormatOptions& options) {
  switch (format) {
    case Format::kRaw:
      return internal::MakeRawReader(std::move(source), options);
    case Format::kTfRecord:
      return internal::MakeTfRecordReader(std::move(source));
    case Format::kWebDataset:
      return internal::MakeTarReader(std::move(source));
    case Format::kNpy:
      return internal::MakeNpyReader(std::move(source));
  }
  return InvalidArgumentError("unknown format");
}

}  // namespace zenith::runtime
