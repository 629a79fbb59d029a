// The gang scheduler against the real local API server: nodes, ZenithNodes, jobs and pods are
// real objects; GangScheduler runs in-process, scoped to the test's namespace and node group.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "gang_cluster.h"
#include "kube/integration_env.h"
#include "zenith/common/metrics.h"
#include "zenith/operator/gang/gang_scheduler.h"

namespace zenith::operator_::gang {
namespace {

using namespace std::chrono_literals;
using kube::testing::KubeconfigPath;
using kube::testing::WaitFor;
using namespace testing;

class GangSchedulerTest : public kube::testing::KubeTest {
 protected:
  static void SetUpTestSuite() {
    if (!kube::testing::ClusterDir().empty()) ASSERT_TRUE(ApplyCrds(KubeconfigPath()));
  }

  void SetUp() override {
    KubeTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    group_ = ns_;
    Status sa = EnsureServiceAccount(*client_, ns_);
    ASSERT_TRUE(sa.ok()) << sa;
  }

  void TearDown() override {
    if (scheduler_) scheduler_->Stop();
    if (client_) {
      DeleteNodes(*client_, nodes_);
      for (const auto& q : queues_) (void)client_->Delete(Queues(), "", q);
      for (const auto& path : cluster_objects_) (void)client_->Raw("DELETE", path);
      (void)client_->Delete(kube::resources::Namespaces(), "", ns_);
    }
  }

  std::string AddNode(int gpus, const std::string& topology = "",
                      std::map<std::string, std::string> labels = {}) {
    std::string name = group_ + "-n" + std::to_string(nodes_.size());
    EXPECT_TRUE(CreateNode(*client_, name, group_, gpus, std::move(labels)).ok());
    if (!topology.empty()) {
      Status s = PublishTopology(*client_, name, LoadTopology(topology));
      EXPECT_TRUE(s.ok()) << s;
    }
    nodes_.push_back(name);
    return name;
  }

  void StartScheduler() {
    GangSchedulerOptions o;
    o.namespace_ = ns_;
    o.node_selector = std::string(kTestNodeLabel) + "=" + group_;
    o.min_interval = 20ms;
    o.tick = 500ms;
    o.delete_grace_seconds = 0;  // no kubelet here to finish a graceful deletion
    scheduler_ = std::make_unique<GangScheduler>(*client_, o, metrics_, common::SystemClock::Get());
    Status s = scheduler_->Start(30s);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_TRUE(scheduler_->Ready());
  }

  Json GetJob(const std::string& name) {
    auto r = client_->Get(Jobs(), ns_, name);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Json::object();
  }

  std::vector<Json> Events(const std::string& job) {
    kube::ListOptions o;
    o.field_selector = "involvedObject.name=" + job;
    auto r = client_->List(kube::resources::Events(), ns_, o);
    std::vector<Json> out;
    if (r.ok())
      for (const Json& e : (*r)["items"]) out.push_back(e);
    return out;
  }

  bool HasEvent(const std::string& job, const std::string& reason) {
    for (const Json& e : Events(job))
      if (e.value("reason", "") == reason) return true;
    return false;
  }

