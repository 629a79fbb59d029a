// Which preemptible gangs to evict so that a job fits: whole gangs, as few GPUs as possible.
// The search only asks `fits(victims)`; what fitting means (a trial placement on the cycle's
// state) is the caller's, so the search itself is pure. Internal to zenith_scheduler.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace zenith::operator_::scheduler::internal {

// `candidates` sorted cheapest (fewest GPUs) first; `gpus(c)` is what evicting c costs. Tries
// at most `max_trials` calls of `fits` after the first: the smallest cheapest-first prefix
// that fits, minus members that turn out unnecessary (largest first), or one single candidate
// cheaper than that. None when even all candidates together do not make room.
std::optional<std::vector<int>> ChooseVictims(
    const std::vector<int>& candidates, const std::function<int64_t(int)>& gpus,
    const std::function<bool(const std::vector<int>&)>& fits, int max_trials);

}  // namespace zenith::operator_::scheduler::internal
