#include "zenith/deviceplugin/pci.h"

#include <charconv>
#include <cstdio>
#include <vector>

namespace zenith::deviceplugin {
namespace {

bool ParseHex(std::string_view text, unsigned long& out, size_t max_digits) {
  if (text.empty() || text.size() > max_digits) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<std::string> NormalizePciBusId(std::string_view text) {
  std::string_view trimmed = text;
  while (!trimmed.empty() &&
         (trimmed.back() == '\n' || trimmed.back() == ' ' || trimmed.back() == '\0')) {
    trimmed.remove_suffix(1);
  }
  while (!trimmed.empty() && trimmed.front() == ' ') trimmed.remove_prefix(1);
  auto bad = [&] {
    return InvalidArgumentError("bad PCI bus id '" + std::string(text) +
                                "' (expected domain:bus:device.function, e.g. 0000:18:00.0)");
  };
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t colon = trimmed.find(':', start);
    parts.push_back(trimmed.substr(start, colon == std::string_view::npos ? colon : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (parts.size() < 2 || parts.size() > 3) return bad();
  unsigned long domain = 0, bus = 0, device = 0, function = 0;
  if (parts.size() == 3 && !ParseHex(parts[0], domain, 8)) return bad();
  if (!ParseHex(parts[parts.size() - 2], bus, 2)) return bad();
  std::string_view dev_fn = parts.back();
  size_t dot = dev_fn.find('.');
  if (!ParseHex(dev_fn.substr(0, dot), device, 2)) return bad();
  if (dot != std::string_view::npos && !ParseHex(dev_fn.substr(dot + 1), function, 1)) {
    return bad();
  }
  if (device > 0x1f || function > 7) return bad();
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04lx:%02lx:%02lx.%lx", domain, bus, device, function);
  return std::string(buf);
}

}  // namespace zenith::deviceplugin
