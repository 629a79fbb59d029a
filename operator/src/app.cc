#include "zenith/operator/app.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include "zenith/common/log.h"
#include "zenith/kube/api_error.h"
#include "zenith/kube/config.h"
#include "zenith/kube/leader_election.h"
#include "zenith/operator/controller.h"
#include "zenith/operator/options.h"
#ifdef ZENITH_OPERATOR_GANG
#include "zenith/operator/gang/gang_scheduler.h"
#endif
#ifdef ZENITH_OPERATOR_API
#include "zenith/operator/api/job_service.h"
#include "zenith/operator/api/rest_server.h"
#ifdef ZENITH_OPERATOR_GRPC
#include "zenith/operator/api/grpc_server.h"
#endif
#endif

namespace zenith::operator_ {

namespace log = common::log;

namespace {

// Everything the running operator owns, torn down in reverse order.
struct Running {
  Options options;
  std::unique_ptr<kube::Client> client;
  std::unique_ptr<Controller> controller;
  std::unique_ptr<kube::LeaderElector> elector;
#ifdef ZENITH_OPERATOR_GANG
  // The scheduler's own clients, each with its own rate limiter: its informers and binds on one,
  // so binds never wait behind the controller's writes, and its Events and status on the other.
  std::unique_ptr<kube::Client> bind_client;
  std::unique_ptr<kube::Client> notes_client;
  std::unique_ptr<gang::GangScheduler> scheduler;
#endif
#ifdef ZENITH_OPERATOR_API
  std::unique_ptr<api::KubeAccessReviewer> reviewer;
  std::unique_ptr<api::JobService> jobs;
  std::unique_ptr<api::RestServer> rest;
#ifdef ZENITH_OPERATOR_GRPC
  std::unique_ptr<api::GrpcServer> grpc;
#endif
#endif
  std::thread starter;
  std::atomic<bool> leading{false};
};

// The Lease lives in a namespace that may not exist yet on a fresh cluster.
void EnsureNamespace(kube::Client& client, const std::string& ns) {
  Json obj = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}};
  auto r = client.Create(kube::resources::Namespaces(), "", obj);
  if (!r.ok() && !kube::IsAlreadyExists(r.status()))
    log::Warn("could not create the leader-election namespace",
              {{"namespace", ns}, {"error", r.status()}});
}

[[noreturn]] void Exit(const char* why) {
  log::Error(why);
  std::_Exit(1);
}

}  // namespace

