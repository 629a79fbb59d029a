#include "zenith/runtime/thread_pool.h"

#include <latch>

#include "zenith/common/log.h"
#include "zenith/runtime/cpu_affinity.h"

namespace zenith::runtime {

struct ThreadPool::Worker {
  std::mutex mu;
  std::deque<Job> queue;  // the owner takes from the front, thieves from the back
  std::thread thread;
  Status pin = Status::Ok();
};

namespace {
constinit thread_local const ThreadPool* t_pool = nullptr;
constinit thread_local int t_worker = -1;
}  // namespace

ThreadPool::ThreadPool(ThreadPoolOptions options) {
  int n = options.threads;
  if (n <= 0)
    n = static_cast<int>(options.cpus.empty() ? AllowedCpus().size() : options.cpus.size());
  n = std::max(n, 1);
  for (int i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>());
  std::latch started(n);
  for (int i = 0; i < n; ++i) {
    std::vector<int> pin;
    if (!options.cpus.empty())
      pin = {options.cpus[static_cast<std::size_t>(i) % options.cpus.size()]};
    workers_[i]->thread = std::thread([this, i, pin, &started] {
      if (!pin.empty()) workers_[i]->pin = PinCurrentThread(pin);
      started.count_down();
      WorkerLoop(i);
    });
  }
  started.wait();
  for (const auto& w : workers_) {
    if (!w->pin.ok()) {
      common::log::Warn("thread pool worker not pinned",
                        {{"pool", options.name}, {"error", w->pin}});
      pin_errors_.push_back(w->pin);
    }
  }
}

ThreadPool::~ThreadPool() { Shutdown(ShutdownMode::kDrain); }

bool ThreadPool::Enqueue(Job& job) {
  std::lock_guard lock(mu_);
  if (stopping_) return false;
  // A task submitted by a worker stays on that worker's queue (warm caches); others spread.
  const std::size_t target =
      t_pool == this ? static_cast<std::size_t>(t_worker) : next_++ % workers_.size();
  {
    std::lock_guard q(workers_[target]->mu);
    workers_[target]->queue.push_back(std::move(job));
  }
  ++queued_;
  cv_.notify_one();
  return true;
}

bool ThreadPool::TryTake(int self, Job& job) {
  {
    Worker& w = *workers_[self];
    std::lock_guard q(w.mu);
    if (!w.queue.empty()) {
      job = std::move(w.queue.front());
      w.queue.pop_front();
      return true;
    }
  }
  const int n = static_cast<int>(workers_.size());
  for (int k = 1; k < n; ++k) {
    Worker& victim = *workers_[(self + k) % n];
    std::lock_guard q(victim.mu);
    if (!victim.queue.empty()) {
      job = std::move(victim.queue.back());
      victim.queue.pop_back();
      return true;
    }
  }
  return false;
}

void ThreadPool::WorkerLoop(int index) {
  t_pool = this;
  t_worker = index;
  for (;;) {
    Job job;
    {
      // Taking under mu_ keeps queued_ equal to the jobs in the queues, so a cancelling
      // Shutdown never strands a worker that counted a job it has not yet taken.
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return queued_ > 0 || stopping_; });
      if (queued_ == 0) return;  // stopping and drained
      if (!TryTake(index, job)) continue;
      --queued_;
    }
    job(true);
  }
}

void ThreadPool::Shutdown(ShutdownMode mode) {
  std::lock_guard once(shutdown_mu_);
  if (joined_) return;
  std::vector<Job> cancelled;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (mode == ShutdownMode::kCancel) {
      for (auto& w : workers_) {
        std::lock_guard q(w->mu);
        for (auto& j : w->queue) cancelled.push_back(std::move(j));
        w->queue.clear();
      }
      queued_ = 0;
    }
  }
  cv_.notify_all();
  for (auto& j : cancelled) j(false);
  for (auto& w : workers_) w->thread.join();
  joined_ = true;
}

}  // namespace zenith::runtime