  std::string group_;
  std::vector<std::string> nodes_;
  std::vector<std::string> queues_;
  std::vector<std::string> cluster_objects_;  // REST paths to delete after the test
  common::MetricsRegistry metrics_;
  std::unique_ptr<GangScheduler> scheduler_;
};

TEST_F(GangSchedulerTest, BindsWholeGangWithGpuIndices) {
  AddNode(8);
  AddNode(8);
  StartScheduler();
  ASSERT_TRUE(CreateJob(*client_, ns_, "whole", {.replicas = 2, .gpus = 8}).ok());
  ASSERT_TRUE(WaitFor([&] { return BoundCount(JobPods(*client_, ns_, "whole")) == 2; }, 20s));
  std::set<std::string> on;
  for (const Json& p : JobPods(*client_, ns_, "whole")) {
    on.insert(Path(p, "/spec/nodeName"));
    EXPECT_EQ(Path(p, "/metadata/annotations/zenith.ai~1gpu-indices"), "0,1,2,3,4,5,6,7");
  }
  EXPECT_EQ(on.size(), 2u);  // 8 GPUs each: one pod per node
  ASSERT_TRUE(WaitFor([&] { return HasEvent("whole", "Scheduled"); }, 10s));
  ASSERT_TRUE(WaitFor(
      [&] { return Path(GetJob("whole"), "/status/scheduling/reason") == "Scheduled"; }, 10s));
  EXPECT_NE(metrics_.Serialize().find("zenith_scheduler_pods_bound_total 2"), std::string::npos);
}

TEST_F(GangSchedulerTest, GangThatCannotFitStaysUnboundAndSaysWhy) {
  AddNode(8);
  AddNode(8);
  StartScheduler();
  // Three pods of 8 GPUs on two 8-GPU nodes: two would fit, so only all-or-nothing keeps them off.
  ASSERT_TRUE(CreateJob(*client_, ns_, "toobig", {.replicas = 3, .gpus = 8}).ok());
  ASSERT_TRUE(WaitFor(
      [&] { return Path(GetJob("toobig"), "/status/scheduling/reason") == "InsufficientGpus"; },
      20s));
  const Json job = GetJob("toobig");
  const std::string message = Path(job, "/status/scheduling/message");
  EXPECT_NE(message.find("3"), std::string::npos) << message;
  EXPECT_NE(message.find("8"), std::string::npos) << message;
  EXPECT_FALSE(Path(job, "/status/scheduling/lastTransitionTime").empty());
  ASSERT_TRUE(WaitFor([&] { return HasEvent("toobig", "InsufficientGpus"); }, 10s));
  for (const Json& e : Events("toobig")) {
    EXPECT_EQ(Path(e, "/source/component"), "zenith-scheduler");
    EXPECT_EQ(Path(e, "/involvedObject/kind"), "ZenithJob");
    EXPECT_EQ(e.value("type", ""), "Warning");
  }
  // A few more cycles: still nothing bound, and the reason did not produce a second Event.
  const uint64_t before = scheduler_->cycles();
  ASSERT_TRUE(WaitFor([&] { return scheduler_->cycles() >= before + 3; }, 10s));
  EXPECT_EQ(BoundCount(JobPods(*client_, ns_, "toobig")), 0);
  EXPECT_EQ(Events("toobig").size(), 1u);
}

TEST_F(GangSchedulerTest, NvlinkRequiredLandsOnConnectedQuad) {
  const std::string plain = AddNode(8);  // no topology published: no NVLink known
  const std::string dgx = AddNode(8, "dgx1-v100.yaml");
  // GPU 0 of the DGX-1 is taken, so the only fully connected free quad is 4-7.
  Json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", "other"}, {"annotations", {{"zenith.ai/gpu-indices", "0"}}}}},
      {"spec",
       {{"nodeName", dgx},
        {"containers", Json::array({{{"name", "c"},
                                     {"image", "busybox"},
                                     {"resources", {{"limits", {{"zenith.ai/gpu", "1"}}}}}}})}}}};
  ASSERT_TRUE(client_->Create(kube::resources::Pods(), ns_, pod).ok());
  StartScheduler();
  ASSERT_TRUE(
      CreateJob(*client_, ns_, "nvl", {.replicas = 1, .gpus = 4, .nvlink = "Required"}).ok());
  ASSERT_TRUE(WaitFor([&] { return BoundCount(JobPods(*client_, ns_, "nvl")) == 1; }, 20s));
  Json p = JobPods(*client_, ns_, "nvl").at(0);
  EXPECT_EQ(Path(p, "/spec/nodeName"), dgx);
  EXPECT_EQ(Path(p, "/metadata/annotations/zenith.ai~1gpu-indices"), "4,5,6,7");
  // A second NVLink quad does not exist any more: the next such job waits with the reason.
  ASSERT_TRUE(
      CreateJob(*client_, ns_, "nvl2", {.replicas = 1, .gpus = 4, .nvlink = "Required"}).ok());
  ASSERT_TRUE(
      WaitFor([&] { return !Path(GetJob("nvl2"), "/status/scheduling/reason").empty(); }, 20s));
  EXPECT_EQ(Path(GetJob("nvl2"), "/status/scheduling/reason"), "NoConnectedGpuSet");
  EXPECT_EQ(BoundCount(JobPods(*client_, ns_, "nvl2")), 0);
  (void)plain;
}

TEST_F(GangSchedulerTest, QueueQuotaHolds) {
  AddNode(8);
  AddNode(8);
  const std::string q = group_ + "-q";
  Json queue = {{"apiVersion", "zenith.ai/v1alpha1"},
                {"kind", "ZenithQueue"},
                {"metadata", {{"name", q}}},
                {"spec", {{"weight", 1}, {"gpuQuota", 8}}}};
  ASSERT_TRUE(client_->Create(Queues(), "", queue).ok());
  queues_.push_back(q);
  StartScheduler();
  ASSERT_TRUE(CreateJob(*client_, ns_, "qa", {.replicas = 1, .gpus = 8, .queue = q}).ok());
  ASSERT_TRUE(WaitFor([&] { return BoundCount(JobPods(*client_, ns_, "qa")) == 1; }, 20s));
  ASSERT_TRUE(CreateJob(*client_, ns_, "qb", {.replicas = 1, .gpus = 8, .queue = q}).ok());
  ASSERT_TRUE(WaitFor(
      [&] { return Path(GetJob("qb"), "/status/scheduling/reason") == "QuotaExceeded"; }, 20s));
  EXPECT_EQ(BoundCount(JobPods(*client_, ns_, "qb")), 0);  // 8 GPUs were free on the other node
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = client_->Get(Queues(), "", q);
        if (!r.ok()) return false;
        const Json st = r->value("status", Json::object());
        return st.value("gpusAllocated", -1) == 8 && st.value("runningJobs", -1) == 1 &&
               st.value("pendingJobs", -1) == 1;
      },
      10s));
}

