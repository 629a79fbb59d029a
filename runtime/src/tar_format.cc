// WebDataset shards: a tar archive (ustar, with pax 'x' and GNU 'L' long names) whose files are
// grouped into samples by key (the path up to the first '.' of the base name), each file a field
// named by its extension. Header checksums are verified; a corrupt header ends the file.
#include <algorithm>
#include <cstring>
#include <optional>

#include "record_formats.h"

namespace zenith::runtime::internal {
namespace {

constexpr std::size_t kBlock = 512;

uint64_t RoundUp(uint64_t n) { return (n + kBlock - 1) / kBlock * kBlock; }

// An octal field (NUL or space terminated), or GNU's base-256 for big sizes.
bool ParseNumber(const std::byte* p, std::size_t n, uint64_t* out) {
  const auto* c = reinterpret_cast<const unsigned char*>(p);
  uint64_t v = 0;
  if (c[0] & 0x80) {
    for (std::size_t i = 1; i < n; ++i) {
      if (v >> 56) return false;
      v = v << 8 | c[i];
    }
    if (c[0] & 0x40) return false;  // negative
    *out = v;
    return true;
  }
  std::size_t i = 0;
  while (i < n && c[i] == ' ') ++i;
  bool any = false;
  for (; i < n && c[i] >= '0' && c[i] <= '7'; ++i) {
    if (v >> 60) return false;
    v = v * 8 + (c[i] - '0');
    any = true;
  }
  for (; i < n; ++i) {
    if (c[i] != 0 && c[i] != ' ') return false;
  }
  *out = v;
  return any;
}

std::string CString(const std::byte* p, std::size_t n) {
  const char* c = reinterpret_cast<const char*>(p);
  return std::string(c, strnlen(c, n));
}

class TarReader : public RecordReader {
 public:
  explicit TarReader(std::unique_ptr<ByteSource> source) : RecordReader(std::move(source)) {}

  Result<bool> Next(Record& out) override {
    ByteSource& src = *source_;
    sample_.clear();
    key_.clear();
    uint64_t sample_at = 0;
    for (;;) {
      if (done_) break;
      const uint64_t at = src.position();
      if (src.remaining() == 0) {
        done_ = true;  // tolerated: archives cut after the last entry, without end blocks
        break;
      }
      if (src.remaining() < kBlock) {
        if (!sample_.empty()) break;  // deliver the finished sample; the error comes next call
        done_ = true;
        return src.ErrorAt(
            at, "truncated tar header (" + std::to_string(src.remaining()) + " of 512 bytes)");
      }
      ZENITH_ASSIGN_OR_RETURN(auto block, src.Peek(kBlock));
      const std::byte* h = block.data();
      if (std::all_of(h, h + kBlock, [](std::byte b) { return b == std::byte{0}; })) {
        done_ = true;  // end-of-archive marker
        break;
      }
      Entry e;
      Status st = ParseHeader(h, at, &e);
      if (!st.ok()) {
        if (!sample_.empty()) break;
        done_ = true;
        return st;
      }
      if (e.size > src.remaining() - kBlock) {
        if (!sample_.empty()) break;
        done_ = true;
        return src.ErrorAt(at, "truncated tar entry '" + e.name + "': " + std::to_string(e.size) +
                                   " bytes but only " + std::to_string(src.remaining() - kBlock) +
                                   " left");
      }
      const uint64_t padded = std::min<uint64_t>(RoundUp(e.size), src.remaining() - kBlock);
      if (e.type == 'x' || e.type == 'L') {
        ZENITH_ASSIGN_OR_RETURN(auto body, src.Peek(kBlock + e.size));
        const auto text = body.subspan(kBlock, e.size);
        st = e.type == 'x' ? ParsePax(text, at) : Status::Ok();
        if (e.type == 'L') long_name_ = CString(text.data(), text.size());
        if (!st.ok()) {
          if (!sample_.empty()) break;
          done_ = true;
          return st;
        }
        ZENITH_RETURN_IF_ERROR(src.Skip(kBlock + padded));
        continue;
      }
      // A pending long name or pax override applies to this entry only.
      if (!long_name_.empty()) e.name = long_name_;
      if (pax_path_) e.name = *pax_path_;
      if (pax_size_) {
        e.size = *pax_size_;
        if (e.size > src.remaining() - kBlock) {
          if (!sample_.empty()) break;
          done_ = true;
          return src.ErrorAt(
              at, "truncated tar entry '" + e.name + "' (pax size " + std::to_string(e.size) + ")");
        }
      }
      const uint64_t entry_padded = std::min<uint64_t>(RoundUp(e.size), src.remaining() - kBlock);
      const bool regular = e.type == '0' || e.type == '\0' || e.type == '7';
      if (!regular) {
        ClearOverrides();
        ZENITH_RETURN_IF_ERROR(src.Skip(kBlock + entry_padded));
        continue;
      }
      std::string key, ext;
      SplitKey(e.name, &key, &ext);
      if (!sample_.empty() && key != key_) break;  // this entry starts the next sample
      ClearOverrides();
      if (sample_.empty()) {
        key_ = key;
        sample_at = at;
      }
      ZENITH_ASSIGN_OR_RETURN(auto body, src.Peek(kBlock + e.size));
      const auto data = body.subspan(kBlock, e.size);
      for (const Field& f : sample_) {
        if (f.name == ext) {
          ZENITH_RETURN_IF_ERROR(src.Skip(kBlock + entry_padded));
          sample_.clear();
          return src.ErrorAt(at, "sample '" + key + "' has two '" + ext + "' fields");
        }
      }
      Field& f = NextField();
      f.name = ext;
      f.data.assign(data.begin(), data.end());
      ZENITH_RETURN_IF_ERROR(src.Skip(kBlock + entry_padded));
    }
    if (sample_.empty()) return false;
    out.offset = sample_at;
    out.fields.clear();
    for (const Field& f : sample_) out.fields.push_back({f.name, f.data});
    return true;
  }
  const TensorSpec& spec() const override { return spec_; }

