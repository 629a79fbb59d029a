#include "zenith/common/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace zenith::common {
namespace {

std::string EnvName(const std::string& prefix, const std::string& key) {
  std::string out = prefix;
  for (char c : key) {
    out += (c == '.' || c == '-') ? '_'
                                  : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    start = end + 1;
  }
  return out;
}

std::string Where(const std::string& file, const YAML::Mark& mark) {
  return "file " + file + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1);
}

template <typename Entry>
Status Flatten(const YAML::Node& node, const std::string& prefix, const std::string& file,
               std::map<std::string, Entry>& out) {
  for (const auto& kv : node) {
    // Copies: yaml-cpp's iterator proxies die at the end of the expression that made them.
    const YAML::Node key_node = kv.first;
    const YAML::Node value = kv.second;
    if (!key_node.IsScalar()) {
      return InvalidArgumentError("config file " + file + ":" +
                                  std::to_string(key_node.Mark().line + 1) +
                                  ": keys must be plain strings");
    }
    std::string key = prefix.empty() ? key_node.Scalar() : prefix + "." + key_node.Scalar();
    Entry e;
    e.source = Where(file, value.Mark().line >= 0 ? value.Mark() : key_node.Mark());
    if (value.IsMap()) {
      e.is_map = true;
      out[key] = e;
      ZENITH_RETURN_IF_ERROR(Flatten(value, key, file, out));
      continue;
    }
    if (value.IsSequence()) {
      e.is_list = true;
      for (const auto& item : value) {
        if (!item.IsScalar()) {
          return InvalidArgumentError("config key '" + key + "' (" + Where(file, item.Mark()) +
                                      "): expected a list of plain values");
        }
        e.list.push_back(item.Scalar());
      }
    } else if (value.IsScalar()) {
      e.text = value.Scalar();
    }  // null: an empty string
    out[key] = e;
  }
  return Status::Ok();
}

bool ParseInt(const std::string& text, int64_t& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 0);
  if (errno != 0 || end == nullptr || *end != '\0') return false;
  out = v;
  return true;
}

}  // namespace

Result<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  using namespace std::chrono;
  if (text.empty()) return InvalidArgumentError("empty duration");
  std::string s(text);
  char* end = nullptr;
  errno = 0;
  double bare = std::strtod(s.c_str(), &end);
  if (errno == 0 && end && *end == '\0') {
    if (bare < 0) return InvalidArgumentError("negative duration '" + s + "'");
    return duration_cast<nanoseconds>(duration<double>(bare));
  }
  nanoseconds total{0};
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    if (j == i) {
      return InvalidArgumentError("bad duration '" + s + "' (use forms like 250ms, 2s, 1m30s, 1h)");
    }
    double value = std::strtod(s.substr(i, j - i).c_str(), nullptr);
    size_t k = j;
    while (k < s.size() && std::isalpha(static_cast<unsigned char>(s[k]))) ++k;
    std::string unit = s.substr(j, k - j);
    double scale;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "µs")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else {
      return InvalidArgumentError("bad duration '" + s + "': unknown unit '" + unit +
                                  "' (use ns, us, ms, s, m or h)");
    }
    total += nanoseconds(static_cast<int64_t>(value * scale));
    i = k;
  }
  return total;
}

Result<Config> Config::Load(int argc, char** argv, std::string env_prefix) {
  ConfigSources sources;
  for (int i = 1; i < argc; ++i) sources.args.emplace_back(argv[i]);
  sources.env_prefix = std::move(env_prefix);
  return Load(sources);
}

Result<Config> Config::Load(const ConfigSources& sources) {
  Config config;
  config.env_prefix_ = sources.env_prefix;
  config.getenv_ = sources.getenv;
  config.file_ = sources.file;

  const auto& args = sources.args;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      config.positional_.insert(config.positional_.end(),
                                args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg.rfind("--", 0) != 0) {
      if (arg.size() > 1 && arg[0] == '-') {
        return InvalidArgumentError("flag '" + arg + "': flags are spelled --key=value");
      }
      config.positional_.push_back(arg);
      continue;
    }
    std::string key = arg.substr(2);
    std::string value;
    size_t eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      value = args[++i];
    } else {
      value = "true";  // a bare --flag is a boolean switch
    }
    if (key.empty()) return InvalidArgumentError("flag '" + arg + "' has no name");
    if (key == "config") {
      config.file_ = value;
      continue;
    }
    Entry e;
    e.text = value;
    e.source = "flag --" + key;
    config.flag_entries_[key] = e;
  }

  if (!config.file_.empty()) {
    std::ifstream in(config.file_);
    if (!in) {
      return NotFoundError("config file " + config.file_ + ": cannot be opened (" +
                           ErrnoMessage(errno) + ")");
    }
    YAML::Node root;
    try {
      root = YAML::Load(in);
    } catch (const YAML::Exception& e) {
      return InvalidArgumentError("config file " + config.file_ + ":" +
                                  std::to_string(e.mark.line + 1) + ":" +
                                  std::to_string(e.mark.column + 1) + ": " + e.msg);
    }
    if (root && !root.IsNull()) {
      if (!root.IsMap()) {
        return InvalidArgumentError("config file " + config.file_ +
                                    ": the top level must be a "
                                    "mapping of keys to values");
      }
      ZENITH_RETURN_IF_ERROR(Flatten(root, "", config.file_, config.file_entries_));
    }
  }
  return config;
}