TEST_F(GangSchedulerTest, HighPriorityJobPreemptsPreemptibleGang) {
  AddNode(8);
  StartScheduler();
  ASSERT_TRUE(CreateJob(*client_, ns_, "low",
                        {.replicas = 2, .gpus = 4, .priority = 0, .preemptible = true})
                  .ok());
  ASSERT_TRUE(WaitFor([&] { return BoundCount(JobPods(*client_, ns_, "low")) == 2; }, 20s));
  ASSERT_TRUE(CreateJob(*client_, ns_, "high", {.replicas = 1, .gpus = 8, .priority = 10}).ok());
  // The whole low gang goes (its controller would recreate it; here nothing does), then high binds.
  ASSERT_TRUE(WaitFor([&] { return JobPods(*client_, ns_, "low").empty(); }, 20s));
  ASSERT_TRUE(WaitFor([&] { return HasEvent("low", "Preempted"); }, 10s));
  // The victim's status says so (the controller turns it into the Preempted condition).
  const Json low = GetJob("low");
  EXPECT_EQ(Path(low, "/status/scheduling/reason"), "Preempted");
  EXPECT_NE(Path(low, "/status/scheduling/message").find(ns_ + "/high"), std::string::npos)
      << low.dump();
  ASSERT_TRUE(WaitFor([&] { return BoundCount(JobPods(*client_, ns_, "high")) == 1; }, 20s));
}

// Workers beyond minAvailable, and a replacement for a lost one, join the running gang in its
// sameNodeLabel domain, though the node in the other domain is the tighter fit.
TEST_F(GangSchedulerTest, RestOfARunningGangJoinsItsDomain) {
  const std::string a = AddNode(16, "", {{"rack", group_ + "-r1"}});
  const std::string b = AddNode(4, "", {{"rack", group_ + "-r2"}});
  StartScheduler();
  ASSERT_TRUE(CreateJob(*client_, ns_, "grow",
                        {.replicas = 3, .gpus = 4, .same_node_label = "rack", .min_available = 2})
                  .ok());
  ASSERT_TRUE(WaitFor([&] { return BoundCount(JobPods(*client_, ns_, "grow")) == 3; }, 20s));
  auto nodes_of = [&] {
    std::map<std::string, std::string> on;
    for (const Json& p : JobPods(*client_, ns_, "grow"))
      on[Path(p, "/metadata/name")] = Path(p, "/spec/nodeName");
    return on;
  };
  for (const auto& [pod, node] : nodes_of()) EXPECT_EQ(node, a) << pod;

  // Rank 1 is lost; the controller's replacement goes back beside ranks 0 and 2.
  kube::DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(client_->Delete(kube::resources::Pods(), ns_, "grow-1", now).ok());
  ASSERT_TRUE(WaitFor([&] { return JobPods(*client_, ns_, "grow").size() == 2; }, 10s));
  const std::string uid = Path(GetJob("grow"), "/metadata/uid");
  ASSERT_TRUE(CreateWorkerPod(*client_, ns_, "grow", uid, 1, 4).ok());
  ASSERT_TRUE(WaitFor([&] { return BoundCount(JobPods(*client_, ns_, "grow")) == 3; }, 20s));
  EXPECT_EQ(nodes_of()["grow-1"], a);
  EXPECT_NE(nodes_of()["grow-1"], b);
  std::set<std::string> gpus;
  for (const Json& p : JobPods(*client_, ns_, "grow"))
    gpus.insert(Path(p, "/metadata/annotations/zenith.ai~1gpu-indices"));
  EXPECT_EQ(gpus.size(), 3u);  // no two workers share a GPU
}

