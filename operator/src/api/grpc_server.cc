#include "zenith/operator/api/grpc_server.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <sstream>

#include "zenith/common/log.h"
#include "zenith/v1alpha1/scheduler.grpc.pb.h"

namespace zenith::operator_::api {
namespace {

namespace pb = ::zenith::v1alpha1;

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // StatusCode follows the gRPC numbering, so the codes carry over one for one.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message());
}

std::string Token(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return "";
  const std::string value(it->second.data(), it->second.size());
  const std::string prefix = "Bearer ";
  return value.rfind(prefix, 0) == 0 ? value.substr(prefix.size()) : "";
}

void FillJob(const Json& s, pb::Job* job) {
  job->set_id(s.value("id", ""));
  job->set_name(s.value("name", ""));
  job->set_namespace_(s.value("namespace", ""));
  job->set_user(s.value("user", ""));
  job->set_project(s.value("project", ""));
  job->set_phase(s.value("phase", ""));
  job->set_ready(s.value("ready", ""));
  job->set_replicas(s.value("replicas", 0));
  job->set_gpus_per_replica(s.value("gpusPerReplica", 0));
  job->set_gpus(s.value("gpus", 0));
  job->set_queue(s.value("queue", ""));
  job->set_retries(s.value("retries", 0));
  job->set_created(s.value("created", ""));
  job->set_message(s.value("message", ""));
}

Json RequestJson(const pb::SubmitJobRequest& r) {
  Json j = {{"name", r.name()}, {"image", r.image()}, {"replicas", r.replicas()}};
  if (!r.namespace_().empty()) j["namespace"] = r.namespace_();
  if (!r.user().empty()) j["user"] = r.user();
  if (!r.project().empty()) j["project"] = r.project();
  if (r.command_size() > 0) {
    j["command"] = std::vector<std::string>(r.command().begin(), r.command().end());
  }
  if (r.args_size() > 0) j["args"] = std::vector<std::string>(r.args().begin(), r.args().end());
  if (!r.env().empty()) {
    Json env = Json::object();
    for (const auto& [k, v] : r.env()) env[k] = v;
    j["env"] = env;
  }
  if (r.gpus() != 0) j["gpus"] = r.gpus();
  if (!r.queue().empty()) j["queue"] = r.queue();
  if (r.priority() != 0) j["priority"] = r.priority();
  return j;
}

class Service final : public pb::SchedulerService::Service {
 public:
  explicit Service(JobService& jobs) : jobs_(jobs) {}

  grpc::Status SubmitJob(grpc::ServerContext* context, const pb::SubmitJobRequest* request,
                         pb::Job* reply) override {
    auto r = jobs_.Submit(Token(*context), RequestJson(*request));
    if (r.ok()) FillJob(*r, reply);
    return ToGrpc(r.status());
  }

  grpc::Status GetJobStatus(grpc::ServerContext* context, const pb::GetJobStatusRequest* request,
                            pb::Job* reply) override {
    auto r = jobs_.Get(Token(*context), request->id());
    if (r.ok()) FillJob(*r, reply);
    return ToGrpc(r.status());
  }

  grpc::Status CancelJob(grpc::ServerContext* context, const pb::CancelJobRequest* request,
                         pb::Job* reply) override {
    auto r = jobs_.Cancel(Token(*context), request->id());
    if (r.ok()) FillJob(*r, reply);
    return ToGrpc(r.status());
  }

  grpc::Status ListJobs(grpc::ServerContext* context, const pb::ListJobsRequest* request,
                        pb::ListJobsResponse* reply) override {
    ListJobsRequest list{request->namespace_(), request->user(), request->project(),
                         request->phase()};
    auto r = jobs_.List(Token(*context), list);
    if (r.ok()) {
      for (const auto& s : (*r)["jobs"]) FillJob(s, reply->add_jobs());
    }
    return ToGrpc(r.status());
  }

  grpc::Status GetClusterStatus(grpc::ServerContext* context, const pb::GetClusterStatusRequest*,
                                pb::ClusterStatus* reply) override {
    auto r = jobs_.ClusterStatus(Token(*context));
    if (r.ok()) {
      const Json& s = *r;
      reply->set_nodes(s["nodes"].value("total", 0));
      reply->set_ready_nodes(s["nodes"].value("ready", 0));
      reply->set_gpus_total(s["gpus"].value("total", int64_t{0}));
      reply->set_gpus_allocated(s["gpus"].value("allocated", int64_t{0}));
      reply->set_gpus_free(s["gpus"].value("free", int64_t{0}));
      reply->set_gpus_unhealthy(s["gpus"].value("unhealthy", int64_t{0}));
      for (const auto& [phase, count] : s["jobs"].items()) {
        (*reply->mutable_jobs_by_phase())[phase] = count.get<int>();
      }
    }
    return ToGrpc(r.status());
  }

 private:
  JobService& jobs_;
};

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return InvalidArgumentError("cannot read TLS file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

struct GrpcServer::Impl {
  GrpcOptions options;
  Service service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;

  Impl(GrpcOptions o, JobService& jobs) : options(std::move(o)), service(jobs) {}
};

GrpcServer::GrpcServer(GrpcOptions options, JobService& service)
    : impl_(std::make_unique<Impl>(std::move(options), service)) {}

GrpcServer::~GrpcServer() { Stop(); }

std::string GrpcServer::target() const {
  return impl_->options.address + ":" + std::to_string(impl_->port);
}

Status GrpcServer::Start() {
  const GrpcOptions& o = impl_->options;
  if (impl_->server) return FailedPreconditionError("gRPC API already started on " + target());
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return InvalidArgumentError("api.tls-cert and api.tls-key must be given together");
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!o.tls_cert_file.empty()) {
    ZENITH_ASSIGN_OR_RETURN(std::string cert, ReadFile(o.tls_cert_file));
    ZENITH_ASSIGN_OR_RETURN(std::string key, ReadFile(o.tls_key_file));
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({key, cert});
    credentials = grpc::SslServerCredentials(ssl);
  }
  grpc::ServerBuilder builder;
  const std::string address = o.address + ":" + std::to_string(o.port);
  builder.AddListeningPort(address, credentials, &impl_->port);
  builder.RegisterService(&impl_->service);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0) {
    impl_->server.reset();
    return UnavailableError("gRPC API cannot listen on " + address);
  }
  common::log::Info("gRPC API listening",
                    {{"target", target()}, {"tls", !o.tls_cert_file.empty()}});
  return Status::Ok();
}

void GrpcServer::Stop() {
  if (!impl_ || !impl_->server) return;
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  impl_->server.reset();
}

}  // namespace zenith::operator_::api
