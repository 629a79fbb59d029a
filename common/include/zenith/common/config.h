// The one config loader: a YAML file, environment variables and command-line flags, layered
// (flag > environment > file > default). Keys are dotted paths ("metrics.port"); the file
// nests them, a flag spells them whole (--metrics.port=9090), the environment upper-cases them
// under a prefix (ZENITH_METRICS_PORT). Every error names the key and where its value came from
// (file and line, flag or variable), so a typo is found without reading code.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zenith/common/status.h"

namespace zenith::common {

// A key a program reads, with the help line --help prints for it.
struct ConfigKey {
  std::string key;
  std::string help;
};

struct ConfigSources {
  std::string file;               // YAML file; empty: none (a --config flag also sets it)
  std::vector<std::string> args;  // argv without the program name
  std::string env_prefix = "ZENITH_";
  // Looks up an environment variable; null means the process environment. Injected by tests.
  std::function<std::optional<std::string>(const std::string&)> getenv;
};

class Config {
 public:
  static Result<Config> Load(const ConfigSources& sources);
  static Result<Config> Load(int argc, char** argv, std::string env_prefix = "ZENITH_");

  bool Has(const std::string& key) const;
  // "file /etc/zenith.yaml:3:9", "flag --metrics.port", "environment ZENITH_METRICS_PORT",
  // or "default".
  std::string SourceOf(const std::string& key) const;

  Result<std::string> String(const std::string& key, std::string fallback) const;
  Result<std::string> RequiredString(const std::string& key) const;
  Result<int64_t> Int(const std::string& key, int64_t fallback, int64_t min = INT64_MIN,
                      int64_t max = INT64_MAX) const;
  Result<double> Double(const std::string& key, double fallback) const;
  Result<bool> Bool(const std::string& key, bool fallback) const;
  // "250ms", "2s", "1m30s", "1h"; a bare number is seconds.
  Result<std::chrono::nanoseconds> Duration(const std::string& key,
                                            std::chrono::nanoseconds fallback) const;
  // A YAML sequence, or a comma-separated flag or variable.
  Result<std::vector<std::string>> StringList(const std::string& key,
                                              std::vector<std::string> fallback) const;
  // Checks a string value is one of `allowed`.
  Result<std::string> Enum(const std::string& key, std::string fallback,
                           const std::vector<std::string>& allowed) const;

  // Rejects keys set in the file or by flags that the program does not know (typos). Keys
  // under a known prefix ending in '.' ("labels.") are accepted.
  Status CheckKnownKeys(const std::vector<std::string>& known) const;

  // Arguments that were not flags, in order.
  const std::vector<std::string>& positional() const { return positional_; }
  const std::string& file() const { return file_; }

 private:
  struct Entry {
    std::string text;
    std::vector<std::string> list;
    bool is_list = false;
    bool is_map = false;
    std::string source;
  };
  std::optional<Entry> Find(const std::string& key) const;
  Status Error(const std::string& key, const Entry& e, const std::string& what) const;

  std::map<std::string, Entry> file_entries_;
  std::map<std::string, Entry> flag_entries_;
  std::vector<std::string> positional_;
  std::string file_;
  std::string env_prefix_;
  std::function<std::optional<std::string>(const std::string&)> getenv_;
};

// "90s" → 90 seconds. Exposed for flags that are not part of a Config.
Result<std::chrono::nanoseconds> ParseDuration(std::string_view text);

}  // namespace zenith::common
