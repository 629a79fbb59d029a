#include "zenith/deviceplugin/health_checker.h"

namespace zenith::deviceplugin {

void CheckerThread::Start(std::function<void()> step, std::chrono::nanoseconds pause) {
  Stop();
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this, step = std::move(step), pause] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      step();
      lock.lock();
      if (pause > std::chrono::nanoseconds::zero()) {
        stop_cv_.wait_for(lock, pause, [&] { return stop_; });
      }
    }
  });
}

void CheckerThread::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace zenith::deviceplugin
