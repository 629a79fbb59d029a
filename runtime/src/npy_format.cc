// .npy arrays: a magic, a version, a header dictionary ({'descr': '<f4', 'fortran_order':
// False, 'shape': (N, ...)}), then the data. Each row along the first axis is one record. The
// header's claimed size is checked against the file before any record is handed out.
#include <cctype>
#include <cstring>
#include <limits>
#include <optional>

#include "record_formats.h"

namespace zenith::runtime::internal {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

// A tiny reader of the Python literal NumPy writes; it accepts only what the header needs.
class DictParser {
 public:
  explicit DictParser(std::string_view s) : s_(s) {}

  Status Parse(std::string* descr, std::optional<bool>* fortran,
               std::optional<std::vector<int64_t>>* shape) {
    Ws();
    if (!Eat('{')) return Bad("expected '{'");
    for (;;) {
      Ws();
      if (Eat('}')) return Status::Ok();
      std::string key;
      ZENITH_RETURN_IF_ERROR(String(&key));
      Ws();
      if (!Eat(':')) return Bad("expected ':' after '" + key + "'");
      Ws();
      if (key == "descr") {
        ZENITH_RETURN_IF_ERROR(String(descr));
      } else if (key == "fortran_order") {
        if (s_.substr(i_, 4) == "True") {
          *fortran = true;
          i_ += 4;
        } else if (s_.substr(i_, 5) == "False") {
          *fortran = false;
          i_ += 5;
        } else {
          return Bad("fortran_order is not True or False");
        }
      } else if (key == "shape") {
        std::vector<int64_t> dims;
        if (!Eat('(')) return Bad("shape is not a tuple");
        for (;;) {
          Ws();
          if (Eat(')')) break;
          int64_t v = 0;
          if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) {
            return Bad("shape holds a non-integer");
          }
          while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
            if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) return Bad("shape overflows");
            v = v * 10 + (s_[i_++] - '0');
          }
          if (i_ < s_.size() && s_[i_] == 'L') ++i_;  // Python 2 longs
          dims.push_back(v);
          if (dims.size() > 32) return Bad("more than 32 dimensions");
          Ws();
          if (Eat(',')) continue;
          if (Eat(')')) break;
          return Bad("expected ',' or ')' in shape");
        }
        *shape = std::move(dims);
      } else {
        return Bad("unknown key '" + key + "'");
      }
      Ws();
      if (Eat(',')) continue;
      Ws();
      if (Eat('}')) return Status::Ok();
      return Bad("expected ',' or '}'");
    }
  }

 private:
  void Ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool Eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  Status String(std::string* out) {
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) return Bad("expected a string");
    const char q = s_[i_++];
    const std::size_t end = s_.find(q, i_);
    if (end == std::string_view::npos) return Bad("unterminated string");
    *out = std::string(s_.substr(i_, end - i_));
    i_ = end + 1;
    return Status::Ok();
  }
  Status Bad(const std::string& what) {
    return InvalidArgumentError(what + " at header character " + std::to_string(i_));
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

class NpyReader : public RecordReader {
 public:
  explicit NpyReader(std::unique_ptr<ByteSource> source) : RecordReader(std::move(source)) {}

  Result<bool> Next(Record& out) override {
    ByteSource& src = *source_;
    if (!opened_) {
      opened_ = true;
      Status st = ReadHeader();
      if (!st.ok()) {
        done_ = true;
        return st;
      }
    }
    if (pending_skip_ > 0) {
      ZENITH_RETURN_IF_ERROR(src.Skip(pending_skip_));
      pending_skip_ = 0;
    }
    if (done_ || rows_left_ == 0) return false;
    const uint64_t at = src.position();
    ZENITH_ASSIGN_OR_RETURN(auto bytes, src.Peek(row_bytes_));
    out.offset = at;
    out.fields.assign(1, RecordField{"", bytes.first(row_bytes_)});
    pending_skip_ = row_bytes_;
    --rows_left_;
    return true;
  }
  const TensorSpec& spec() const override { return spec_; }

  // Reads and checks the header; the spec is known only afterwards, so Make calls it at once.
  Status ReadHeader() {
    ByteSource& src = *source_;
    ZENITH_ASSIGN_OR_RETURN(auto head, src.Peek(12));
    if (head.size() < 10 || std::memcmp(head.data(), kMagic, 6) != 0) {
      return src.ErrorAt(0, "not a .npy file (bad magic)");
    }
    const auto major = static_cast<uint8_t>(head[6]);
    uint64_t header_len = 0;
    std::size_t prefix = 0;
    if (major == 1) {
      header_len = static_cast<uint8_t>(head[8]) | (static_cast<uint8_t>(head[9]) << 8);
      prefix = 10;
    } else if (major == 2 || major == 3) {
      if (head.size() < 12) return src.ErrorAt(0, "truncated .npy preamble");
      for (int k = 3; k >= 0; --k) header_len = header_len << 8 | static_cast<uint8_t>(head[8 + k]);
      prefix = 12;
    } else {
      return src.ErrorAt(6, ".npy version " + std::to_string(major) + " is not supported");
    }
    if (header_len > src.size() - prefix) {
      return src.ErrorAt(prefix, ".npy header claims " + std::to_string(header_len) +
                                     " bytes, more than the file holds");
    }
    ZENITH_ASSIGN_OR_RETURN(auto all, src.Peek(prefix + header_len));
    const std::string_view dict(reinterpret_cast<const char*>(all.data()) + prefix, header_len);
    std::string descr;
    std::optional<bool> fortran;
    std::optional<std::vector<int64_t>> shape;
    Status st = DictParser(dict).Parse(&descr, &fortran, &shape);
    if (!st.ok()) return src.ErrorAt(prefix, "bad .npy header: " + st.message());
    if (descr.empty() || !fortran || !shape) {
      return src.ErrorAt(prefix, ".npy header lacks descr, fortran_order or shape");
    }
    auto item = DtypeItemSize(descr);
    if (!item.ok()) return src.ErrorAt(prefix, item.status().message());
    if (*fortran && shape->size() > 1) {
      return src.ErrorAt(prefix, "Fortran-order arrays are not supported (write C order)");
    }
    // Bytes the header promises, with every product checked for overflow.
    uint64_t row = static_cast<uint64_t>(*item);
    for (std::size_t d = 1; d < shape->size(); ++d) {
      const uint64_t dim = static_cast<uint64_t>((*shape)[d]);
      if (dim != 0 && row > std::numeric_limits<uint64_t>::max() / dim) {
        return src.ErrorAt(prefix, ".npy shape " + ShapeString(*shape) + " overflows");
      }
      row *= dim;
    }
    const uint64_t rows = shape->empty() ? 1 : static_cast<uint64_t>((*shape)[0]);
    const uint64_t data_at = prefix + header_len;
    const uint64_t have = src.size() - data_at;
    if (row == 0 || (rows != 0 && row > std::numeric_limits<uint64_t>::max() / rows) ||
        rows * row != have) {
      return src.ErrorAt(data_at, ".npy header says shape " + ShapeString(*shape) + " of " + descr +
                                      " but the file holds " + std::to_string(have) +
                                      " bytes of data");
    }
    spec_.dtype = descr;
    spec_.shape.assign(shape->begin() + (shape->empty() ? 0 : 1), shape->end());
    row_bytes_ = row;
    rows_left_ = rows;
    return src.Skip(data_at);
  }

 private:
  TensorSpec spec_;
  uint64_t row_bytes_ = 0;
  uint64_t rows_left_ = 0;
  uint64_t pending_skip_ = 0;
  bool opened_ = false;
  bool done_ = false;
};

}  // namespace

Result<std::unique_ptr<RecordReader>> MakeNpyReader(std::unique_ptr<ByteSource> source) {
  auto reader = std::make_unique<NpyReader>(std::move(source));
  return std::unique_ptr<RecordReader>(std::move(reader));
}

}  // namespace zenith::runtime::internal