TEST_F(GangSchedulerTest, NonPreemptibleGangIsNotEvicted) {
  AddNode(8);
  StartScheduler();
  ASSERT_TRUE(CreateJob(*client_, ns_, "keep", {.replicas = 1, .gpus = 8}).ok());
  ASSERT_TRUE(WaitFor([&] { return BoundCount(JobPods(*client_, ns_, "keep")) == 1; }, 20s));
  ASSERT_TRUE(CreateJob(*client_, ns_, "urgent", {.replicas = 1, .gpus = 8, .priority = 10}).ok());
  ASSERT_TRUE(
      WaitFor([&] { return !Path(GetJob("urgent"), "/status/scheduling/reason").empty(); }, 20s));
  EXPECT_EQ(BoundCount(JobPods(*client_, ns_, "keep")), 1);
  EXPECT_EQ(BoundCount(JobPods(*client_, ns_, "urgent")), 0);
}

// A bind refused part-way (an admission policy denies rank 1's binding): rank 0, already bound,
// is deleted again, so no part of the gang keeps GPUs.
TEST_F(GangSchedulerTest, FailedBindRollsBackTheGang) {
  AddNode(8);
  AddNode(8);
  const std::string name = group_.substr(0, 40) + "-deny";
  const std::string api = "/apis/admissionregistration.k8s.io/v1/";
  Json policy = {
      {"apiVersion", "admissionregistration.k8s.io/v1"},
      {"kind", "ValidatingAdmissionPolicy"},
      {"metadata", {{"name", name}}},
      {"spec",
       {{"failurePolicy", "Fail"},
        {"matchConstraints",
         {{"namespaceSelector", {{"matchLabels", {{"kubernetes.io/metadata.name", ns_}}}}},
          {"resourceRules", Json::array({{{"apiGroups", {""}},
                                          {"apiVersions", {"v1"}},
                                          {"operations", {"CREATE"}},
                                          {"resources", {"pods/binding"}}}})}}},
        {"validations", Json::array({{{"expression", "!object.metadata.name.endsWith('-1')"},
                                      {"message", "test: rank 1 may not bind"}}})}}}};
  Json binding = {{"apiVersion", "admissionregistration.k8s.io/v1"},
                  {"kind", "ValidatingAdmissionPolicyBinding"},
                  {"metadata", {{"name", name}}},
                  {"spec", {{"policyName", name}, {"validationActions", {"Deny"}}}}};
  auto p =
      client_->Raw("POST", api + "validatingadmissionpolicies", policy.dump(), "application/json");
  ASSERT_TRUE(p.ok()) << p.status();
  cluster_objects_.push_back(api + "validatingadmissionpolicies/" + name);
  auto b = client_->Raw("POST", api + "validatingadmissionpolicybindings", binding.dump(),
                        "application/json");
  ASSERT_TRUE(b.ok()) << b.status();
  cluster_objects_.push_back(api + "validatingadmissionpolicybindings/" + name);
  // The policy takes effect once the API server has loaded it: probe with fresh pods whose
  // names end like rank 1's until one is refused by the policy itself.
  int attempt = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string probe = "probe" + std::to_string(attempt++) + "-1";
        Json pod = {
            {"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", probe}}},
            {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "busybox"}}})}}}};
        if (!client_->Create(kube::resources::Pods(), ns_, pod).ok()) return false;
        Status s = client_->Bind(ns_, probe, nodes_[0]);
        kube::DeleteOptions now;
        now.grace_period_seconds = 0;
        (void)client_->Delete(kube::resources::Pods(), ns_, probe, now);
        return s.ToString().find("rank 1 may not bind") != std::string::npos;
      },
      20s));

  StartScheduler();
  ASSERT_TRUE(CreateJob(*client_, ns_, "split", {.replicas = 2, .gpus = 8}).ok());
  // Rank 0 was bound and then deleted: only the unbound rank 1 is left.
  ASSERT_TRUE(WaitFor([&] { return JobPods(*client_, ns_, "split").size() == 1; }, 20s));
  const std::vector<Json> left = JobPods(*client_, ns_, "split");
  EXPECT_EQ(Path(left.at(0), "/metadata/name"), "split-1");
  EXPECT_EQ(BoundCount(left), 0);
  EXPECT_NE(metrics_.Serialize().find("zenith_scheduler_gang_bind_failures_total 1"),
            std::string::npos);
}

}  // namespace
}  // namespace zenith::operator_::gang
