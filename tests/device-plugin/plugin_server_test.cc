// The kubelet-facing server against an in-process fake kubelet (a real Registration server on a
// unix socket): registration and its retry on the injected clock, re-registration after a
// kubelet restart and after the plugin's socket is removed, and the DevicePlugin answers.
#include "zenith/deviceplugin/plugin_server.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>

#include "deviceplugin/v1beta1/api.grpc.pb.h"
#include "example_topologies.h"

namespace zenith::deviceplugin {
namespace {

namespace fs = std::filesystem;
namespace api = ::v1beta1;

class FakeKubelet final : public api::Registration::Service {
 public:
  explicit FakeKubelet(std::string dir) : dir_(std::move(dir)) {}
  ~FakeKubelet() override { Stop(); }

  grpc::Status Register(grpc::ServerContext*, const api::RegisterRequest* r, api::Empty*) override {
    std::lock_guard lock(mu_);
    requests_.push_back(*r);
    return refuse_ ? grpc::Status(grpc::StatusCode::INTERNAL, "refused by test") : grpc::Status::OK;
  }
  void Start() {
    Stop();
    fs::remove(socket());
    grpc::ServerBuilder b;
    b.AddListeningPort("unix:" + socket(), grpc::InsecureServerCredentials());
    b.RegisterService(this);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void Stop() {
    if (server_) server_->Shutdown();
    server_.reset();
    fs::remove(socket());
  }
  std::string socket() const { return dir_ + "/kubelet.sock"; }
  size_t count() {
    std::lock_guard lock(mu_);
    return requests_.size();
  }
  api::RegisterRequest last() {
    std::lock_guard lock(mu_);
    return requests_.back();
  }
  void refuse(bool r) {
    std::lock_guard lock(mu_);
    refuse_ = r;
  }

 private:
  std::string dir_;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  std::vector<api::RegisterRequest> requests_;
  bool refuse_ = false;
};

class PluginServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/zps.XXXXXX";
    dir_ = mkdtemp(tmpl);
    topology_ = fixtures::LoadTopology("dgx1-v100.yaml");
    manager_ = std::move(GpuResourceManager::Create(topology_, Options{}).value());
    kubelet_ = std::make_unique<FakeKubelet>(dir_);
    PluginServerOptions o;
    o.kubelet_dir = dir_;
    o.socket_name = "zenith-gpu.sock";
    o.watch_interval = std::chrono::hours(1);  // the test drives WatchOnce itself
    server_ = std::make_unique<PluginServer>(*manager_, o, metrics_, clock_);
  }
  void TearDown() override {
    server_.reset();
    kubelet_.reset();
    fs::remove_all(dir_);
  }
  std::unique_ptr<api::DevicePlugin::Stub> Dial() {
    return api::DevicePlugin::NewStub(
        grpc::CreateChannel("unix:" + server_->socket_path(), grpc::InsecureChannelCredentials()));
  }

