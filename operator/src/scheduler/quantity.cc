#include "zenith/operator/scheduler/quantity.h"

#include <cctype>
#include <limits>
#include <string>

namespace zenith::operator_::scheduler {

namespace {

using Int = __int128;

Status Bad(std::string_view text, std::string_view why) {
  return InvalidArgumentError("quantity \"" + std::string(text) + "\": " + std::string(why));
}

// Suffix → multiplier as numerator / denominator (only "m" has a denominator).
bool SuffixFactor(std::string_view s, Int& num, Int& den) {
  num = 1;
  den = 1;
  if (s.empty()) return true;
  struct Entry {
    std::string_view name;
    int base;
    int power;
  };
  static constexpr Entry kSuffixes[] = {
      {"Ki", 1024, 1}, {"Mi", 1024, 2}, {"Gi", 1024, 3}, {"Ti", 1024, 4},
      {"Pi", 1024, 5}, {"Ei", 1024, 6}, {"k", 1000, 1},  {"M", 1000, 2},
      {"G", 1000, 3},  {"T", 1000, 4},  {"P", 1000, 5},  {"E", 1000, 6},
  };
  if (s == "m") {
    den = 1000;
    return true;
  }
  for (const Entry& e : kSuffixes) {
    if (s == e.name) {
      for (int i = 0; i < e.power; ++i) num *= e.base;
      return true;
    }
  }
  return false;
}

}  // namespace

Result<int64_t> ParseQuantity(std::string_view text, int64_t scale) {
  std::string_view s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.empty()) return Bad(text, "empty");
  if (s.front() == '-') return Bad(text, "negative quantities are not resources");
  if (s.front() == '+') s.remove_prefix(1);

  // Mantissa as an exact fraction: digits / 10^decimals.
  Int digits = 0;
  int decimals = 0;
  bool seen_digit = false, seen_point = false;
  size_t i = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      // 2^50 keeps digits × suffix × scale inside 128 bits; later fraction digits are dropped.
      if (digits < (Int{1} << 50)) {
        digits = digits * 10 + (c - '0');
        if (seen_point) ++decimals;
      } else if (!seen_point) {
        return Bad(text, "too large");
      }
      seen_digit = true;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!seen_digit) return Bad(text, "no digits");
  std::string_view suffix = s.substr(i);

  Int num = 1, den = 1;
  if (!suffix.empty() && (suffix[0] == 'e' || suffix[0] == 'E') && suffix.size() > 1 &&
      (std::isdigit(static_cast<unsigned char>(suffix[1])) || suffix[1] == '-' ||
       suffix[1] == '+')) {
    std::string_view e = suffix.substr(1);
    bool neg = false;
    if (e.front() == '-' || e.front() == '+') {
      neg = e.front() == '-';
      e.remove_prefix(1);
    }
    if (e.empty() || e.size() > 2) return Bad(text, "bad exponent");
    int power = 0;
    for (char c : e) {
      if (c < '0' || c > '9') return Bad(text, "bad exponent");
      power = power * 10 + (c - '0');
    }
    if (power > 18) return Bad(text, "exponent too large");
    for (int k = 0; k < power; ++k) (neg ? den : num) *= 10;
  } else if (!SuffixFactor(suffix, num, den)) {
    return Bad(text, "unknown suffix \"" + std::string(suffix) + "\"");
  }
  for (int k = 0; k < decimals; ++k) den *= 10;
  Int value = digits * num * scale;
  Int result = (value + den - 1) / den;  // round up: never under-count a request
  if (result > std::numeric_limits<int64_t>::max()) return Bad(text, "too large");
  return static_cast<int64_t>(result);
}

}  // namespace zenith::operator_::scheduler
