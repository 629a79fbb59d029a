#include "zenith/operator/api/rest_server.h"

#include <cpprest/http_listener.h>

#include <algorithm>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "zenith/common/log.h"

namespace zenith::operator_::api {
namespace {

namespace http = web::http;
using web::http::experimental::listener::http_listener;
using web::http::experimental::listener::http_listener_config;

void Reply(const http::http_request& request, int code, const Json& body) {
  http::http_response response(static_cast<http::status_code>(code));
  response.headers().set_content_type("application/json");
  response.set_body(body.dump());
  request.reply(response).then([](pplx::task<void> t) {
    try {
      t.get();
    } catch (const std::exception&) {
      // The client went away; nothing to answer.
    }
  });
}

void ReplyError(const http::http_request& request, const Status& status) {
  const int code = HttpStatusFor(status);
  Reply(request, code,
        {{"error",
          {{"code", code},
           {"status", std::string(StatusCodeName(status.code()))},
           {"message", status.message()}}}});
}

void ReplyResult(const http::http_request& request, const Result<Json>& result, int ok_code) {
  if (result.ok()) {
    Reply(request, ok_code, *result);
  } else {
    ReplyError(request, result.status());
  }
}

std::string BearerToken(const http::http_request& request) {
  auto it = request.headers().find("Authorization");
  if (it == request.headers().end()) return "";
  const std::string value = it->second;
  const std::string prefix = "Bearer ";
  if (value.size() <= prefix.size() || value.compare(0, prefix.size(), prefix) != 0) return "";
  return value.substr(prefix.size());
}

bool Readable(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace

struct RestServer::Impl {
  RestOptions options;
  JobService& service;
  std::unique_ptr<http_listener> listener;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<http::http_request> queued;
  bool stopping = false;
  std::vector<std::thread> workers;

  Impl(RestOptions o, JobService& s) : options(std::move(o)), service(s) {}

  bool tls() const { return !options.tls_cert_file.empty(); }

  // On cpprestsdk's pool: only hands the request over.
  void Enqueue(const http::http_request& request) {
    bool closed = false;
    {
      std::lock_guard lock(mu);
      closed = stopping;
      if (!closed && static_cast<int>(queued.size()) < std::max(1, options.max_queued)) {
        queued.push_back(request);
        cv.notify_one();
        return;
      }
    }
    ReplyError(request, closed ? UnavailableError("API server is shutting down")
                               : ResourceExhaustedError(
                                     "API server busy: " + std::to_string(options.max_queued) +
                                     " requests queued; retry later"));
  }

  void Work() {
    for (;;) {
      http::http_request request;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [this] { return stopping || !queued.empty(); });
        if (queued.empty()) return;  // stopping, and nothing left to answer
        request = std::move(queued.front());
        queued.pop_front();
      }
      Handle(request);
    }
  }

  void StartWorkers() {
    stopping = false;
    for (int i = 0; i < std::max(1, options.workers); ++i) workers.emplace_back([this] { Work(); });
  }

  // Answers what is queued, then ends the workers; later requests get 503.
  void StopWorkers() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    cv.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
  }

  void Handle(const http::http_request& request) {
    try {
      Route(request);
    } catch (const std::exception& e) {
      ReplyError(request, InternalError(std::string("unexpected error: ") + e.what()));
    }
  }