Result<std::function<void()>> StartOperator(const common::Config& config,
                                            common::MetricsRegistry& metrics,
                                            common::AdminServer& admin) {
  auto run = std::make_shared<Running>();
  ZENITH_ASSIGN_OR_RETURN(run->options, LoadOptions(config));
  Options& o = run->options;
  if (o.identity.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    o.identity = std::string(host) + "-" + std::to_string(getpid());
  }
  auto rest =
      o.kubeconfig.empty() ? kube::LoadInClusterConfig() : kube::LoadKubeconfig(o.kubeconfig);
  if (!rest.ok()) return rest.status().WithContext("loading the API server config");
  kube::ClientOptions copts;
  copts.qps = o.qps;
  copts.burst = o.burst;
  ZENITH_ASSIGN_OR_RETURN(run->client, kube::Client::Create(*rest, copts));

  std::unique_ptr<GangBinder> binder;
  if (o.binder == "first-fit") {
    binder =
        std::make_unique<GangBinder>(std::make_unique<FirstFitPlacer>(),
                                     MakeApiPodBinder(*run->client), common::SystemClock::Get());
  }
#ifdef ZENITH_OPERATOR_GANG
  if (o.binder == "gang") {
    gang::GangSchedulerOptions gopts;
    gopts.scheduler_name = o.scheduler_name;
    gopts.namespace_ = o.watch_namespace;
    ZENITH_ASSIGN_OR_RETURN(run->bind_client, kube::Client::Create(*rest, copts));
    ZENITH_ASSIGN_OR_RETURN(run->notes_client, kube::Client::Create(*rest, copts));
    run->scheduler = std::make_unique<gang::GangScheduler>(
        *run->bind_client, *run->notes_client, gopts, metrics, common::SystemClock::Get());
  }
#else
  if (o.binder == "gang") {
    return UnimplementedError(
        "binder=gang: this build has no gang scheduler (needs the device "
        "plugin library)");
  }
#endif
#ifdef ZENITH_OPERATOR_API
  if (o.api_enabled) {
    run->reviewer = std::make_unique<api::KubeAccessReviewer>(*run->client);
    run->jobs = std::make_unique<api::JobService>(*run->client, *run->reviewer);
    run->rest = std::make_unique<api::RestServer>(
        api::RestOptions{o.api_address, static_cast<uint16_t>(o.api_port), o.api_tls_cert,
                         o.api_tls_key},
        *run->jobs);
    ZENITH_RETURN_IF_ERROR(run->rest->Start());
#ifdef ZENITH_OPERATOR_GRPC
    if (o.api_grpc_port != 0) {
      run->grpc = std::make_unique<api::GrpcServer>(
          api::GrpcOptions{o.api_address, static_cast<uint16_t>(o.api_grpc_port), o.api_tls_cert,
                           o.api_tls_key},
          *run->jobs);
      ZENITH_RETURN_IF_ERROR(run->grpc->Start());
    }
#endif
  }
#else
  if (o.api_enabled) return UnimplementedError("api.enabled: this build has no job API");
#endif
  run->controller = std::make_unique<Controller>(*run->client, o, std::move(binder), metrics,
                                                 common::SystemClock::Get());
  metrics.Gauge("zenith_operator_leader", "1 while this replica runs the controller")
      .Set(o.leader_election ? 0 : 1);
  Running* r = run.get();
  admin.AddReadinessCheck("controller", [r]() -> Status {
    if (r->controller->Ready()) return Status::Ok();
    // A standby replica is ready: it is doing its job, which is to wait for the Lease.
    if (r->options.leader_election && !r->leading.load()) return Status::Ok();
    return UnavailableError("informer caches not synced yet");
  });

  auto start_controller = [r, &metrics]() {
    Status s = r->controller->Start();
    if (!s.ok()) {
      log::Error("controller failed to start", {{"error", s}});
      Exit("exiting: the controller could not start");
    }
#ifdef ZENITH_OPERATOR_GANG
    if (r->scheduler) {
      s = r->scheduler->Start();
      if (!s.ok()) {
        log::Error("gang scheduler failed to start", {{"error", s}});
        Exit("exiting: the gang scheduler could not start");
      }
    }
#endif
    metrics.Gauge("zenith_operator_leader", "1 while this replica runs the controller").Set(1);
  };

  if (!o.leader_election) {
    start_controller();
  } else {
    EnsureNamespace(*run->client, o.leader_election_namespace);
    kube::LeaderElectionConfig le;
    le.identity = o.identity;
    le.lease_duration = o.lease_duration;
    le.renew_deadline = o.lease_duration * 2 / 3;
    le.retry_period =
        std::max<common::Duration>(o.lease_duration / 5, std::chrono::milliseconds(200));
    le.on_started_leading = [r, start_controller]() {
      log::Info("leading: starting the controller", {{"identity", r->options.identity}});
      r->leading = true;
      // Start() waits for the caches; the elector's thread must stay free to renew.
      r->starter = std::thread(start_controller);
    };
    le.on_stopped_leading = []() {
      Exit("lost the leader Lease; exiting so a fresh replica takes over");
    };
    le.on_new_leader = [](const std::string& leader) {
      log::Info("standing by", {{"leader", leader}});
    };
    run->elector = std::make_unique<kube::LeaderElector>(
        kube::MakeLeaseLock(*run->client, o.leader_election_namespace, "zenith-operator"), le,
        common::SystemClock::Get());
    ZENITH_RETURN_IF_ERROR(run->elector->Validate());
    run->elector->Start();
  }
  log::Info("operator configured", {{"namespace", o.watch_namespace},
                                    {"scheduler", o.scheduler_name},
                                    {"binder", o.binder},
                                    {"workers", o.workers},
                                    {"identity", o.identity},
                                    {"leader_election", o.leader_election}});
  return std::function<void()>([run]() {
    if (run->starter.joinable()) run->starter.join();
#ifdef ZENITH_OPERATOR_API
    if (run->rest) run->rest->Stop();
#ifdef ZENITH_OPERATOR_GRPC
    if (run->grpc) run->grpc->Stop();
#endif
#endif
#ifdef ZENITH_OPERATOR_GANG
    if (run->scheduler) run->scheduler->Stop();
#endif
    run->controller->Stop();
    // Released after the controller stopped writing, so the next leader starts at once.
    if (run->elector) run->elector->Stop();
  });
}

}  // namespace zenith::operator_
