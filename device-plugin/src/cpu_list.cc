#include "zenith/deviceplugin/cpu_list.h"

#include <algorithm>
#include <charconv>

namespace zenith::deviceplugin {
namespace {

bool ParseId(std::string_view text, int& out) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out >= 0;
}

}  // namespace

Result<std::vector<int>> ParseCpuList(std::string_view text) {
  std::vector<int> out;
  // A trailing newline comes with every sysfs file.
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text.empty()) return out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(start, end - start);
    size_t dash = item.find('-');
    int lo = 0, hi = 0;
    bool ok = dash == std::string_view::npos
                  ? (ParseId(item, lo) && (hi = lo, true))
                  : (ParseId(item.substr(0, dash), lo) && ParseId(item.substr(dash + 1), hi));
    if (!ok || hi < lo) {
      return InvalidArgumentError("bad CPU list '" + std::string(text) + "' at '" +
                                  std::string(item) + "' (expected forms like 0-3,8,10-11)");
    }
    if (hi - lo > 1 << 20) {
      return InvalidArgumentError("CPU list '" + std::string(text) + "': range '" +
                                  std::string(item) + "' is implausibly large");
    }
    for (int c = lo; c <= hi; ++c) out.push_back(c);
    start = end + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string FormatCpuList(const std::vector<int>& cpus) {
  std::vector<int> sorted = cpus;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string out;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(sorted[i]);
    if (j > i) out += '-' + std::to_string(sorted[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace zenith::deviceplugin
