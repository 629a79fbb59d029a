#include "zenith/deviceplugin/plugin_server.h"

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>

#include "deviceplugin/v1beta1/api.grpc.pb.h"
#include "zenith/common/log.h"

namespace zenith::deviceplugin {
namespace {

namespace api = ::v1beta1;
using Seconds = std::chrono::duration<double>;

grpc::Status ToGrpc(const Status& s) {
  // Zenith's StatusCode values are gRPC's codes, in the same order.
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), s.message());
}

std::vector<std::string> Ids(const google::protobuf::RepeatedPtrField<std::string>& field) {
  return {field.begin(), field.end()};
}

// Rpc metrics, shared by every restart of the service.
struct RpcMetrics {
  prometheus::Counter& allocations;
  prometheus::Counter& allocation_errors;
  prometheus::Histogram& allocate_latency;
  prometheus::Histogram& preferred_latency;
};

// The DevicePlugin service on gRPC's async API: one completion queue, drained by one thread,
// which also does the polling, so a call is read, answered and written on the same thread with
// no hand-off (the kubelet waits on Allocate while a container starts). Handlers never block.
// ListAndWatch streams are woken through a grpc::Alarm when the devices change.
class AsyncDevicePlugin {
 public:
  AsyncDevicePlugin(ResourceManager& manager, bool pre_start_required, RpcMetrics metrics)
      : manager_(manager), pre_start_required_(pre_start_required), metrics_(metrics) {}

  void Register(grpc::ServerBuilder& builder) {
    builder.RegisterService(&service_);
    cq_ = builder.AddCompletionQueue();
  }
  // After the server is built: arms one pending call per method and starts the threads.
  void Run();
  // Asks every open ListAndWatch stream to end (before Server::Shutdown).
  void FinishStreams();
  // After Server::Shutdown returned: drains the queue, joins the threads, frees what is left.
  void Stop();

  grpc::Status Options(const api::Empty&, api::DevicePluginOptions& out) {
    out.set_pre_start_required(pre_start_required_);
    out.set_get_preferred_allocation_available(true);
    return grpc::Status::OK;
  }
  grpc::Status Preferred(const api::PreferredAllocationRequest& request,
                         api::PreferredAllocationResponse& response);
  grpc::Status Allocate(const api::AllocateRequest& request, api::AllocateResponse& response);
  grpc::Status PreStart(const api::PreStartContainerRequest&, api::PreStartContainerResponse&) {
    // Nothing to prepare: GPUs need no reset or setup before a container starts.
    return grpc::Status::OK;
  }
  void FillDevices(api::ListAndWatchResponse& out, uint64_t* version) const;

  api::DevicePlugin::AsyncService service_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  ResourceManager& manager_;

  // Open ListAndWatch streams, poked when the manager's version moves.
  class Watch;
  std::mutex watches_mu_;
  std::set<Watch*> watches_;
  // Every Watch alive, touched only by the queue's thread (and by Stop once it has joined):
  // a call the server never matched may get no done tag, so Stop frees what is left.
  std::set<Watch*> all_watches_;

 private:
  const bool pre_start_required_;
  RpcMetrics metrics_;
  std::thread cq_thread_;
  std::thread change_thread_;
  std::atomic<bool> stopping_{false};
};

class Call {
 public:
  virtual ~Call() = default;
  virtual void Proceed(int event, bool ok) = 0;
};
// A completion-queue tag: the call it belongs to and which of its operations completed.
struct Tag {
  Call* call;
  int event;
};

// One unary call: waits for a request, arms the next one, answers, frees itself when written.
template <class Req, class Resp>
class UnaryCall final : public Call {
 public:
  using RequestFn = void (api::DevicePlugin::AsyncService::*)(
      grpc::ServerContext*, Req*, grpc::ServerAsyncResponseWriter<Resp>*, grpc::CompletionQueue*,
      grpc::ServerCompletionQueue*, void*);
  using HandleFn = grpc::Status (AsyncDevicePlugin::*)(const Req&, Resp&);

