#include "zenith/operator/options.h"

namespace zenith::operator_ {

const std::vector<common::ConfigKey>& ConfigKeys() {
  static const std::vector<common::ConfigKey> keys = {
      {"kubeconfig", "kubeconfig file (default: in-cluster service account)"},
      {"namespace", "namespace to watch (default: all)"},
      {"scheduler-name", "schedulerName of the pods this operator binds (default zenith)"},
      {"leader-election.enabled", "elect one active replica through a Lease (default true)"},
      {"leader-election.namespace", "namespace of the Lease (default zenith-system)"},
      {"leader-election.lease-duration", "lease duration (default 15s)"},
      {"workers", "concurrent reconciles (default 4)"},
      {"identity", "leader-election identity (default <hostname>-<pid>)"},
      {"runtime-image", "zenith-runtime sidecar image when a job names none"},
      {"master-port", "MASTER_PORT given to workers (default 29500)"},
      {"binder",
       "who binds the workers: first-fit (built in), gang (the topology-aware gang scheduler, on "
       "the leader) or none (another scheduler) (default first-fit)"},
      {"api.enabled", "serve the REST and gRPC job API (default false)"},
      {"api.address", "address the API listens on (default 0.0.0.0)"},
      {"api.port", "REST API port (default 8443)"},
      {"api.grpc-port", "gRPC API port (default 9443; 0: no gRPC)"},
      {"api.tls-cert", "PEM certificate chain: HTTPS and gRPC over TLS (with api.tls-key)"},
      {"api.tls-key", "PEM private key of api.tls-cert"},
      {"kube.qps", "client-side API request rate (default 100)"},
      {"kube.burst", "client-side API burst (default 200)"},
  };
  return keys;
}

Result<Options> LoadOptions(const common::Config& config) {
  Options o;
  ZENITH_ASSIGN_OR_RETURN(o.kubeconfig, config.String("kubeconfig", ""));
  ZENITH_ASSIGN_OR_RETURN(o.watch_namespace, config.String("namespace", ""));
  ZENITH_ASSIGN_OR_RETURN(o.scheduler_name, config.String("scheduler-name", o.scheduler_name));
  if (o.scheduler_name.empty()) {
    return InvalidArgumentError("config key 'scheduler-name' (" +
                                config.SourceOf("scheduler-name") + "): must not be empty");
  }
  ZENITH_ASSIGN_OR_RETURN(o.leader_election, config.Bool("leader-election.enabled", true));
  ZENITH_ASSIGN_OR_RETURN(o.leader_election_namespace,
                          config.String("leader-election.namespace", o.leader_election_namespace));
  ZENITH_ASSIGN_OR_RETURN(o.lease_duration,
                          config.Duration("leader-election.lease-duration", o.lease_duration));
  ZENITH_ASSIGN_OR_RETURN(int64_t workers, config.Int("workers", o.workers, 1, 256));
  o.workers = static_cast<int>(workers);
  ZENITH_ASSIGN_OR_RETURN(o.identity, config.String("identity", ""));
  ZENITH_ASSIGN_OR_RETURN(o.runtime_image, config.String("runtime-image", o.runtime_image));
  ZENITH_ASSIGN_OR_RETURN(int64_t port, config.Int("master-port", o.master_port, 1, 65535));
  o.master_port = static_cast<int>(port);
  ZENITH_ASSIGN_OR_RETURN(o.binder, config.Enum("binder", o.binder, {"first-fit", "gang", "none"}));
  ZENITH_ASSIGN_OR_RETURN(o.qps, config.Double("kube.qps", o.qps));
  ZENITH_ASSIGN_OR_RETURN(int64_t burst, config.Int("kube.burst", o.burst, 1, 100000));
  o.burst = static_cast<int>(burst);
  ZENITH_ASSIGN_OR_RETURN(o.api_enabled, config.Bool("api.enabled", o.api_enabled));
  ZENITH_ASSIGN_OR_RETURN(o.api_address, config.String("api.address", o.api_address));
  ZENITH_ASSIGN_OR_RETURN(int64_t api_port, config.Int("api.port", o.api_port, 1, 65535));
  o.api_port = static_cast<int>(api_port);
  ZENITH_ASSIGN_OR_RETURN(int64_t grpc_port,
                          config.Int("api.grpc-port", o.api_grpc_port, 0, 65535));
  o.api_grpc_port = static_cast<int>(grpc_port);
  ZENITH_ASSIGN_OR_RETURN(o.api_tls_cert, config.String("api.tls-cert", ""));
  ZENITH_ASSIGN_OR_RETURN(o.api_tls_key, config.String("api.tls-key", ""));
  if (o.api_tls_cert.empty() != o.api_tls_key.empty()) {
    return InvalidArgumentError(
        "config keys 'api.tls-cert' and 'api.tls-key' must be given together");
  }
  return o;
}

}  // namespace zenith::operator_
