// The operator's REST API over JobService: /api/v1/jobs (POST, GET), /api/v1/jobs/{id} (GET,
// DELETE), /api/v1/cluster/status, /api/v1/nodes and /health, JSON in and out, HTTPS when a
// certificate and key are given. Errors answer {"error": {"code", "status", "message"}} with the
// HTTP status of HttpStatusFor; the message names the field, verb or object.
//
// Requests are answered on the server's own threads, never on cpprestsdk's shared I/O pool:
// JobService calls the Kubernetes API synchronously, and a handler blocking a pool thread on
// I/O that needs the same pool deadlocks once every pool thread waits (the pool is small, see
// common::SetHttpIoThreads).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "zenith/common/status.h"
#include "zenith/operator/api/job_service.h"

namespace zenith::operator_::api {

struct RestOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 8443;
  std::string tls_cert_file;  // PEM certificate chain; with tls_key_file: HTTPS
  std::string tls_key_file;   // PEM private key
  int workers = 4;            // threads answering requests
  int max_queued = 256;       // requests waiting for a worker; beyond: 429, retry later
};

class RestServer {
 public:
  RestServer(RestOptions options, JobService& service);
  ~RestServer();
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  // Binds and serves. Errors name the address, or the certificate file that cannot be read.
  Status Start();
  void Stop();
  // "https://127.0.0.1:8443" once started.
  std::string url() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zenith::operator_::api