  UnaryCall(AsyncDevicePlugin& plugin, RequestFn request, HandleFn handle)
      : plugin_(plugin), request_(request), handle_(handle), responder_(&context_) {
    (plugin_.service_.*request_)(&context_, &req_, &responder_, plugin_.cq_.get(),
                                 plugin_.cq_.get(), &tag_);
  }
  void Proceed(int, bool ok) override {
    if (answered_ || !ok) {  // written, or the server is shutting down
      delete this;
      return;
    }
    new UnaryCall(plugin_, request_, handle_);
    answered_ = true;
    Resp response;
    const grpc::Status status = (plugin_.*handle_)(req_, response);
    if (status.ok()) {
      responder_.Finish(response, status, &tag_);
    } else {
      responder_.FinishWithError(status, &tag_);
    }
  }

 private:
  AsyncDevicePlugin& plugin_;
  RequestFn request_;
  HandleFn handle_;
  grpc::ServerContext context_;
  Req req_;
  grpc::ServerAsyncResponseWriter<Resp> responder_;
  Tag tag_{this, 0};
  bool answered_ = false;
};

// One ListAndWatch stream: writes the device list, then again whenever its version moves.
// Frees itself once the call is done and no operation of it is pending in the queue.
class AsyncDevicePlugin::Watch final : public Call {
 public:
  explicit Watch(AsyncDevicePlugin& plugin) : plugin_(plugin), writer_(&context_) {
    plugin_.all_watches_.insert(this);
    context_.AsyncNotifyWhenDone(&done_tag_);
    plugin_.service_.RequestListAndWatch(&context_, &req_, &writer_, plugin_.cq_.get(),
                                         plugin_.cq_.get(), &start_tag_);
  }
  ~Watch() override { plugin_.all_watches_.erase(this); }
  // From any thread: asks the queue's thread to end the stream.
  void RequestFinish() {
    finish_requested_.store(true, std::memory_order_release);
    Poke();
  }
  // From any thread: schedules a write of the latest list on the queue's thread.
  void Poke() {
    if (!alarm_pending_.exchange(true, std::memory_order_acq_rel)) {
      alarm_.Set(plugin_.cq_.get(), gpr_now(GPR_CLOCK_MONOTONIC), &alarm_tag_);
    }
  }
  void Proceed(int event, bool ok) override {
    switch (event) {
      case kStart:
        if (!ok) break;  // shutting down before a client came
        new Watch(plugin_);
        {
          std::lock_guard lock(plugin_.watches_mu_);
          plugin_.watches_.insert(this);
        }
        WriteLatest();
        break;
      case kWrite:
        writing_ = false;
        if (ok) WriteLatest();
        break;
      case kAlarm:
        alarm_pending_.store(false, std::memory_order_release);
        if (ok && !done_) WriteLatest();
        break;
      case kFinish:
        finishing_ = false;
        break;
      case kDone:
        done_ = true;
        {
          std::lock_guard lock(plugin_.watches_mu_);
          plugin_.watches_.erase(this);
        }
        if (alarm_pending_.load(std::memory_order_acquire)) alarm_.Cancel();
        break;
    }
    // The done tag always comes, even for a call that never started.
    if (done_ && !writing_ && !finishing_ && !alarm_pending_.load(std::memory_order_acquire)) {
      delete this;
    }
  }

 private:
  enum { kStart, kWrite, kAlarm, kFinish, kDone };
  // Writes the latest list if it is newer than the last one written, or ends the stream when
  // asked to; at most one write or finish in flight, as gRPC requires.
  void WriteLatest() {
    if (writing_ || done_ || finishing_) return;
    if (finish_requested_.load(std::memory_order_acquire)) {
      finishing_ = true;
      writer_.Finish(grpc::Status::OK, &finish_tag_);
      return;
    }
    uint64_t version = 0;
    api::ListAndWatchResponse response;
    plugin_.FillDevices(response, &version);
    if (version == sent_) return;
    sent_ = version;
    writing_ = true;
    writer_.Write(response, &write_tag_);
  }

  AsyncDevicePlugin& plugin_;
  grpc::ServerContext context_;
  api::Empty req_;
  grpc::ServerAsyncWriter<api::ListAndWatchResponse> writer_;
  grpc::Alarm alarm_;
  std::atomic<bool> alarm_pending_{false};
  std::atomic<bool> finish_requested_{false};
  Tag start_tag_{this, kStart}, write_tag_{this, kWrite}, alarm_tag_{this, kAlarm},
      finish_tag_{this, kFinish}, done_tag_{this, kDone};
  uint64_t sent_ = 0;  // versions start at 1, so the first list is always written
  bool writing_ = false, finishing_ = false, done_ = false;
};

