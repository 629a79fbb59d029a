#include "zenith/kube/field_mask.h"

#include <cstring>
#include <string>
#include <vector>

namespace zenith::kube {

using Json = nlohmann::json;

namespace {

// "spec.containers.resources" -> "spec", "containers", "resources".
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const size_t dot = path.find('.');
    parts.push_back(path.substr(0, dot));
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return parts;
}

}  // namespace

FieldMask* FieldMask::Mutable(std::string_view key, bool create_kept) {
  auto it = members_.find(key);
  if (it == members_.end()) {
    if (!rest_ || !create_kept) return nullptr;
    it = members_.emplace(std::string(key), std::make_shared<const FieldMask>()).first;
  }
  if (it->second == nullptr) return nullptr;
  auto own = std::make_shared<FieldMask>(*it->second);
  FieldMask* raw = own.get();
  it->second = std::move(own);
  return raw;
}

FieldMask FieldMask::Only(std::initializer_list<std::string_view> paths) {
  FieldMask root;
  root.rest_ = false;
  for (std::string_view path : paths) root.Keep(path);
  return root;
}

FieldMask& FieldMask::Keep(std::string_view path) {
  FieldMask* at = this;
  for (std::string_view part : SplitPath(path)) {
    if (at->KeepsAll()) return *this;  // a shorter path keeps all of this already
    auto it = at->members_.find(part);
    if (it == at->members_.end() || it->second == nullptr) {
      auto next = std::make_shared<FieldMask>();
      next->rest_ = false;
      at->members_.insert_or_assign(std::string(part), next);
      at = next.get();
    } else {
      at = at->Mutable(part, /*create_kept=*/false);
    }
  }
  at->rest_ = true;  // the path's end keeps its whole value
  at->members_.clear();
  return *this;
}

FieldMask& FieldMask::Drop(std::string_view path) {
  std::vector<std::string_view> parts = SplitPath(path);
  if (parts.empty()) return *this;
  FieldMask* at = this;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    at = at->Mutable(parts[i], /*create_kept=*/true);
    if (at == nullptr) return *this;  // already left out
  }
  if (at->members_.count(parts.back()) || at->rest_)
    at->members_.insert_or_assign(std::string(parts.back()), nullptr);
  return *this;
}

FieldMask& FieldMask::With(std::string_view key, std::shared_ptr<const FieldMask> mask) {
  members_.insert_or_assign(std::string(key), std::move(mask));
  return *this;
}

const FieldMask* FieldMask::Member(std::string_view key) const {
  static const FieldMask kAll;
  auto it = members_.find(key);
  if (it != members_.end()) return it->second.get();
  return rest_ ? &kAll : nullptr;
}

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// A string's bytes between its quotes that need no decoding or checking: no escapes, no
// control characters, ASCII only (nlohmann checks UTF-8; such strings go through it).
bool IsPlain(const char* begin, const char* end) {
  for (const char* c = begin; c < end; ++c) {
    const auto u = static_cast<unsigned char>(*c);
    if (u == '\\' || u < 0x20 || u >= 0x80) return false;
  }
  return true;
}

// A recursive reader over the text: where the mask keeps a value whole it hands that value's
// bytes to nlohmann::json::parse; where it keeps part of an object it reads the members itself;
// what it leaves out it steps over.
class MaskedReader {
 public:
  explicit MaskedReader(std::string_view text)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

  Status Document(const FieldMask& mask, Json& out) {
    ZENITH_RETURN_IF_ERROR(Value(mask, out, 0));
    SkipSpace();
    if (p_ != end_) return Error("unexpected text after the value");
    return Status::Ok();
  }

 private:
  // nlohmann's own limit is the stack; this one keeps a hostile document from exhausting it.
  static constexpr int kMaxDepth = 512;

  Status Error(const std::string& what) const {
    return DataLossError("JSON at byte " + std::to_string(p_ - begin_) + ": " + what);
  }

  void SkipSpace() {
    while (p_ < end_ && IsSpace(*p_)) ++p_;
  }

  // p_ at the opening quote; leaves p_ after the closing one.
  Status StepOverString() {
    const char* const open = p_++;
    while (true) {
      const void* q = std::memchr(p_, '"', static_cast<size_t>(end_ - p_));
      if (q == nullptr) {
        p_ = open;
        return Error("unterminated string");
      }
      const char* quote = static_cast<const char*>(q);
      // The quote is escaped when an odd number of backslashes precede it.
      size_t slashes = 0;
      for (const char* b = quote; b > p_ && b[-1] == '\\'; --b) ++slashes;
      p_ = quote + 1;
      if (slashes % 2 == 0) return Status::Ok();
    }
  }

