// HTTPS to the API server through cpprestsdk. Exceptions from cpprestsdk, Boost.Asio and
// OpenSSL stop here and become Status values.
#include <cpprest/http_client.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
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
  // Closes the request's connection without cancelling the caller's Cancellation.
  void CancelRequest() { source_.cancel(); }

 private:
  Cancellation* cancel_;
  pplx::cancellation_token_source source_;
  int id_ = -1;
};

// The body of a streamed response, written by cpprestsdk's I/O thread as each HTTP chunk arrives.
// Why not read the response's own body stream: every read of it is a pplx task whose
// continuation runs on the pool and wakes the reader, so a watch that delivers a thousand small
// chunks (a streamed list) paid two thread switches per chunk, about half of an informer's CPU
// while it syncs. Here the I/O thread splits the chunk into lines and calls on_line itself, in
// order, one chunk at a time (cpprestsdk reads the next chunk only after this one is written).
//
// Bytes are held until Start(): the status line is known only after the first ones may have
// arrived, and a response other than 200 is returned whole (Held()). Detach() makes sure no
// callback runs once the caller has returned; the caller waits in WaitFor() for the body's
// end, a stop (on_line said false or threw) or its own cancellation.
class LineSink final : public concurrency::streams::details::streambuf_state_manager<uint8_t> {
 public:
  explicit LineSink(const std::function<bool(std::string_view)>& on_line)
      : streambuf_state_manager(std::ios_base::out), on_line_(&on_line) {}

