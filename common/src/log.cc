#include "zenith/common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

namespace zenith::common::log {
namespace {

struct State {
  std::mutex mu;
  Options options;
};

State& GetState() {
  static State* state = new State();  // never destroyed: logging works during static teardown
  return *state;
}

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) >= 0x7f) {
      return true;
    }
  }
  return false;
}

void AppendLogfmtValue(std::string& out, std::string_view v) {
  if (!NeedsQuotes(v)) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  out += '"';
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

}  // namespace

void Configure(Options options) {
  State& s = GetState();
  std::lock_guard lock(s.mu);
  g_level.store(static_cast<int>(options.level), std::memory_order_relaxed);
  s.options = std::move(options);
}

Level CurrentLevel() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

bool Enabled(Level level) {
  // Relaxed: a level change racing with a log call may let one line through either way.
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

Result<Level> ParseLevel(std::string_view text) {
  if (text == "debug") return Level::kDebug;
  if (text == "info") return Level::kInfo;
  if (text == "warn" || text == "warning") return Level::kWarn;
  if (text == "error") return Level::kError;
  return InvalidArgumentError("unknown log level '" + std::string(text) +
                              "' (use debug, info, warn or error)");
}

Result<Format> ParseFormat(std::string_view text) {
  if (text == "logfmt" || text == "text") return Format::kLogfmt;
  if (text == "json") return Format::kJson;
  return InvalidArgumentError("unknown log format '" + std::string(text) +
                              "' (use logfmt or json)");
}

std::string FormatLine(Format format, std::string_view timestamp, Level level,
                       std::string_view component, std::string_view message,
                       std::initializer_list<Field> fields) {
  if (format == Format::kJson) {
    nlohmann::ordered_json j;
    j["ts"] = timestamp;
    j["level"] = LevelName(level);
    if (!component.empty()) j["component"] = component;
    j["msg"] = message;
    for (const Field& f : fields) {
      std::string key(f.key);
      if (f.bare) {
        auto parsed = nlohmann::json::parse(f.value, nullptr, /*allow_exceptions=*/false);
        j[key] = parsed.is_discarded() ? nlohmann::json(f.value) : parsed;
      } else {
        j[key] = f.value;
      }
    }
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string out;
  out.reserve(96 + message.size());
  out += "ts=";
  out += timestamp;
  out += " level=";
  out += LevelName(level);
  if (!component.empty()) {
    out += " component=";
    AppendLogfmtValue(out, component);
  }
  out += " msg=";
  AppendLogfmtValue(out, message);
  for (const Field& f : fields) {
    out += ' ';
    out += f.key;
    out += '=';
    AppendLogfmtValue(out, f.value);
  }
  return out;
}

void Write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  State& s = GetState();
  std::lock_guard lock(s.mu);  // one writer at a time keeps lines whole
  std::string line =
      FormatLine(s.options.format, Timestamp(), level, s.options.component, message, fields);
  if (s.options.sink) {
    s.options.sink->Write(line);
  } else {
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

}  // namespace zenith::common::log
