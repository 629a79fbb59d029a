// The small HTTP endpoint every Zenith program serves: /metrics (Prometheus text), /healthz
// (the process is alive) and /readyz (every readiness check passes). Like Envoy's admin
// listener it is separate from any data path and never blocks on one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "zenith/common/metrics.h"
#include "zenith/common/status.h"

namespace zenith::common {

struct AdminServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 9090;
};

class AdminServer {
 public:
  AdminServer(AdminServerOptions options, MetricsRegistry& metrics);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // A named check; /readyz answers 503 listing each failing check's name and message.
  void AddReadinessCheck(std::string name, std::function<Status()> check);

  // Binds and serves; a clear error names the address when the port is taken.
  Status Start();
  void Stop();

  // "http://127.0.0.1:9090" once started.
  std::string url() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// cpprestsdk runs every HTTP client and listener of a process (this server, the Kubernetes API
// client, the operator's REST API) on one shared pool of threads: 40 unless sized before its
// first use. Each hand-off inside that pool wakes an idle thread, and with 40 mostly idle threads
// those wake-ups cost more CPU than the I/O they carry, so Zenith's programs size it small
// (http.io-threads). Code run on the pool must not wait for other HTTP work. Sizes the pool (at
// least 2: a listener's close waits on one pool thread for work done on another);
// FailedPrecondition once it runs (the first HTTP client or listener fixes its size).
Status SetHttpIoThreads(int threads);

}  // namespace zenith::common
