// HTTPS to the API server through cpprestsdk. Exceptions from cpprestsdk, Boost.Asio and
// OpenSSL stop here and become Status values.
#include <cpprest/http_client.h>
#include <cpprest/producerconsumerstream.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <cstdlib>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>

#include "zenith/kube/transport.h"

namespace zenith::kube {

void Cancellation::Cancel() {
  std::map<int, std::function<void()>> callbacks;
  {
    std::lock_guard lock(mu_);
    if (cancelled_.exchange(true, std::memory_order_acq_rel)) return;
    callbacks.swap(callbacks_);
  }
  for (auto& [id, cb] : callbacks) cb();
}

int Cancellation::Register(std::function<void()> callback) {
  {
    std::lock_guard lock(mu_);
    if (!cancelled()) {
      callbacks_.emplace(next_id_, std::move(callback));
      return next_id_++;
    }
  }
  callback();
  return -1;
}

void Cancellation::Unregister(int id) {
  std::lock_guard lock(mu_);
  callbacks_.erase(id);
}

namespace {

namespace http = web::http;
using http::client::http_client;
using http::client::http_client_config;

// Links a Cancellation to a pplx token source for the life of one request.
class CancelLink {
 public:
  explicit CancelLink(Cancellation* cancel) : cancel_(cancel) {
    if (cancel_) id_ = cancel_->Register([src = source_]() mutable { src.cancel(); });
  }
  ~CancelLink() {
    if (cancel_ && id_ >= 0) cancel_->Unregister(id_);
  }
  pplx::cancellation_token token() const { return source_.get_token(); }

 private:
  Cancellation* cancel_;
  pplx::cancellation_token_source source_;
  int id_ = -1;
};

Status CheckPem(const RestConfig& config) {
  try {
    boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
    if (!config.ca_pem.empty()) {
      try {
        ctx.add_certificate_authority(boost::asio::buffer(config.ca_pem));
      } catch (const std::exception& e) {
        return InvalidArgumentError(config.source + ": certificate-authority: " + e.what());
      }
    }
    if (!config.client_cert_pem.empty()) {
      try {
        ctx.use_certificate_chain(boost::asio::buffer(config.client_cert_pem));
      } catch (const std::exception& e) {
        return InvalidArgumentError(config.source + ": client-certificate: " + e.what());
      }
      try {
        ctx.use_private_key(boost::asio::buffer(config.client_key_pem),
                            boost::asio::ssl::context::pem);
      } catch (const std::exception& e) {
        return InvalidArgumentError(config.source + ": client-key: " + e.what());
      }
    }
  } catch (const std::exception& e) {
    return InternalError(config.source + ": TLS setup: " + e.what());
  }
  return Status::Ok();
}

// cpprestsdk gives every new connection a fresh OpenSSL context and loads the system's whole
// CA bundle into it (set_default_verify_paths: some 150 certificates decoded from PEM) before
// our callback adds the cluster's CA. That is about 20 ms of CPU per connection, over half of a
// scheduler's start-up CPU, spent on certificates a client with its own CA does not need
// (client-go trusts only that CA). So the first client of the process decides:
// if its config names a CA (or skips verification), OpenSSL's default bundle file becomes an
// empty one for the process (SSL_CERT_FILE=/dev/null, set before any connection exists). A
// later client that does rely on the system's CAs (no CA of its own) loads the bundle that was
// in force before, itself, in its callback.
std::atomic<bool> g_system_bundle_skipped{false};
std::string g_system_bundle;  // written once, before g_system_bundle_skipped is set

void SkipSystemBundleIfUnneeded(const RestConfig& config) {
  static std::once_flag once;
  std::call_once(once, [&] {
    if (config.ca_pem.empty() && !config.insecure_skip_tls_verify) return;
    const char* set = std::getenv("SSL_CERT_FILE");
    g_system_bundle = set != nullptr ? set : X509_get_default_cert_file();
    if (setenv("SSL_CERT_FILE", "/dev/null", 1) == 0) g_system_bundle_skipped = true;
  });
}

class CppRestTransport final : public Transport {
 public:
  explicit CppRestTransport(RestConfig config) : config_(std::move(config)) {
    SkipSystemBundleIfUnneeded(config_);
  }

  Result<HttpResponse> Send(const HttpRequest& request, Cancellation* cancel) override {
    return Run(request, cancel, nullptr);
  }

  Result<HttpResponse> Stream(const HttpRequest& request,
                              const std::function<bool(std::string_view)>& on_line,
                              Cancellation* cancel) override {
    return Run(request, cancel, &on_line);
  }

 private:
  http_client& ClientFor(std::chrono::milliseconds timeout) {
    std::lock_guard lock(mu_);
    auto& slot = clients_[timeout.count()];
    if (!slot) {
      http_client_config cfg;
      cfg.set_timeout(timeout);
      cfg.set_validate_certificates(!config_.insecure_skip_tls_verify);
      const std::string ca = config_.ca_pem;
      const std::string cert = config_.client_cert_pem;
      const std::string key = config_.client_key_pem;
      const bool system_cas = ca.empty() && !config_.insecure_skip_tls_verify;
      cfg.set_ssl_context_callback([ca, cert, key, system_cas](boost::asio::ssl::context& ctx) {
        if (!ca.empty()) ctx.add_certificate_authority(boost::asio::buffer(ca));
        if (system_cas && g_system_bundle_skipped.load()) {
          SSL_CTX_load_verify_locations(ctx.native_handle(), g_system_bundle.c_str(), nullptr);
        }
        if (!cert.empty()) {
          ctx.use_certificate_chain(boost::asio::buffer(cert));
          ctx.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem);
        }
      });
      slot = std::make_unique<http_client>(web::uri(config_.server), cfg);
    }
    return *slot;
  }

