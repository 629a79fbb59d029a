// A fixed set of worker threads, each optionally pinned to CPUs from the topology, with one
// queue per worker and stealing between them. A task's outcome (its value, its Status, or the
// exception it threw, turned into a Status) comes back through a TaskHandle. Shutdown either
// drains the queues or cancels what has not started. The pool never runs a task twice.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "zenith/common/status.h"

namespace zenith::runtime {

namespace detail {
// The shared state between a task and its handle: a Result<T> (Status when T is void).
template <typename T>
struct TaskState {
  using Outcome = std::conditional_t<std::is_void_v<T>, Status, Result<T>>;
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Outcome> outcome;
  void Set(Outcome o) {
    {
      std::lock_guard lock(mu);
      outcome.emplace(std::move(o));
    }
    cv.notify_all();
  }
};
}  // namespace detail

// Wait() blocks until the task ran (or was cancelled) and returns its outcome:
// Status for tasks returning void or Status, Result<T> for tasks returning T or Result<T>.
template <typename T>
class TaskHandle {
 public:
  using Outcome = typename detail::TaskState<T>::Outcome;
  explicit TaskHandle(std::shared_ptr<detail::TaskState<T>> state) : state_(std::move(state)) {}

  Outcome Wait() const {
    std::unique_lock lock(state_->mu);
    state_->cv.wait(lock, [&] { return state_->outcome.has_value(); });
    return *state_->outcome;
  }
  bool Ready() const {
    std::lock_guard lock(state_->mu);
    return state_->outcome.has_value();
  }

 private:
  std::shared_ptr<detail::TaskState<T>> state_;
};

struct ThreadPoolOptions {
  int threads = 0;        // 0: one per CPU in `cpus` (or per allowed CPU when empty)
  std::vector<int> cpus;  // worker i is pinned to cpus[i % size]; empty: not pinned
  std::string name = "pool";
};

enum class ShutdownMode {
  kDrain,   // run every queued task, then stop
  kCancel,  // complete queued tasks with CANCELLED without running them
};

class ThreadPool {
 public:
  explicit ThreadPool(ThreadPoolOptions options = {});
  ~ThreadPool();  // Shutdown(kDrain) if not done yet
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()); }
  // Pins that failed (e.g. a CPU outside the container's set); the pool still runs.
  const std::vector<Status>& pin_errors() const { return pin_errors_; }

  template <typename F>
  auto Submit(F&& fn);

  // Stops accepting tasks and joins the workers. Idempotent.
  void Shutdown(ShutdownMode mode);

 private:
  using Job = std::function<void(bool run)>;  // run=false: cancel
  struct Worker;

  // False when the pool is shut down (the job is then cancelled by the caller).
  bool Enqueue(Job& job);
  bool TryTake(int self, Job& job);
  void WorkerLoop(int index);

  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<Status> pin_errors_;
  std::mutex shutdown_mu_;
  std::mutex mu_;  // guards the sleep/wake protocol and the state below
  std::condition_variable cv_;
  std::size_t queued_ = 0;
  bool stopping_ = false;
  bool joined_ = false;
  std::size_t next_ = 0;  // round-robin target for outside submissions
};

namespace detail {
template <typename R>
struct TaskTraits {
  using Value = R;
  template <typename F>
  static Result<R> Call(F& fn) {
    return fn();
  }
};
template <>
struct TaskTraits<void> {
  using Value = void;
  template <typename F>
  static Status Call(F& fn) {
    fn();
    return Status::Ok();
  }
};
template <>
struct TaskTraits<Status> {
  using Value = void;
  template <typename F>
  static Status Call(F& fn) {
    return fn();
  }
};
template <typename U>
struct TaskTraits<Result<U>> {
  using Value = U;
  template <typename F>
  static Result<U> Call(F& fn) {
    return fn();
  }
};
}  // namespace detail

template <typename F>
auto ThreadPool::Submit(F&& fn) {
  using R = std::invoke_result_t<std::decay_t<F>&>;
  using Traits = detail::TaskTraits<R>;
  using Value = typename Traits::Value;
  auto state = std::make_shared<detail::TaskState<Value>>();
  Job job = [state, fn = std::forward<F>(fn)](bool run) mutable {
    if (!run) {
      state->Set(CancelledError("task cancelled by thread pool shutdown"));
      return;
    }
    // Exceptions thrown by the task stop here and become its Status.
    try {
      state->Set(Traits::Call(fn));
    } catch (const std::exception& e) {
      state->Set(InternalError(std::string("task threw: ") + e.what()));
    } catch (...) {
      state->Set(InternalError("task threw a non-standard exception"));
    }
  };
  if (!Enqueue(job)) job(false);  // Enqueue moves the job only when it accepts it
  return TaskHandle<Value>(std::move(state));
}

}  // namespace zenith::runtime
