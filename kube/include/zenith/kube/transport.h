// The HTTP seam under the client: one request/response, or one streaming response read line by
// line. The production transport speaks HTTPS through cpprestsdk; tests put a fake here, so
// retries, error mapping and watch resumption are checked without a server. A transport never
// interprets HTTP codes: a 404 is a response, only a failure to get any answer is an error.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zenith/common/status.h"
#include "zenith/kube/config.h"

namespace zenith::kube {

// Cancels in-flight requests from another thread. Callbacks run once, on Cancel() or at once
// when registered after it.
class Cancellation {
 public:
  void Cancel();
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // Returns an id for Unregister; the callback may run on the cancelling thread.
  int Register(std::function<void()> callback);
  void Unregister(int id);

 private:
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  int next_id_ = 0;
  std::map<int, std::function<void()>> callbacks_;
};

struct HttpRequest {
  std::string method = "GET";
  std::string path_and_query;  // "/api/v1/namespaces/x/pods?limit=5"
  std::string body;
  std::string content_type;  // empty: no body
  std::chrono::milliseconds timeout{30000};
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::optional<std::string> Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
  }
};

class Transport {
 public:
  virtual ~Transport() = default;
  // UNAVAILABLE when no answer came (refused, reset, TLS failure), DEADLINE_EXCEEDED on the
  // request's timeout, CANCELLED when `cancel` fired.
  virtual Result<HttpResponse> Send(const HttpRequest& request, Cancellation* cancel) = 0;
  // For a 200, calls on_line for each newline-terminated line of the body until the body ends
  // (returns the response with an empty body), on_line returns false, or `cancel` fires. Any
  // other code returns the response with its whole body and never calls on_line. on_line may
  // run on a transport thread (cpprestsdk's I/O thread, as each chunk arrives); calls never
  // overlap, and none comes after Stream returns.
  virtual Result<HttpResponse> Stream(const HttpRequest& request,
                                      const std::function<bool(std::string_view)>& on_line,
                                      Cancellation* cancel) = 0;
};

// HTTPS (or HTTP) to config.server with the config's CA, client certificate and token.
Result<std::unique_ptr<Transport>> MakeCppRestTransport(const RestConfig& config);

}  // namespace zenith::kube