void AsyncDevicePlugin::FillDevices(api::ListAndWatchResponse& out, uint64_t* version) const {
  for (const DeviceState& d : manager_.Devices(version)) {
    api::Device* device = out.add_devices();
    device->set_id(d.id);
    device->set_health(d.healthy ? kHealthy : kUnhealthy);
    if (d.numa_node >= 0) device->mutable_topology()->add_nodes()->set_id(d.numa_node);
  }
}

grpc::Status AsyncDevicePlugin::Preferred(const api::PreferredAllocationRequest& request,
                                          api::PreferredAllocationResponse& response) {
  const auto start = std::chrono::steady_clock::now();
  for (const auto& c : request.container_requests()) {
    auto chosen = manager_.Preferred(Ids(c.available_deviceids()), Ids(c.must_include_deviceids()),
                                     c.allocation_size());
    if (!chosen.ok()) return ToGrpc(chosen.status());
    auto* out = response.add_container_responses();
    for (const std::string& id : *chosen) out->add_deviceids(id);
  }
  metrics_.preferred_latency.Observe(Seconds(std::chrono::steady_clock::now() - start).count());
  return grpc::Status::OK;
}

grpc::Status AsyncDevicePlugin::Allocate(const api::AllocateRequest& request,
                                         api::AllocateResponse& response) {
  const auto start = std::chrono::steady_clock::now();
  for (const auto& c : request.container_requests()) {
    auto allocation = manager_.Allocate(Ids(c.devices_ids()));
    if (!allocation.ok()) {
      metrics_.allocation_errors.Increment();
      common::log::Warn("Allocate refused",
                        {{"resource", manager_.resource_name()}, {"error", allocation.status()}});
      return ToGrpc(allocation.status());
    }
    auto* out = response.add_container_responses();
    for (const auto& [k, v] : allocation->envs) (*out->mutable_envs())[k] = v;
    for (const DeviceNode& n : allocation->devices) {
      auto* spec = out->add_devices();
      spec->set_container_path(n.container_path);
      spec->set_host_path(n.host_path);
      spec->set_permissions(n.permissions);
    }
    for (const std::string& name : allocation->cdi_devices) out->add_cdi_devices()->set_name(name);
  }
  metrics_.allocations.Increment(request.container_requests_size());
  metrics_.allocate_latency.Observe(Seconds(std::chrono::steady_clock::now() - start).count());
  return grpc::Status::OK;
}

void AsyncDevicePlugin::Run() {
  using S = api::DevicePlugin::AsyncService;
  using P = AsyncDevicePlugin;
  new UnaryCall<api::Empty, api::DevicePluginOptions>(*this, &S::RequestGetDevicePluginOptions,
                                                      &P::Options);
  new UnaryCall<api::PreferredAllocationRequest, api::PreferredAllocationResponse>(
      *this, &S::RequestGetPreferredAllocation, &P::Preferred);
  new UnaryCall<api::AllocateRequest, api::AllocateResponse>(*this, &S::RequestAllocate,
                                                             &P::Allocate);
  new UnaryCall<api::PreStartContainerRequest, api::PreStartContainerResponse>(
      *this, &S::RequestPreStartContainer, &P::PreStart);
  new Watch(*this);
  cq_thread_ = std::thread([this] {
    void* tag = nullptr;
    bool ok = false;
    while (cq_->Next(&tag, &ok)) {
      auto* t = static_cast<Tag*>(tag);
      t->call->Proceed(t->event, ok);
    }
  });
  // Health changes arrive on checker threads; this one turns them into stream pokes.
  change_thread_ = std::thread([this] {
    uint64_t seen = 0;
    manager_.Devices(&seen);
    while (!stopping_.load(std::memory_order_acquire)) {
      const uint64_t now = manager_.WaitForChange(seen, std::chrono::milliseconds(200));
      if (now == seen) continue;
      seen = now;
      std::lock_guard lock(watches_mu_);
      for (Watch* w : watches_) w->Poke();
    }
  });
}

void AsyncDevicePlugin::FinishStreams() {
  std::lock_guard lock(watches_mu_);
  for (Watch* w : watches_) w->RequestFinish();
}

void AsyncDevicePlugin::Stop() {
  stopping_.store(true, std::memory_order_release);
  manager_.Wake();
  if (change_thread_.joinable()) change_thread_.join();
  cq_->Shutdown();
  if (cq_thread_.joinable()) {
    cq_thread_.join();
  } else {  // never ran: drain what the server left in the queue
    void* tag = nullptr;
    bool ok = false;
    while (cq_->Next(&tag, &ok))
      static_cast<Tag*>(tag)->call->Proceed(static_cast<Tag*>(tag)->event, ok);
  }
  while (!all_watches_.empty()) delete *all_watches_.begin();
}

}  // namespace

