#include "zenith/kube/work_queue.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace zenith::kube {

WorkQueue::WorkQueue(common::Clock& clock, WorkQueueOptions options)
    : clock_(clock), options_(options), bucket_(options.qps, options.burst, clock) {}

void WorkQueue::AddLocked(const std::string& key) {
  if (shutting_down_ || dirty_.count(key)) return;
  dirty_.insert(key);
  if (processing_.count(key)) return;  // Done() re-queues it
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard lock(mu_);
  AddLocked(key);
}

void WorkQueue::AddAfter(const std::string& key, common::Duration delay) {
  std::lock_guard lock(mu_);
  if (shutting_down_) return;
  if (delay <= common::Duration::zero()) {
    AddLocked(key);
    return;
  }
  const common::TimePoint when = clock_.Now() + delay;
  auto [it, inserted] = waiting_.emplace(key, when);
  if (!inserted && when < it->second) it->second = when;
  cv_.notify_all();
}

common::Duration WorkQueue::PeekBackoff(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  const int n = it == failures_.end() ? 0 : it->second;
  const double scaled = std::chrono::duration<double, std::nano>(options_.base_delay).count() *
                        std::pow(2.0, std::min(n, 62));
  const double cap = std::chrono::duration<double, std::nano>(options_.max_delay).count();
  return common::Duration(static_cast<int64_t>(std::min(scaled, cap)));
}

void WorkQueue::AddRateLimited(const std::string& key) {
  common::Duration per_item = PeekBackoff(key);
  {
    std::lock_guard lock(mu_);
    ++failures_[key];
  }
  common::Duration overall = bucket_.Reserve();
  AddAfter(key, std::max(per_item, overall));
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

int WorkQueue::NumRequeues(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::PromoteDueLocked() {
  if (waiting_.empty()) return;
  const common::TimePoint now = clock_.Now();
  std::vector<std::pair<common::TimePoint, std::string>> due;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second <= now) {
      due.emplace_back(it->second, it->first);
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  std::sort(due.begin(), due.end());
  for (const auto& [when, key] : due) AddLocked(key);
}

std::optional<std::string> WorkQueue::PopLocked() {
  PromoteDueLocked();
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  dirty_.erase(key);
  processing_.insert(key);
  return key;
}

std::optional<std::string> WorkQueue::TryGet() {
  std::lock_guard lock(mu_);
  return PopLocked();
}

std::optional<std::string> WorkQueue::Get() {
  std::unique_lock lock(mu_);
  while (true) {
    if (auto key = PopLocked()) return key;
    if (shutting_down_) return std::nullopt;
    if (waiting_.empty()) {
      cv_.wait(lock);
    } else {
      // The clock may be fake, so never sleep past a short slice before looking again.
      common::TimePoint next = common::TimePoint::max();
      for (const auto& [k, when] : waiting_) next = std::min(next, when);
      common::Duration left = next - clock_.Now();
      cv_.wait_for(lock, std::clamp<common::Duration>(left, common::Duration::zero(),
                                                      std::chrono::milliseconds(20)));
    }
  }
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key)) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::ShutDown() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
  waiting_.clear();
  cv_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard lock(mu_);
  return shutting_down_;
}

size_t WorkQueue::Len() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t WorkQueue::Waiting() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

}  // namespace zenith::kube
