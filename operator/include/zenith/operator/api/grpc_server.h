// The operator's gRPC API (zenith.v1alpha1.SchedulerService, proto/zenith/v1alpha1/) over the
// same JobService as the REST API: the caller's bearer token comes from the `authorization`
// metadata, errors map to the gRPC code of the same name, TLS when certificate files are given.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "zenith/common/status.h"
#include "zenith/operator/api/job_service.h"

namespace zenith::operator_::api {

struct GrpcOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 9443;       // 0: pick a free port (tests)
  std::string tls_cert_file;  // PEM; with tls_key_file the server speaks TLS
  std::string tls_key_file;
};

class GrpcServer {
 public:
  GrpcServer(GrpcOptions options, JobService& service);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  Status Start();
  void Stop();
  // "127.0.0.1:9443" once started (the bound port when options.port was 0).
  std::string target() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zenith::operator_::api
