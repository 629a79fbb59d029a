// zenith-operator's settings, read from the shared Config (file, environment, flags). Only
// parsing and validation live here; the controller and the scheduler take the parsed struct.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "zenith/common/config.h"
#include "zenith/common/status.h"

namespace zenith::operator_ {

struct Options {
  std::string kubeconfig;       // empty: in-cluster config
  std::string watch_namespace;  // empty: all namespaces
  std::string scheduler_name = "zenith";
  bool leader_election = true;
  std::string leader_election_namespace = "zenith-system";
  std::chrono::nanoseconds lease_duration = std::chrono::seconds(15);
  int workers = 4;       // concurrent reconciles
  std::string identity;  // leader-election identity; empty: <hostname>-<pid>
  std::string runtime_image = "zenith-runtime:0.1.0";  // the data-plane sidecar's default image
  int master_port = 29500;
  // Who binds pods whose schedulerName is ours: "first-fit" (built in) or "none" (another
  // scheduler binds them).
  std::string binder = "first-fit";  // or "gang": the topology-aware gang scheduler binds
  // The REST and gRPC job API (every replica serves it; the API server is the only state).
  bool api_enabled = false;
  std::string api_address = "0.0.0.0";
  int api_port = 8443;
  int api_grpc_port = 9443;  // 0: REST only
  std::string api_tls_cert;  // with api_tls_key: HTTPS and gRPC over TLS
  std::string api_tls_key;
  double qps = 100;  // client-side API rate limit
  int burst = 200;
};

const std::vector<common::ConfigKey>& ConfigKeys();
Result<Options> LoadOptions(const common::Config& config);

}  // namespace zenith::operator_