struct PluginServer::Metrics {
  RpcMetrics metrics;
};

struct PluginServer::Service {
  std::unique_ptr<AsyncDevicePlugin> impl;
  std::unique_ptr<grpc::Server> server;
};

namespace {
RpcMetrics MakeRpcMetrics(common::MetricsRegistry& m, const std::string& resource) {
  const common::MetricsRegistry::Labels labels{{"resource", resource}};
  // Sub-millisecond buckets: the goal is p99 under 1 ms.
  const prometheus::Histogram::BucketBoundaries buckets{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
                                                        1e-3, 2.5e-3, 1e-2, 0.1,  1};
  return RpcMetrics{
      m.Counter("zenith_deviceplugin_allocations_total", "containers given devices by Allocate",
                labels),
      m.Counter("zenith_deviceplugin_allocation_errors_total",
                "Allocate calls refused (unknown or Unhealthy device)", labels),
      m.Histogram("zenith_deviceplugin_allocate_seconds", "time to answer Allocate", buckets,
                  labels),
      m.Histogram("zenith_deviceplugin_preferred_allocation_seconds",
                  "time to answer GetPreferredAllocation", buckets, labels),
  };
}
}  // namespace

PluginServer::PluginServer(ResourceManager& manager, PluginServerOptions options,
                           common::MetricsRegistry& metrics, common::Clock& clock)
    : manager_(manager),
      options_(std::move(options)),
      clock_(clock),
      backoff_(options_.register_backoff, std::hash<std::string>()(options_.socket_name)),
      devices_gauge_(metrics.Gauge("zenith_deviceplugin_devices", "devices advertised",
                                   {{"resource", manager.resource_name()}})),
      healthy_gauge_(metrics.Gauge("zenith_deviceplugin_healthy_devices",
                                   "devices advertised as Healthy",
                                   {{"resource", manager.resource_name()}})),
      registered_gauge_(metrics.Gauge("zenith_deviceplugin_registered",
                                      "1 while registered with the kubelet",
                                      {{"resource", manager.resource_name()}})),
      registrations_(metrics.Counter("zenith_deviceplugin_registrations_total",
                                     "successful Register calls to the kubelet",
                                     {{"resource", manager.resource_name()}})) {
  rpc_metrics_.reset(new Metrics{MakeRpcMetrics(metrics, manager.resource_name())});
}

PluginServer::~PluginServer() { Stop(); }

std::string PluginServer::socket_path() const {
  return (std::filesystem::path(options_.kubelet_dir) / options_.socket_name).string();
}

PluginServer::Identity PluginServer::Stat(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {true, static_cast<unsigned long>(st.st_dev), static_cast<unsigned long>(st.st_ino),
          st.st_ctim.tv_sec * 1'000'000'000L + st.st_ctim.tv_nsec};
}

Status PluginServer::Serve() {
  const std::string path = socket_path();
  std::error_code ec;
  std::filesystem::create_directories(options_.kubelet_dir, ec);
  // A socket left by an earlier run would make the bind fail.
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return UnavailableError("cannot remove stale socket " + path + ": " + ErrnoMessage(errno));
  }
  auto service = std::make_unique<Service>();
  service->impl = std::make_unique<AsyncDevicePlugin>(manager_, options_.pre_start_required,
                                                      rpc_metrics_->metrics);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  service->impl->Register(builder);
  service->server = builder.BuildAndStart();
  if (!service->server) {
    service->impl->Stop();
    return UnavailableError("cannot serve the device plugin on " + path +
                            " (is the directory writable?)");
  }
  service->impl->Run();
  service_ = std::move(service);
  own_socket_ = Stat(path);
  common::log::Info("serving device plugin",
                    {{"resource", manager_.resource_name()}, {"socket", path}});
  return Status::Ok();
}

void PluginServer::StopServing() {
  if (!service_) return;
  // Streams end first, so the shutdown need not wait for its deadline; the queue is drained
  // after the server let go of it.
  service_->impl->FinishStreams();
  service_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  service_->server->Wait();
  service_->impl->Stop();
  service_.reset();
  // Remove the socket only when it is still the one this server made.
  const std::string path = socket_path();
  if (own_socket_.exists && Stat(path) == own_socket_) ::unlink(path.c_str());
  own_socket_ = {};
}

