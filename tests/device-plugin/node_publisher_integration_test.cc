// Topology publishing against the real local kube-apiserver (label kube): the ZenithNode CRD
// accepts what the publisher writes, the object is owned by its Node and round-trips to the same
// topology, health changes show up, republishing is a no-op, and the Node gets its labels.
#include <cstdlib>

#include "../kube/integration_env.h"
#include "example_topologies.h"
#include "zenith/deviceplugin/node_publisher.h"
#include "zenith/deviceplugin/publish_loop.h"
#include "zenith/deviceplugin/resource_manager.h"

namespace zenith::deviceplugin {
namespace {

using kube::Json;
using kube::testing::KubeconfigPath;
using kube::testing::WaitFor;
using namespace std::chrono_literals;

class NodePublisherTest : public kube::testing::KubeTest {
 protected:
  void SetUp() override {
    KubeTest::SetUp();
    if (IsSkipped()) return;
    // The CRD exactly as users install it.
    const std::string apply = "kubectl --kubeconfig=" + KubeconfigPath() + " apply -f " +
                              ZENITH_SOURCE_DIR "/crds/zenith.ai_zenithnodes.yaml >/dev/null";
    ASSERT_EQ(std::system(apply.c_str()), 0) << apply;
    ASSERT_TRUE(WaitFor([&] { return client_->List(ZenithNodes(), "").ok(); }, 30s))
        << "zenithnodes.zenith.ai was not served within 30 s";
  }

  // A Node object (no kubelet behind it: the API server accepts it all the same).
  std::string MakeNode(const std::string& suffix) {
    std::string name = ns_ + "-" + suffix;
    auto node =
        client_->Create(kube::resources::Nodes(), "",
                        {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}});
    EXPECT_TRUE(node.ok()) << node.status();
    nodes_.push_back(name);
    return name;
  }

  void TearDown() override {
    for (const auto& n : nodes_) {
      (void)client_->Delete(ZenithNodes(), "", n);
      (void)client_->Delete(kube::resources::Nodes(), "", n);
    }
    KubeTest::TearDown();
  }

  std::vector<std::string> nodes_;
};

TEST_F(NodePublisherTest, PublishesTheTopologyOwnedByTheNode) {
  const std::string node = MakeNode("dgx");
  NodePublisher publisher(*client_, {node, "zenith.ai/gpu", "zenith-device-plugin"});
  NodeTopology t = fixtures::LoadTopology("dgx1-v100.yaml");
  ASSERT_TRUE(publisher.Publish(t).ok());

  auto zn = client_->Get(ZenithNodes(), "", node);
  ASSERT_TRUE(zn.ok()) << zn.status();
  auto n = client_->Get(kube::resources::Nodes(), "", node);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ((*zn)["metadata"]["ownerReferences"][0]["uid"], (*n)["metadata"]["uid"]);
  EXPECT_EQ((*zn)["status"]["gpuCount"], 8);
  EXPECT_EQ((*zn)["status"]["healthyGpus"], 8);
  EXPECT_EQ((*zn)["status"]["product"], "Tesla V100-SXM2-16GB");
  auto back = TopologyFromJson((*zn)["status"]["topology"]);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, t);

  const Json& labels = (*n)["metadata"]["labels"];
  EXPECT_EQ(labels["zenith.ai/gpu.count"], "8");
  EXPECT_EQ(labels["zenith.ai/gpu.product"], "Tesla-V100-SXM2-16GB");
  EXPECT_EQ(labels["zenith.ai/gpu.nvlink"], "true");
  EXPECT_EQ(labels["zenith.ai/gpu.nvswitch"], "false");
  EXPECT_EQ(labels["zenith.ai/gpu.memory"], "16160");

  // The same topology again writes nothing new.
  const std::string rv = kube::ResourceVersionOf(*zn);
  ASSERT_TRUE(publisher.Publish(t).ok());
  auto again = client_->Get(ZenithNodes(), "", node);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(kube::ResourceVersionOf(*again), rv);