  std::string dir_;
  NodeTopology topology_;
  std::unique_ptr<GpuResourceManager> manager_;
  common::MetricsRegistry metrics_;
  common::FakeClock clock_;
  std::unique_ptr<FakeKubelet> kubelet_;
  std::unique_ptr<PluginServer> server_;
};

TEST_F(PluginServerTest, RegistersOnceTheKubeletAppears) {
  ASSERT_TRUE(server_->Start().ok());
  EXPECT_TRUE(fs::exists(server_->socket_path()));
  EXPECT_FALSE(server_->registered());
  EXPECT_EQ(server_->RegistrationStatus().code(), StatusCode::kUnavailable);
  kubelet_->Start();
  EXPECT_TRUE(server_->WatchOnce().ok());
  EXPECT_TRUE(server_->registered());
  ASSERT_EQ(kubelet_->count(), 1u);
  const api::RegisterRequest r = kubelet_->last();
  EXPECT_EQ(r.version(), "v1beta1");
  EXPECT_EQ(r.endpoint(), "zenith-gpu.sock");
  EXPECT_EQ(r.resource_name(), "zenith.ai/gpu");
  EXPECT_TRUE(r.options().get_preferred_allocation_available());
  EXPECT_FALSE(r.options().pre_start_required());
  EXPECT_TRUE(server_->WatchOnce().ok());
  EXPECT_EQ(kubelet_->count(), 1u);  // nothing changed, no new Register
}

TEST_F(PluginServerTest, RetriesARefusedRegistrationAfterABackoffOnTheClock) {
  kubelet_->Start();
  kubelet_->refuse(true);
  ASSERT_TRUE(server_->Start().ok());
  EXPECT_EQ(kubelet_->count(), 1u);
  EXPECT_EQ(server_->WatchOnce().code(), StatusCode::kInternal);
  EXPECT_EQ(kubelet_->count(), 1u);  // the backoff has not passed on the fake clock
  kubelet_->refuse(false);
  clock_.Advance(std::chrono::seconds(10));
  EXPECT_TRUE(server_->WatchOnce().ok());
  EXPECT_EQ(kubelet_->count(), 2u);
  EXPECT_TRUE(server_->RegistrationStatus().ok());
}

TEST_F(PluginServerTest, RegistersAgainAfterAKubeletRestart) {
  kubelet_->Start();
  ASSERT_TRUE(server_->Start().ok());
  ASSERT_TRUE(server_->registered());
  kubelet_->Stop();
  EXPECT_EQ(server_->WatchOnce().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(server_->registered());
  kubelet_->Start();
  EXPECT_TRUE(server_->WatchOnce().ok());
  EXPECT_EQ(kubelet_->count(), 2u);
}

TEST_F(PluginServerTest, ServesAndRegistersAgainWhenItsSocketIsRemoved) {
  kubelet_->Start();
  ASSERT_TRUE(server_->Start().ok());
  fs::remove(server_->socket_path());
  EXPECT_TRUE(server_->WatchOnce().ok());
  EXPECT_TRUE(fs::exists(server_->socket_path()));
  EXPECT_EQ(kubelet_->count(), 2u);
  grpc::ClientContext ctx;
  api::DevicePluginOptions o;
  EXPECT_TRUE(Dial()->GetDevicePluginOptions(&ctx, api::Empty(), &o).ok());
  server_->Stop();
  EXPECT_FALSE(fs::exists(server_->socket_path()));
  EXPECT_FALSE(server_->registered());
}

TEST_F(PluginServerTest, ListAndWatchPushesHealthChanges) {
  kubelet_->Start();
  ASSERT_TRUE(server_->Start().ok());
  auto stub = Dial();
  grpc::ClientContext ctx;
  auto stream = stub->ListAndWatch(&ctx, api::Empty());
  api::ListAndWatchResponse r;
  ASSERT_TRUE(stream->Read(&r));
  ASSERT_EQ(r.devices_size(), 8);
  EXPECT_EQ(r.devices(4).id(), topology_.gpus[4].uuid);
  EXPECT_EQ(r.devices(4).health(), "Healthy");
  ASSERT_EQ(r.devices(4).topology().nodes_size(), 1);
  EXPECT_EQ(r.devices(4).topology().nodes(0).id(), 1);
  ASSERT_TRUE(manager_->SetHealthy(topology_.gpus[4].uuid, false, "test").value());
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(r.devices(4).health(), "Unhealthy");
  EXPECT_EQ(r.devices(3).health(), "Healthy");
  // Stopping the server ends the stream (the Read loop would hang otherwise).
  server_->Stop();
  while (stream->Read(&r)) {
  }
  (void)stream->Finish();
}

TEST_F(PluginServerTest, AllocateAndPreferredTranslateAnswersAndErrors) {
  ASSERT_TRUE(server_->Start().ok());
  auto stub = Dial();
  {
    grpc::ClientContext ctx;
    api::PreferredAllocationRequest req;
    auto* c = req.add_container_requests();
    for (const Gpu& g : topology_.gpus) c->add_available_deviceids(g.uuid);
    c->add_must_include_deviceids(topology_.gpus[6].uuid);
    c->set_allocation_size(4);
    api::PreferredAllocationResponse resp;
    ASSERT_TRUE(stub->GetPreferredAllocation(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.container_responses_size(), 1);
    EXPECT_EQ(resp.container_responses(0).deviceids_size(), 4);
    EXPECT_EQ(resp.container_responses(0).deviceids(0), topology_.gpus[4].uuid);
  }
  {
    grpc::ClientContext ctx;
    api::AllocateRequest req;
    req.add_container_requests()->add_devices_ids(topology_.gpus[1].uuid);
    api::AllocateResponse resp;
    ASSERT_TRUE(stub->Allocate(&ctx, req, &resp).ok());
    const auto& c = resp.container_responses(0);
    EXPECT_EQ(c.envs().at("NVIDIA_VISIBLE_DEVICES"), topology_.gpus[1].uuid);
    EXPECT_EQ(c.devices(0).host_path(), "/dev/nvidia1");
    EXPECT_EQ(c.devices_size(), 4);
  }
  {
    grpc::ClientContext ctx;
    api::AllocateRequest req;
    req.add_container_requests()->add_devices_ids("GPU-bogus");
    api::AllocateResponse resp;
    const grpc::Status s = stub->Allocate(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_NE(s.error_message().find("GPU-bogus"), std::string::npos);
  }
  const std::string text = metrics_.Serialize();
  EXPECT_NE(text.find("zenith_deviceplugin_allocations_total{resource=\"zenith.ai/gpu\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("zenith_deviceplugin_allocation_errors_total{resource=\"zenith.ai/gpu\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace zenith::deviceplugin