Status PluginServer::Register() {
  const std::string kubelet =
      (std::filesystem::path(options_.kubelet_dir) / "kubelet.sock").string();
  const Identity identity = Stat(kubelet);
  if (!identity.exists) return UnavailableError("no kubelet socket at " + kubelet);
  auto channel = grpc::CreateChannel("unix:" + kubelet, grpc::InsecureChannelCredentials());
  auto stub = api::Registration::NewStub(channel);
  api::RegisterRequest request;
  request.set_version("v1beta1");
  request.set_endpoint(options_.socket_name);
  request.set_resource_name(manager_.resource_name());
  request.mutable_options()->set_pre_start_required(options_.pre_start_required);
  request.mutable_options()->set_get_preferred_allocation_available(true);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.register_timeout);
  context.set_wait_for_ready(false);
  api::Empty response;
  const grpc::Status s = stub->Register(&context, request, &response);
  if (!s.ok()) {
    return Status(
        static_cast<StatusCode>(s.error_code()),
        "Register " + manager_.resource_name() + " with " + kubelet + ": " + s.error_message());
  }
  kubelet_socket_ = identity;
  return Status::Ok();
}

Status PluginServer::Start() {
  {
    std::lock_guard lock(mu_);
    if (service_) return Status::Ok();
    ZENITH_RETURN_IF_ERROR(Serve());
    next_register_ = clock_.Now();
  }
  (void)WatchOnce();
  watcher_.Start([this] { (void)WatchOnce(); }, options_.watch_interval);
  return Status::Ok();
}

void PluginServer::Stop() {
  watcher_.Stop();
  std::lock_guard lock(mu_);
  StopServing();
  registered_.store(false, std::memory_order_release);
  registered_gauge_.Set(0);
}

Status PluginServer::RegistrationStatus() const {
  std::lock_guard lock(mu_);
  return registered() ? Status::Ok() : last_error_;
}

void PluginServer::UpdateGauges() {
  const auto devices = manager_.Devices();
  devices_gauge_.Set(static_cast<double>(devices.size()));
  healthy_gauge_.Set(manager_.HealthyCount());
  registered_gauge_.Set(registered() ? 1 : 0);
}

Status PluginServer::WatchOnce() {
  std::lock_guard lock(mu_);
  if (!service_) return FailedPreconditionError("the plugin server is stopped");
  UpdateGauges();
  const std::string path = socket_path();
  if (Stat(path) != own_socket_) {
    // Someone removed our socket (the kubelet does on restart): serve again, register again.
    common::log::Warn("plugin socket removed or replaced; serving again",
                      {{"resource", manager_.resource_name()}, {"socket", path}});
    StopServing();
    registered_.store(false, std::memory_order_release);
    if (Status s = Serve(); !s.ok()) {
      last_error_ = s;
      return s;
    }
    backoff_.Reset();
    next_register_ = clock_.Now();
  }
  const Identity kubelet =
      Stat((std::filesystem::path(options_.kubelet_dir) / "kubelet.sock").string());
  if (registered()) {
    if (kubelet == kubelet_socket_) return Status::Ok();
    common::log::Warn(kubelet.exists ? "kubelet restarted; registering again"
                                     : "kubelet socket gone; waiting for the kubelet",
                      {{"resource", manager_.resource_name()}});
    registered_.store(false, std::memory_order_release);
    backoff_.Reset();
    next_register_ = clock_.Now();
  }
  if (!kubelet.exists) {
    last_error_ = UnavailableError("no kubelet socket in " + options_.kubelet_dir);
  } else if (clock_.Now() >= next_register_) {
    Status s = Register();
    if (s.ok()) {
      registered_.store(true, std::memory_order_release);
      registrations_.Increment();
      backoff_.Reset();
      common::log::Info("registered with the kubelet", {{"resource", manager_.resource_name()},
                                                        {"endpoint", options_.socket_name}});
    } else {
      next_register_ = clock_.Now() + backoff_.Next();
      common::log::Warn("registration failed; will retry", {{"error", s}});
    }
    last_error_ = s;
  }
  registered_gauge_.Set(registered() ? 1 : 0);
  return registered() ? Status::Ok() : last_error_;
}

}  // namespace zenith::deviceplugin
