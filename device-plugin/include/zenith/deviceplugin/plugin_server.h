// The kubelet-facing side of one extended resource: serves the v1beta1 DevicePlugin service on
// its own unix socket in the device-plugins directory, registers with kubelet.sock there, and
// watches both sockets so a kubelet restart or a removed socket leads to serving and registering
// again. Answers come from a ResourceManager; this class only translates and times them.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "zenith/common/clock.h"
#include "zenith/common/metrics.h"
#include "zenith/common/retry.h"
#include "zenith/common/status.h"
#include "zenith/deviceplugin/health_checker.h"
#include "zenith/deviceplugin/resource_manager.h"

namespace zenith::deviceplugin {

struct PluginServerOptions {
  std::string kubelet_dir;  // the device-plugins directory holding kubelet.sock
  std::string socket_name;  // this plugin's socket, relative to kubelet_dir
  bool pre_start_required = false;
  std::chrono::nanoseconds watch_interval = std::chrono::milliseconds(500);
  std::chrono::nanoseconds register_timeout = std::chrono::seconds(5);
  // Waits between failed Register calls (kubelet not up yet); on the injected clock.
  common::BackoffPolicy register_backoff{std::chrono::milliseconds(200), std::chrono::seconds(5),
                                         2.0, 0.2, 0};
};

class PluginServer {
 public:
  PluginServer(ResourceManager& manager, PluginServerOptions options,
               common::MetricsRegistry& metrics, common::Clock& clock);
  ~PluginServer();
  PluginServer(const PluginServer&) = delete;
  PluginServer& operator=(const PluginServer&) = delete;

  // Serves the socket and starts the watch loop, which registers (and retries until the
  // kubelet answers). An error when the socket cannot be served at all.
  Status Start();
  // Stops watching and serving, ends ListAndWatch streams, removes the socket. Idempotent.
  void Stop();

  // One step of the watch loop, public for tests: serves again if the socket vanished,
  // registers if the kubelet's socket is new or registration is due. Returns the last
  // registration error, OK when registered.
  Status WatchOnce();

  // Registered with the current kubelet (readiness).
  bool registered() const { return registered_.load(std::memory_order_acquire); }
  Status RegistrationStatus() const;
  std::string socket_path() const;
  const std::string& resource_name() const { return manager_.resource_name(); }

 private:
  struct Service;
  struct Metrics;
  struct Identity {
    bool exists = false;
    unsigned long dev = 0, ino = 0;
    long ctime_ns = 0;
    friend bool operator==(const Identity&, const Identity&) = default;
  };
  static Identity Stat(const std::string& path);
  Status Serve();
  void StopServing();
  Status Register();
  void UpdateGauges();

  ResourceManager& manager_;
  PluginServerOptions options_;
  common::Clock& clock_;
  mutable std::mutex mu_;  // serialises Serve/StopServing/Register between the loop and Stop
  std::unique_ptr<Service> service_;
  Identity own_socket_;
  Identity kubelet_socket_;  // as of the last successful Register
  std::atomic<bool> registered_{false};
  Status last_error_ = UnavailableError("not registered yet");
  common::Backoff backoff_;
  common::TimePoint next_register_{};
  CheckerThread watcher_;

  prometheus::Gauge& devices_gauge_;
  prometheus::Gauge& healthy_gauge_;
  prometheus::Gauge& registered_gauge_;
  prometheus::Counter& registrations_;
  std::unique_ptr<Metrics> rpc_metrics_;  // shared by every restart of the service
};

}  // namespace zenith::deviceplugin