 private:
  struct Entry {
    std::string name;
    uint64_t size = 0;
    char type = '0';
  };
  struct Field {
    std::string name;
    std::vector<std::byte> data;
  };

  Status ParseHeader(const std::byte* h, uint64_t at, Entry* e) const {
    uint64_t stored = 0;
    if (!ParseNumber(h + 148, 8, &stored)) {
      return source_->ErrorAt(at, "corrupt tar header (checksum field is not a number)");
    }
    uint64_t sum = 0;
    int64_t signed_sum = 0;
    for (std::size_t i = 0; i < kBlock; ++i) {
      const auto b = (i >= 148 && i < 156) ? uint8_t{' '} : static_cast<uint8_t>(h[i]);
      sum += b;
      signed_sum += static_cast<int8_t>(b);
    }
    if (stored != sum && static_cast<int64_t>(stored) != signed_sum) {
      return source_->ErrorAt(at, "corrupt tar header (checksum " + std::to_string(stored) +
                                      ", computed " + std::to_string(sum) + ")");
    }
    if (!ParseNumber(h + 124, 12, &e->size)) {
      return source_->ErrorAt(at, "corrupt tar header (size field)");
    }
    e->type = static_cast<char>(h[156]);
    e->name = CString(h, 100);
    const bool ustar = std::memcmp(h + 257, "ustar", 5) == 0;
    if (ustar && h[345] != std::byte{0}) e->name = CString(h + 345, 155) + "/" + e->name;
    return Status::Ok();
  }

  // pax records: "<len> <key>=<value>\n"; Zenith uses path and size.
  Status ParsePax(std::span<const std::byte> text, uint64_t at) {
    std::string_view s(reinterpret_cast<const char*>(text.data()), text.size());
    while (!s.empty()) {
      std::size_t len = 0, i = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9' && len < s.size() + 1) {
        len = len * 10 + static_cast<std::size_t>(s[i++] - '0');
      }
      if (i == 0 || len > s.size() || len <= i + 1 || s[i] != ' ' || s[len - 1] != '\n') {
        return source_->ErrorAt(at, "corrupt pax header record");
      }
      const std::string_view rec = s.substr(i + 1, len - i - 2);
      const std::size_t eq = rec.find('=');
      if (eq == std::string_view::npos) return source_->ErrorAt(at, "corrupt pax header record");
      const std::string_view key = rec.substr(0, eq), value = rec.substr(eq + 1);
      if (key == "path") pax_path_ = std::string(value);
      if (key == "size") {
        uint64_t v = 0;
        if (value.empty() || value.size() > 18) return source_->ErrorAt(at, "bad pax size");
        for (char c : value) {
          if (c < '0' || c > '9') return source_->ErrorAt(at, "bad pax size");
          v = v * 10 + static_cast<uint64_t>(c - '0');
        }
        pax_size_ = v;
      }
      s.remove_prefix(len);
    }
    return Status::Ok();
  }

  static void SplitKey(const std::string& path, std::string* key, std::string* ext) {
    const std::size_t slash = path.rfind('/');
    const std::size_t base = slash == std::string::npos ? 0 : slash + 1;
    const std::size_t dot = path.find('.', base);
    if (dot == std::string::npos) {
      *key = path;
      ext->clear();
    } else {
      *key = path.substr(0, dot);
      *ext = path.substr(dot + 1);
    }
  }

  void ClearOverrides() {
    long_name_.clear();
    pax_path_.reset();
    pax_size_.reset();
  }

  Field& NextField() { return sample_.emplace_back(); }

  TensorSpec spec_;
  std::vector<Field> sample_;
  std::string key_;
  std::string long_name_;
  std::optional<std::string> pax_path_;
  std::optional<uint64_t> pax_size_;
  bool done_ = false;
};

}  // namespace

Result<std::unique_ptr<RecordReader>> MakeTarReader(std::unique_ptr<ByteSource> source) {
  return std::unique_ptr<RecordReader>(new TarReader(std::move(source)));
}

}  // namespace zenith::runtime::internal
