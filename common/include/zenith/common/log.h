// The one logging call: one line per event, leveled, structured as logfmt (key=value) or JSON.
//   log::Info("pod bound", {{"pod", name}, {"node", node}, {"gpus", 8}});
// Never blocks on anything but the sink's write, never throws, never allocates when the level
// is filtered out.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "zenith/common/status.h"

namespace zenith::common::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kLogfmt, kJson };

// A key and its value, already rendered to text; numbers and booleans stay unquoted in JSON.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), bare(true) {}
  Field(std::string_view k, const Status& s) : key(k), value(s.ToString()) {}
  template <typename N, typename = std::enable_if_t<std::is_arithmetic_v<N>>>
  Field(std::string_view k, N v) : key(k), value(std::to_string(v)), bare(true) {}

  std::string_view key;
  std::string value;
  bool bare = false;  // emit without quotes in JSON
};

// Where lines go. The default writes to stderr; tests install a capturing sink.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void Write(std::string_view line) = 0;  // line has no trailing newline
};

struct Options {
  Level level = Level::kInfo;
  Format format = Format::kLogfmt;
  std::string component;       // added to every line as component=...
  std::shared_ptr<Sink> sink;  // null: stderr
};

void Configure(Options options);
Level CurrentLevel();
bool Enabled(Level level);

// Parses "debug", "info", "warn" or "error"; "logfmt" or "json".
Result<Level> ParseLevel(std::string_view text);
Result<Format> ParseFormat(std::string_view text);

void Write(Level level, std::string_view message, std::initializer_list<Field> fields);
inline void Debug(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, msg, fields);
}
inline void Info(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, msg, fields);
}
inline void Warn(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, msg, fields);
}
inline void Error(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kError)) Write(Level::kError, msg, fields);
}

// Renders one line without writing it; exposed for tests and for the JSON/logfmt contract.
std::string FormatLine(Format format, std::string_view timestamp, Level level,
                       std::string_view component, std::string_view message,
                       std::initializer_list<Field> fields);

}  // namespace zenith::common::log