  // Steps over one value without building it.
  Status StepOver() {
    std::string open;  // the closers expected, innermost last
    do {
      SkipSpace();
      if (p_ == end_) return Error("unexpected end of text");
      const char c = *p_;
      if (c == '"') {
        ZENITH_RETURN_IF_ERROR(StepOverString());
      } else if (c == '{' || c == '[') {
        if (open.size() >= kMaxDepth) return Error("nested too deeply");
        open.push_back(c == '{' ? '}' : ']');
        ++p_;
        continue;
      } else if (c == '}' || c == ']') {
        if (open.empty() || open.back() != c) return Error(std::string("unexpected '") + c + "'");
        open.pop_back();
        ++p_;
      } else if (c == ',' || c == ':') {
        if (open.empty()) return Error(std::string("unexpected '") + c + "'");
        ++p_;
        continue;
      } else if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
        while (p_ < end_ && !IsSpace(*p_) && *p_ != ',' && *p_ != ':' && *p_ != ']' && *p_ != '}' &&
               *p_ != '"' && *p_ != '[' && *p_ != '{')
          ++p_;
      } else {
        return Error(std::string("unexpected character '") + c + "'");
      }
    } while (!open.empty());
    return Status::Ok();
  }

  // A whole value through nlohmann: exactly what Json::parse would build.
  Status Whole(Json& out) {
    const char* start = p_;
    if (*p_ == '"') {
      ZENITH_RETURN_IF_ERROR(StepOverString());
      // Most strings are plain: build them directly.
      if (IsPlain(start + 1, p_ - 1)) {
        out = std::string(start + 1, p_ - 1);
        return Status::Ok();
      }
    } else {
      ZENITH_RETURN_IF_ERROR(StepOver());
    }
    try {
      out = Json::parse(start, p_);
    } catch (const Json::parse_error& e) {
      // nlohmann counts lines and columns within this value; the offset of the value is ours.
      std::string why = e.what();
      const size_t column = why.find("column ");
      const size_t colon = column == std::string::npos ? column : why.find(": ", column);
      if (colon != std::string::npos) why = why.substr(colon + 2);
      p_ = start;
      return Error("invalid value: " + why);
    }
    return Status::Ok();
  }

  Status Key(std::string& key) {
    if (p_ == end_ || *p_ != '"') return Error("expected a member name");
    const char* start = p_;
    ZENITH_RETURN_IF_ERROR(StepOverString());
    if (IsPlain(start + 1, p_ - 1)) {
      key.assign(start + 1, p_ - 1);
      return Status::Ok();
    }
    Json k = Json::parse(start, p_, nullptr, /*allow_exceptions=*/false);
    if (!k.is_string()) {
      p_ = start;
      return Error("invalid member name");
    }
    key = k.get<std::string>();
    return Status::Ok();
  }

  Status Value(const FieldMask& mask, Json& out, int depth) {
    SkipSpace();
    if (p_ == end_) return Error("unexpected end of text");
    if (depth >= kMaxDepth) return Error("nested too deeply");
    const char c = *p_;
    if (mask.KeepsAll() || (c != '{' && c != '[')) return Whole(out);
    ++p_;
    if (c == '[') {
      out = Json::array();
      SkipSpace();
      if (p_ < end_ && *p_ == ']') {
        ++p_;
        return Status::Ok();
      }
      while (true) {
        out.push_back(Json());
        ZENITH_RETURN_IF_ERROR(Value(mask, out.back(), depth + 1));
        SkipSpace();
        if (p_ == end_) return Error("unexpected end of text in an array");
        if (*p_ == ']') break;
        if (*p_ != ',') return Error("expected ',' or ']'");
        ++p_;
      }
      ++p_;
      return Status::Ok();
    }
    out = Json::object();
    SkipSpace();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return Status::Ok();
    }
    std::string key;
    while (true) {
      SkipSpace();
      ZENITH_RETURN_IF_ERROR(Key(key));
      SkipSpace();
      if (p_ == end_ || *p_ != ':') return Error("expected ':' after \"" + key + "\"");
      ++p_;
      const FieldMask* member = mask.Member(key);
      if (member != nullptr) {
        ZENITH_RETURN_IF_ERROR(Value(*member, out[key], depth + 1));
      } else {
        SkipSpace();
        ZENITH_RETURN_IF_ERROR(StepOver());
      }
      SkipSpace();
      if (p_ == end_) return Error("unexpected end of text in an object");
      if (*p_ == '}') break;
      if (*p_ != ',') return Error("expected ',' or '}'");
      ++p_;
    }
    ++p_;
    return Status::Ok();
  }

  const char* const begin_;
  const char* p_;
  const char* const end_;
};

}  // namespace

Result<Json> ParseMasked(std::string_view text, const FieldMask& mask) {
  Json out;
  MaskedReader reader(text);
  ZENITH_RETURN_IF_ERROR(reader.Document(mask, out));
  return out;
}

}  // namespace zenith::kube
