// Health checking runs apart from the gRPC server, in its own thread: a checker watches one
// source of truth (NVML events, a health file) and reports changes to the resource managers,
// which wake ListAndWatch. A checker never allocates devices and never blocks a kubelet call.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "zenith/common/status.h"

namespace zenith::deviceplugin {

class HealthChecker {
 public:
  virtual ~HealthChecker() = default;
  // Starts the checking thread; an error when the source cannot be watched at all.
  virtual Status Start() = 0;
  // Stops and joins the thread; safe to call twice.
  virtual void Stop() = 0;
};

// The loop both checkers share: calls `step` until stopped, then returns. `step` must return
// within about a second so Stop is prompt; `pause` is slept between steps (zero: none).
class CheckerThread {
 public:
  ~CheckerThread() { Stop(); }
  void Start(std::function<void()> step, std::chrono::nanoseconds pause);
  void Stop();
  bool running() const { return thread_.joinable(); }

 private:
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace zenith::deviceplugin