  std::string Token() {
    if (config_.token_file.empty()) return config_.token;
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (token_.empty() || now - token_read_at_ > std::chrono::minutes(1)) {
      std::ifstream in(config_.token_file);
      std::ostringstream out;
      out << in.rdbuf();
      std::string t = out.str();
      t.erase(t.find_last_not_of(" \n\r\t") + 1);
      if (!t.empty()) token_ = t;
      token_read_at_ = now;
    }
    return token_;
  }

  Result<HttpResponse> Run(const HttpRequest& request, Cancellation* cancel,
                           const std::function<bool(std::string_view)>* on_line) {
    const std::string what = request.method + " " + config_.server + request.path_and_query;
    if (cancel && cancel->cancelled()) return CancelledError(what + ": cancelled");
    CancelLink link(cancel);
    try {
      http::http_request req(request.method);
      req.set_request_uri(web::uri(request.path_and_query));
      req.headers().add("Accept", "application/json");
      req.headers().add("User-Agent", "zenith-kube/0.1");
      if (std::string token = Token(); !token.empty()) {
        req.headers().add("Authorization", "Bearer " + token);
      }
      if (!request.content_type.empty()) req.set_body(request.body, request.content_type);
      http::http_response resp = ClientFor(request.timeout).request(req, link.token()).get();
      HttpResponse out;
      out.status = resp.status_code();
      for (const auto& [name, value] : resp.headers()) {
        std::string lower = name;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.headers[lower] = value;
      }
      if (!on_line || out.status != 200) {
        out.body = resp.extract_utf8string(true).get();
        return out;
      }
      ZENITH_RETURN_IF_ERROR(ReadLines(resp, *on_line, cancel, what));
      return out;
    } catch (const pplx::task_canceled&) {
      return CancelledError(what + ": cancelled");
    } catch (const http::http_exception& e) {
      if (cancel && cancel->cancelled()) return CancelledError(what + ": cancelled");
      if (e.error_code() == std::errc::timed_out) {
        return DeadlineExceededError(what + ": timed out after " +
                                     std::to_string(request.timeout.count()) + "ms");
      }
      return UnavailableError(what + ": " + e.what());
    } catch (const std::exception& e) {
      if (cancel && cancel->cancelled()) return CancelledError(what + ": cancelled");
      return UnavailableError(what + ": " + e.what());
    }
  }

  // Reads the body as it arrives. The token closes the connection when the Cancellation fires;
  // the reader also polls the flag every 50ms, so Stop() never waits for the server.
  static Status ReadLines(http::http_response& resp,
                          const std::function<bool(std::string_view)>& on_line,
                          Cancellation* cancel, const std::string& what) {
    using traits = concurrency::streams::istream::traits;
    auto buf = resp.body().streambuf();
    std::string pending;
    std::vector<uint8_t> chunk(64 * 1024);
    while (true) {
      auto next = std::make_shared<std::promise<int>>();
      std::future<int> got = next->get_future();
      buf.bumpc().then([next](pplx::task<int> t) {
        try {
          next->set_value(t.get());
        } catch (...) {
          next->set_exception(std::current_exception());
        }
      });
      while (got.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
        if (cancel && cancel->cancelled()) return CancelledError(what + ": cancelled");
      }
      int c = got.get();  // may throw: the stream broke
      if (c == traits::eof()) break;
      pending.push_back(static_cast<char>(c));
      size_t avail = buf.in_avail();
      if (avail > 0) {
        size_t n = buf.getn(chunk.data(), std::min(avail, chunk.size())).get();
        pending.append(reinterpret_cast<const char*>(chunk.data()), n);
      }
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(pending.data() + start, nl - start);
        if (!line.empty() && !on_line(line)) return Status::Ok();
      }
      pending.erase(0, start);
    }
    if (!pending.empty()) on_line(pending);
    return Status::Ok();
  }

  const RestConfig config_;
  std::mutex mu_;
  std::map<int64_t, std::unique_ptr<http_client>> clients_;
  std::string token_;
  std::chrono::steady_clock::time_point token_read_at_{};
};

}  // namespace

Result<std::unique_ptr<Transport>> MakeCppRestTransport(const RestConfig& config) {
  if (config.server.empty()) return InvalidArgumentError(config.source + ": no server URL");
  ZENITH_RETURN_IF_ERROR(CheckPem(config));
  try {
    web::uri check(config.server);
    (void)check;
  } catch (const std::exception& e) {
    return InvalidArgumentError(config.source + ": server '" + config.server + "': " + e.what());
  }
  return std::unique_ptr<Transport>(std::make_unique<CppRestTransport>(config));
}

}  // namespace zenith::kube