  // Hands the held bytes, and from now on each chunk, to on_line.
  void Start() {
    std::lock_guard lock(mu_);
    lines_ = true;
    std::string held;
    held.swap(pending_);
    Feed(held.data(), held.size());
  }
  // The whole body, when Start() was never called.
  std::string Held() {
    std::lock_guard lock(mu_);
    return pending_;
  }
  // The last line, when the body does not end with a newline.
  void Finish() {
    std::lock_guard lock(mu_);
    if (!lines_) return;  // the held body is the answer
    if (!stopped_ && on_line_ != nullptr && !pending_.empty()) Call(pending_);
    pending_.clear();
  }
  void Detach() {
    std::lock_guard lock(mu_);
    on_line_ = nullptr;
  }
  void BodyDone() {
    std::lock_guard lock(mu_);
    body_done_ = true;
    cv_.notify_all();
  }
  // Waits up to `d` for the end of the body or a stop; true when either came.
  bool WaitFor(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [this] { return body_done_ || stopped_; });
  }
  bool stopped() {
    std::lock_guard lock(mu_);
    return stopped_;
  }
  std::exception_ptr failure() {
    std::lock_guard lock(mu_);
    return failure_;
  }

  bool can_seek() const override { return false; }
  bool has_size() const override { return false; }
  size_t buffer_size(std::ios_base::openmode) const override { return 0; }
  void set_buffer_size(size_t, std::ios_base::openmode) override {}
  size_t in_avail() const override { return 0; }
  pos_type getpos(std::ios_base::openmode) const override { return -1; }
  pos_type seekpos(pos_type, std::ios_base::openmode) override { return -1; }
  pos_type seekoff(off_type, std::ios_base::seekdir, std::ios_base::openmode) override {
    return -1;
  }
  bool acquire(uint8_t*& ptr, size_t& count) override {
    ptr = nullptr;
    count = 0;
    return false;
  }
  void release(uint8_t*, size_t) override {}

 protected:
  pplx::task<size_t> _putn(const uint8_t* ptr, size_t count) override {
    std::lock_guard lock(mu_);
    if (on_line_ != nullptr && !stopped_) {
      if (lines_) {
        Feed(reinterpret_cast<const char*>(ptr), count);
      } else {
        pending_.append(reinterpret_cast<const char*>(ptr), count);
      }
    }
    return pplx::task_from_result(count);
  }
  pplx::task<int_type> _putc(uint8_t ch) override {
    return _putn(&ch, 1).then([ch](size_t) { return static_cast<int_type>(ch); });
  }
  pplx::task<bool> _sync() override { return pplx::task_from_result(true); }
  uint8_t* _alloc(size_t) override { return nullptr; }
  void _commit(size_t) override {}
  // Write-only.
  pplx::task<int_type> _bumpc() override { return pplx::task_from_result(traits::eof()); }
  int_type _sbumpc() override { return traits::eof(); }
  pplx::task<int_type> _getc() override { return pplx::task_from_result(traits::eof()); }
  int_type _sgetc() override { return traits::eof(); }
  pplx::task<int_type> _nextc() override { return pplx::task_from_result(traits::eof()); }
  pplx::task<int_type> _ungetc() override { return pplx::task_from_result(traits::eof()); }
  pplx::task<size_t> _getn(uint8_t*, size_t) override { return pplx::task_from_result<size_t>(0); }
  size_t _scopy(uint8_t*, size_t) override { return 0; }

 private:
  // Calls on_line for each complete line of data (after what pending_ holds); keeps the rest.
  // Lines inside one chunk are passed without a copy. mu_ is held.
  void Feed(const char* data, size_t n) {
    size_t start = 0;
    while (!stopped_ && on_line_ != nullptr) {
      const void* nl = std::memchr(data + start, '\n', n - start);
      if (nl == nullptr) break;
      const size_t end = static_cast<const char*>(nl) - data;
      if (pending_.empty()) {
        Call(std::string_view(data + start, end - start));
      } else {
        pending_.append(data + start, end - start);
        std::string line;
        line.swap(pending_);
        Call(line);
      }
      start = end + 1;
    }
    if (!stopped_) pending_.append(data + start, n - start);
  }
  void Call(std::string_view line) {
    if (line.empty()) return;
    try {
      if ((*on_line_)(line)) return;
    } catch (...) {
      failure_ = std::current_exception();
    }
    stopped_ = true;
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<bool(std::string_view)>* on_line_;  // null once detached
  bool lines_ = false;
  bool stopped_ = false;
  bool body_done_ = false;
  std::exception_ptr failure_;
  std::string pending_;  // a partial line, or the held body before Start()
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
      std::shared_ptr<LineSink> sink;
      if (on_line) {
        sink = std::make_shared<LineSink>(*on_line);
        req.set_response_stream(concurrency::streams::streambuf<uint8_t>(sink).create_ostream());
      }
      // However this returns, no callback runs after it.
      struct Detach {
        LineSink* sink;
        ~Detach() {
          if (sink) sink->Detach();
        }
      } detach{sink.get()};
      http::http_response resp = ClientFor(request.timeout).request(req, link.token()).get();
      HttpResponse out;
      out.status = resp.status_code();
      for (const auto& [name, value] : resp.headers()) {
        std::string lower = name;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.headers[lower] = value;
      }
      if (!sink) {
        out.body = resp.extract_utf8string(true).get();
        return out;
      }
      if (out.status == 200) sink->Start();
      ZENITH_RETURN_IF_ERROR(AwaitBody(resp, sink, link, cancel, what));
      if (out.status != 200) out.body = sink->Held();
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

  // Waits for a streamed body to end. The link's token closes the connection when the
  // Cancellation fires; the wait also looks at the flag every 50ms, so Stop() never waits for
  // the server. A callback that stops the stream (or throws) closes the connection too.
  static Status AwaitBody(http::http_response& resp, const std::shared_ptr<LineSink>& sink_ptr,
                          CancelLink& link, Cancellation* cancel, const std::string& what) {
    LineSink& sink = *sink_ptr;
    pplx::task<http::http_response> done = resp.content_ready();
    done.then([weak = std::weak_ptr<LineSink>(sink_ptr)](pplx::task<http::http_response> t) {
      // Observed here: pplx terminates the process over an exception no one looked at, and a
      // stopped or cancelled stream ends in one that the caller never asks for.
      try {
        t.wait();
      } catch (...) {
      }
      if (auto s = weak.lock()) s->BodyDone();
    });
    while (!sink.WaitFor(std::chrono::milliseconds(50))) {
      if (cancel && cancel->cancelled()) return CancelledError(what + ": cancelled");
    }
    if (cancel && cancel->cancelled()) return CancelledError(what + ": cancelled");
    if (sink.stopped()) {
      link.CancelRequest();
      if (std::exception_ptr e = sink.failure()) std::rethrow_exception(e);
      return Status::Ok();
    }
    done.get();  // may throw: the stream broke
    sink.Finish();
    if (std::exception_ptr e = sink.failure()) std::rethrow_exception(e);
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