  // A health change does.
  t.gpus[5].healthy = false;
  ASSERT_TRUE(publisher.Publish(t).ok());
  auto flipped = client_->Get(ZenithNodes(), "", node);
  ASSERT_TRUE(flipped.ok());
  EXPECT_EQ((*flipped)["status"]["healthyGpus"], 7);
  EXPECT_EQ((*flipped)["status"]["topology"]["gpus"][5]["healthy"], false);
  EXPECT_EQ(publisher.publishes(), 3u);
}

TEST_F(NodePublisherTest, KeepsOtherLabelsAndDropsItsOwnStaleOnes) {
  const std::string node = MakeNode("relabel");
  auto patched = client_->Patch(kube::resources::Nodes(), "", node, kube::PatchType::kMerge,
                                {{"metadata", {{"labels", {{"rack", "r1"}}}}}});
  ASSERT_TRUE(patched.ok()) << patched.status();
  NodePublisher publisher(*client_, {node, "zenith.ai/gpu", "zenith-device-plugin"});
  ASSERT_TRUE(publisher.Publish(fixtures::LoadTopology("single-h100.yaml")).ok());
  // The GPU goes away (driver unloaded): no product or memory label any more.
  ASSERT_TRUE(publisher.Publish(NodeTopology{}).ok());
  auto n = client_->Get(kube::resources::Nodes(), "", node);
  ASSERT_TRUE(n.ok());
  const Json& labels = (*n)["metadata"]["labels"];
  EXPECT_EQ(labels["rack"], "r1");
  EXPECT_EQ(labels["zenith.ai/gpu.count"], "0");
  EXPECT_FALSE(labels.contains("zenith.ai/gpu.product"));
  EXPECT_FALSE(labels.contains("zenith.ai/gpu.memory"));
}

TEST_F(NodePublisherTest, MissingNodeIsNamed) {
  NodePublisher publisher(*client_, {ns_ + "-absent", "zenith.ai/gpu", "zenith-device-plugin"});
  Status s = publisher.Publish(fixtures::LoadTopology("single-h100.yaml"));
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s;
  EXPECT_NE(s.message().find(ns_ + "-absent"), std::string::npos) << s;
}

// The loop the program runs: a health change recorded by the resource manager reaches the
// ZenithNode within moments, and a deleted ZenithNode comes back at the next resync.
TEST_F(NodePublisherTest, LoopFollowsHealthAndRepairs) {
  const std::string node = MakeNode("loop");
  NodeTopology t = fixtures::LoadTopology("dgx-h100.yaml");
  auto gpus = GpuResourceManager::Create(t, Options{});
  ASSERT_TRUE(gpus.ok()) << gpus.status();
  NodePublisher publisher(*client_, {node, "zenith.ai/gpu", "zenith-device-plugin"});
  PublishLoopOptions options;
  options.resync = std::chrono::seconds(2);
  PublishLoop loop(publisher, t, **gpus, common::SystemClock::Get(), options);
  loop.Start();
  auto healthy = [&]() -> int {
    auto zn = client_->Get(ZenithNodes(), "", node);
    return zn.ok() ? (*zn)["status"].value("healthyGpus", -1) : -1;
  };
  ASSERT_TRUE(WaitFor([&] { return healthy() == 8; }, 10s));

  ASSERT_TRUE((*gpus)->SetHealthy(t.gpus[3].uuid, false, "XID 79").ok());
  const auto flipped = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return healthy() == 7; }, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - flipped, 2s) << "health reached the API late";

  ASSERT_TRUE(client_->Delete(ZenithNodes(), "", node).ok());
  EXPECT_TRUE(WaitFor([&] { return healthy() == 7; }, 10s)) << "not repaired by the resync";
  loop.Stop();
  EXPECT_EQ(loop.failures(), 0u);
}

}  // namespace
}  // namespace zenith::deviceplugin
