#include "victims.h"

namespace zenith::operator_::scheduler::internal {

std::optional<std::vector<int>> ChooseVictims(
    const std::vector<int>& cand, const std::function<int64_t(int)>& gpus,
    const std::function<bool(const std::vector<int>&)>& fits, int max_trials) {
  if (cand.empty() || !fits(cand)) return std::nullopt;
  int trials = 0;
  auto test = [&](const std::vector<int>& v) {
    ++trials;
    return fits(v);
  };
  // Smallest prefix of the cheapest-first list that makes room (room only grows with it).
  size_t lo = 1, hi = cand.size();
  while (lo < hi && trials < max_trials) {
    const size_t mid = (lo + hi) / 2;
    if (test({cand.begin(), cand.begin() + mid})) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  std::vector<int> chosen(cand.begin(), cand.begin() + hi);
  // Drop victims that turned out unnecessary, largest first.
  for (size_t i = chosen.size(); i-- > 0 && chosen.size() > 1 && trials < max_trials;) {
    std::vector<int> without = chosen;
    without.erase(without.begin() + i);
    if (test(without)) chosen = std::move(without);
  }
  // A single gang that alone makes room may be cheaper than the set built above.
  int64_t cost = 0;
  for (int v : chosen) cost += gpus(v);
  for (int v : cand) {
    if (trials >= max_trials || gpus(v) >= cost) break;
    if (test({v})) return std::vector<int>{v};
  }
  return chosen;
}

}  // namespace zenith::operator_::scheduler::internal