std::optional<Config::Entry> Config::Find(const std::string& key) const {
  if (auto it = flag_entries_.find(key); it != flag_entries_.end()) return it->second;
  if (!env_prefix_.empty()) {
    std::string name = EnvName(env_prefix_, key);
    std::optional<std::string> value;
    if (getenv_) {
      value = getenv_(name);
    } else if (const char* v = std::getenv(name.c_str())) {  // NOLINT(concurrency-mt-unsafe)
      value = v;
    }
    if (value) {
      Entry e;
      e.text = *value;
      e.source = "environment " + name;
      return e;
    }
  }
  if (auto it = file_entries_.find(key); it != file_entries_.end()) return it->second;
  return std::nullopt;
}

bool Config::Has(const std::string& key) const { return Find(key).has_value(); }

std::string Config::SourceOf(const std::string& key) const {
  auto e = Find(key);
  return e ? e->source : "default";
}

Status Config::Error(const std::string& key, const Entry& e, const std::string& what) const {
  return InvalidArgumentError("config key '" + key + "' (" + e.source + "): " + what);
}

Result<std::string> Config::String(const std::string& key, std::string fallback) const {
  auto e = Find(key);
  if (!e) return fallback;
  if (e->is_list || e->is_map) return Error(key, *e, "expected a single value, got a list or map");
  return e->text;
}

Result<std::string> Config::RequiredString(const std::string& key) const {
  auto e = Find(key);
  if (!e || (!e->is_list && !e->is_map && e->text.empty())) {
    return InvalidArgumentError("config key '" + key + "' is required: set it in the config file" +
                                (file_.empty() ? std::string() : " " + file_) + ", with --" + key +
                                " or with " + EnvName(env_prefix_, key));
  }
  return String(key, "");
}

Result<int64_t> Config::Int(const std::string& key, int64_t fallback, int64_t min,
                            int64_t max) const {
  auto e = Find(key);
  if (!e) return fallback;
  int64_t v = 0;
  if (e->is_list || e->is_map || !ParseInt(e->text, v)) {
    return Error(key, *e, "expected an integer, got '" + e->text + "'");
  }
  if (v < min || v > max) {
    return Error(key, *e,
                 "value " + std::to_string(v) + " is out of range [" + std::to_string(min) + ", " +
                     std::to_string(max) + "]");
  }
  return v;
}

Result<double> Config::Double(const std::string& key, double fallback) const {
  auto e = Find(key);
  if (!e) return fallback;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(e->text.c_str(), &end);
  if (e->is_list || e->is_map || e->text.empty() || errno != 0 || *end != '\0') {
    return Error(key, *e, "expected a number, got '" + e->text + "'");
  }
  return v;
}

Result<bool> Config::Bool(const std::string& key, bool fallback) const {
  auto e = Find(key);
  if (!e) return fallback;
  std::string t = e->text;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  return Error(key, *e, "expected true or false, got '" + e->text + "'");
}

Result<std::chrono::nanoseconds> Config::Duration(const std::string& key,
                                                  std::chrono::nanoseconds fallback) const {
  auto e = Find(key);
  if (!e) return fallback;
  auto d = ParseDuration(e->text);
  if (!d.ok()) return Error(key, *e, d.status().message());
  return d;
}

Result<std::vector<std::string>> Config::StringList(const std::string& key,
                                                    std::vector<std::string> fallback) const {
  auto e = Find(key);
  if (!e) return fallback;
  if (e->is_map) return Error(key, *e, "expected a list, got a map");
  if (e->is_list) return e->list;
  return SplitComma(e->text);
}

Result<std::string> Config::Enum(const std::string& key, std::string fallback,
                                 const std::vector<std::string>& allowed) const {
  ZENITH_ASSIGN_OR_RETURN(std::string v, String(key, std::move(fallback)));
  if (std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return v;
  std::string options;
  for (const auto& a : allowed) options += (options.empty() ? "" : ", ") + a;
  return Error(key, *Find(key), "unknown value '" + v + "' (use one of " + options + ")");
}

Status Config::CheckKnownKeys(const std::vector<std::string>& known) const {
  auto is_known = [&](const std::string& key, bool is_map) {
    for (const auto& k : known) {
      if (k == key) return true;
      if (!k.empty() && k.back() == '.' && key.rfind(k, 0) == 0) return true;
      // A map entry is known when some known key lives under it.
      if (is_map && k.rfind(key + ".", 0) == 0) return true;
      if (is_map && k == key + ".") return true;
    }
    return false;
  };
  for (const auto* entries : {&flag_entries_, &file_entries_}) {
    for (const auto& [key, e] : *entries) {
      if (!is_known(key, e.is_map)) {
        return InvalidArgumentError("unknown config key '" + key + "' (" + e.source + ")");
      }
    }
  }
  return Status::Ok();
}

}  // namespace zenith::common
