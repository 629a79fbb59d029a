#include "zenith/common/admin_server.h"

#include <cpprest/http_listener.h>
#include <pplx/threadpool.h>

#include <mutex>
#include <utility>
#include <vector>

#include "zenith/common/log.h"

namespace zenith::common {

namespace http = web::http;
using web::http::experimental::listener::http_listener;

struct AdminServer::Impl {
  AdminServerOptions options;
  MetricsRegistry& metrics;
  std::unique_ptr<http_listener> listener;
  std::mutex mu;
  std::vector<std::pair<std::string, std::function<Status()>>> checks;

  Impl(AdminServerOptions o, MetricsRegistry& m) : options(std::move(o)), metrics(m) {}

  void Handle(http::http_request request) {
    const std::string path = request.relative_uri().path();
    if (path == "/healthz" || path == "/livez") {
      request.reply(http::status_codes::OK, "ok\n", "text/plain; charset=utf-8");
    } else if (path == "/readyz") {
      std::string failures;
      {
        std::lock_guard lock(mu);
        for (const auto& [name, check] : checks) {
          Status s = check();
          if (!s.ok()) failures += "[-] " + name + ": " + s.message() + "\n";
        }
      }
      if (failures.empty()) {
        request.reply(http::status_codes::OK, "ok\n", "text/plain; charset=utf-8");
      } else {
        request.reply(http::status_codes::ServiceUnavailable, failures,
                      "text/plain; charset=utf-8");
      }
    } else if (path == "/metrics") {
      request.reply(http::status_codes::OK, metrics.Serialize(),
                    "text/plain; version=0.0.4; charset=utf-8");
    } else {
      request.reply(http::status_codes::NotFound,
                    "not found: " + path + " (try /metrics, /healthz or /readyz)\n",
                    "text/plain; charset=utf-8");
    }
  }
};

Status SetHttpIoThreads(int threads) {
  // A listener's close() waits on one pool thread for its connections, whose ends need another.
  if (threads < 2) {
    return InvalidArgumentError("HTTP I/O threads must be at least 2, got " +
                                std::to_string(threads));
  }
  try {
    crossplat::threadpool::initialize_with_threads(static_cast<size_t>(threads));
  } catch (const std::exception& e) {
    return FailedPreconditionError(
        std::string("cpprestsdk's thread pool already runs, with its size fixed (") + e.what() +
        "); size it before the first HTTP client or listener starts");
  }
  return Status::Ok();
}

AdminServer::AdminServer(AdminServerOptions options, MetricsRegistry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), metrics)) {}

AdminServer::~AdminServer() { Stop(); }

void AdminServer::AddReadinessCheck(std::string name, std::function<Status()> check) {
  std::lock_guard lock(impl_->mu);
  impl_->checks.emplace_back(std::move(name), std::move(check));
}

std::string AdminServer::url() const {
  return "http://" + impl_->options.address + ":" + std::to_string(impl_->options.port);
}

Status AdminServer::Start() {
  if (impl_->listener) return FailedPreconditionError("admin server already started on " + url());
  try {
    auto listener = std::make_unique<http_listener>(url());
    listener->support(http::methods::GET,
                      [impl = impl_.get()](const http::http_request& r) { impl->Handle(r); });
    listener->open().wait();
    impl_->listener = std::move(listener);
  } catch (const std::exception& e) {
    return UnavailableError("admin server cannot listen on " + url() + ": " + e.what());
  }
  log::Info("admin server listening", {{"url", url()}});
  return Status::Ok();
}

void AdminServer::Stop() {
  if (!impl_ || !impl_->listener) return;
  try {
    impl_->listener->close().wait();
  } catch (const std::exception& e) {
    log::Warn("admin server close failed", {{"url", url()}, {"error", e.what()}});
  }
  impl_->listener.reset();
}

}  // namespace zenith::common