  void Route(const http::http_request& request) {
    const auto method = request.method();
    const auto paths = http::uri::split_path(http::uri::decode(request.relative_uri().path()));
    const auto query = http::uri::split_query(request.relative_uri().query());
    auto param = [&](const char* key) {
      auto it = query.find(key);
      return it == query.end() ? std::string() : http::uri::decode(it->second);
    };
    const std::string token = BearerToken(request);
    auto wrong_method = [&](const char* allowed) {
      ReplyError(request, InvalidArgumentError("method " + method + " is not allowed on " +
                                               request.relative_uri().path() +
                                               " (allowed: " + allowed + ")"));
    };

    if (paths.size() == 1 && paths[0] == "health") {
      Reply(request, 200, {{"status", "ok"}});
      return;
    }
    if (paths.size() < 3 || paths[0] != "api" || paths[1] != "v1") {
      ReplyError(request, NotFoundError("no such endpoint: " + request.relative_uri().path()));
      return;
    }
    const std::string& collection = paths[2];
    if (collection == "jobs" && paths.size() == 3) {
      if (method == http::methods::POST) {
        const std::string body = http::http_request(request).extract_utf8string(true).get();
        Json parsed = Json::parse(body, nullptr, /*allow_exceptions=*/false);
        if (parsed.is_discarded()) {
          // Parse again to learn where it broke: the message names the byte offset.
          try {
            Json again = Json::parse(body);
            static_cast<void>(again);
          } catch (const Json::parse_error& e) {
            ReplyError(request, InvalidArgumentError("request body is not JSON (byte " +
                                                     std::to_string(e.byte) + ")"));
            return;
          }
        }
        ReplyResult(request, service.Submit(token, parsed), 201);
      } else if (method == http::methods::GET) {
        ListJobsRequest list{param("namespace"), param("user"), param("project"), param("phase")};
        ReplyResult(request, service.List(token, list), 200);
      } else {
        wrong_method("GET, POST");
      }
      return;
    }
    if (collection == "jobs" && (paths.size() == 4 || paths.size() == 5)) {
      const std::string id = paths.size() == 4 ? paths[3] : paths[3] + "/" + paths[4];
      if (method == http::methods::GET) {
        ReplyResult(request, service.Get(token, id), 200);
      } else if (method == http::methods::DEL) {
        ReplyResult(request, service.Cancel(token, id), 200);
      } else {
        wrong_method("GET, DELETE");
      }
      return;
    }
    if (collection == "cluster" && paths.size() == 4 && paths[3] == "status") {
      if (method != http::methods::GET) return wrong_method("GET");
      ReplyResult(request, service.ClusterStatus(token), 200);
      return;
    }
    if (collection == "nodes" && paths.size() == 3) {
      if (method != http::methods::GET) return wrong_method("GET");
      ReplyResult(request, service.Nodes(token), 200);
      return;
    }
    ReplyError(request, NotFoundError("no such endpoint: " + request.relative_uri().path()));
  }
};

RestServer::RestServer(RestOptions options, JobService& service)
    : impl_(std::make_unique<Impl>(std::move(options), service)) {}

RestServer::~RestServer() { Stop(); }

std::string RestServer::url() const {
  return std::string(impl_->tls() ? "https" : "http") + "://" + impl_->options.address + ":" +
         std::to_string(impl_->options.port);
}

Status RestServer::Start() {
  if (impl_->listener) return FailedPreconditionError("API server already started on " + url());
  const RestOptions& o = impl_->options;
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return InvalidArgumentError("api.tls-cert and api.tls-key must be given together");
  }
  http_listener_config config;
  if (impl_->tls()) {
    for (const auto& file : {o.tls_cert_file, o.tls_key_file}) {
      if (!Readable(file)) return InvalidArgumentError("cannot read TLS file " + file);
    }
    config.set_ssl_context_callback([cert = o.tls_cert_file,
                                     key = o.tls_key_file](boost::asio::ssl::context& ctx) {
      ctx.set_options(boost::asio::ssl::context::default_workarounds |
                      boost::asio::ssl::context::no_sslv2 | boost::asio::ssl::context::no_sslv3 |
                      boost::asio::ssl::context::no_tlsv1 | boost::asio::ssl::context::no_tlsv1_1);
      ctx.use_certificate_chain_file(cert);
      ctx.use_private_key_file(key, boost::asio::ssl::context::pem);
    });
  }
  try {
    auto listener = std::make_unique<http_listener>(url(), config);
    listener->support([impl = impl_.get()](const http::http_request& r) { impl->Enqueue(r); });
    impl_->StartWorkers();
    listener->open().wait();
    impl_->listener = std::move(listener);
  } catch (const std::exception& e) {
    impl_->StopWorkers();
    return UnavailableError("API server cannot listen on " + url() + ": " + e.what());
  }
  common::log::Info("API server listening", {{"url", url()}, {"tls", impl_->tls()}});
  return Status::Ok();
}

void RestServer::Stop() {
  if (!impl_ || !impl_->listener) return;
  // Workers first: requests already taken are answered while their connections are open, and
  // any arriving meanwhile get 503; then the listener closes.
  impl_->StopWorkers();
  try {
    impl_->listener->close().wait();
  } catch (const std::exception& e) {
    common::log::Warn("API server close failed", {{"url", url()}, {"error", e.what()}});
  }
  impl_->listener.reset();
}

}  // namespace zenith::operator_::api
