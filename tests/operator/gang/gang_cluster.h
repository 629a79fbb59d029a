// Builds the objects a gang-scheduler test needs on a real API server: GPU Nodes (Ready, with
// zenith.ai/gpu allocatable, set through the status subresource since no kubelet runs), their
// ZenithNodes published by the device plugin's own NodePublisher from the examples/topologies
// fixtures, ZenithQueues, and ZenithJobs with worker pods shaped as the controller creates them
// (labels zenith.ai/job and zenith.ai/rank, owner reference, schedulerName zenith, GPU limits).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "zenith/deviceplugin/fixture_discovery.h"
#include "zenith/deviceplugin/node_publisher.h"
#include "zenith/kube/api_error.h"
#include "zenith/kube/client.h"

namespace zenith::operator_::gang::testing {

using kube::Json;

inline kube::GroupVersionResource Jobs() {
  return kube::resources::Custom("zenith.ai", "v1alpha1", "zenithjobs", true, "ZenithJob");
}
inline kube::GroupVersionResource Queues() {
  return kube::resources::Custom("zenith.ai", "v1alpha1", "zenithqueues", false, "ZenithQueue");
}

inline const char* kTestNodeLabel = "zenith.ai/gang-test";

// Applies the three CRDs the scheduler reads and waits until they serve.
inline bool ApplyCrds(const std::string& kubeconfig) {
  const std::string root = ZENITH_SOURCE_DIR;
  std::string cmd = "kubectl --kubeconfig=" + kubeconfig + " apply";
  for (const char* f : {"zenith.ai_zenithjobs", "zenith.ai_zenithqueues", "zenith.ai_zenithnodes"})
    cmd += " -f " + root + "/crds/" + f + ".yaml";
  cmd += " >/dev/null && kubectl --kubeconfig=" + kubeconfig +
         " wait --for condition=established --timeout=60s"
         " crd/zenithjobs.zenith.ai crd/zenithqueues.zenith.ai crd/zenithnodes.zenith.ai"
         " >/dev/null";
  return std::system(cmd.c_str()) == 0;
}

inline deviceplugin::NodeTopology LoadTopology(const std::string& file) {
  deviceplugin::FixtureDiscovery d(std::string(ZENITH_TOPOLOGY_DIR) + "/" + file);
  auto t = d.Discover();
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : deviceplugin::NodeTopology();
}

// A Ready node with `gpus` zenith.ai/gpu, labelled kTestNodeLabel=<group>.
inline Status CreateNode(kube::Client& c, const std::string& name, const std::string& group,
                         int gpus, std::map<std::string, std::string> labels = {}) {
  labels[kTestNodeLabel] = group;
  Json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata", {{"name", name}, {"labels", labels}}},
               {"spec", Json::object()}};
  auto r = c.Create(kube::resources::Nodes(), "", node);
  if (!r.ok() && !kube::IsAlreadyExists(r.status())) return r.status();
  Json res = {
      {"cpu", "128"}, {"memory", "1Ti"}, {"pods", "110"}, {"zenith.ai/gpu", std::to_string(gpus)}};
  Json status = {{"status",
                  {{"capacity", res},
                   {"allocatable", res},
                   {"conditions", Json::array({{{"type", "Ready"},
                                                {"status", "True"},
                                                {"reason", "KubeletReady"},
                                                {"message", "test node"}}})}}}};
  return c.PatchStatus(kube::resources::Nodes(), "", name, kube::PatchType::kStrategicMerge, status)
      .status();
}

// The device plugin's ZenithNode and node labels for `topology`, as it publishes them.
inline Status PublishTopology(kube::Client& c, const std::string& node,
                              const deviceplugin::NodeTopology& topology) {
  deviceplugin::NodePublisher p(c, {node});
  return p.Publish(topology);
}

struct JobShape {
  int replicas = 1;
  int gpus = 1;
  std::string nvlink = "Preferred";
  std::string queue;
  int priority = 0;
  bool preemptible = false;
  std::string placement;  // Pack / Spread; empty: default
  std::string same_node_label;
  int min_available = 0;  // 0: all replicas
};

// Pods need the namespace's "default" ServiceAccount, which only kube-controller-manager (not run
// by the test cluster) would create.
inline Status EnsureServiceAccount(kube::Client& c, const std::string& ns) {
  auto r = c.Create(kube::resources::ServiceAccounts(), ns,
                    {{"apiVersion", "v1"},
                     {"kind", "ServiceAccount"},
                     {"metadata", {{"name", "default"}, {"namespace", ns}}}});
  return r.ok() || kube::IsAlreadyExists(r.status()) ? Status::Ok() : r.status();
}

// One unbound worker pod of job `name` (uid `uid`), as the controller creates it.
inline Status CreateWorkerPod(kube::Client& c, const std::string& ns, const std::string& name,
                              const std::string& uid, int rank, int gpus) {
  Json container = {{"name", "trainer"},
                    {"image", "busybox"},
                    {"resources",
                     {{"limits", {{"zenith.ai/gpu", std::to_string(gpus)}}},
                      {"requests", {{"cpu", "1"}, {"memory", "1Gi"}}}}}};
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"name", name + "-" + std::to_string(rank)},
                {"namespace", ns},
                {"labels", {{"zenith.ai/job", name}, {"zenith.ai/rank", std::to_string(rank)}}},
                {"ownerReferences", Json::array({{{"apiVersion", "zenith.ai/v1alpha1"},
                                                  {"kind", "ZenithJob"},
                                                  {"name", name},
                                                  {"uid", uid},
                                                  {"controller", true}}})}}},
              {"spec",
               {{"schedulerName", "zenith"},
                {"restartPolicy", "Never"},
                {"containers", Json::array({container})}}}};
  return c.Create(kube::resources::Pods(), ns, pod).status();
}

// Creates the ZenithJob and its worker pods as the controller would; the pods are unbound.
inline Status CreateJob(kube::Client& c, const std::string& ns, const std::string& name,
                        const JobShape& s) {
  Json container = {{"name", "trainer"}, {"image", "busybox"}};
  Json spec = {{"replicas", s.replicas},
               {"gpusPerReplica", s.gpus},
               {"template", {{"spec", {{"containers", Json::array({container})}}}}},
               {"topology", {{"nvlink", s.nvlink}}},
               {"scheduling", {{"priority", s.priority}, {"preemptible", s.preemptible}}}};
  if (!s.queue.empty()) spec["scheduling"]["queue"] = s.queue;
  if (!s.placement.empty()) spec["topology"]["placement"] = s.placement;
  if (!s.same_node_label.empty()) spec["topology"]["sameNodeLabel"] = s.same_node_label;
  if (s.min_available > 0) spec["minAvailable"] = s.min_available;
  Json job = {{"apiVersion", "zenith.ai/v1alpha1"},
              {"kind", "ZenithJob"},
              {"metadata", {{"name", name}, {"namespace", ns}}},
              {"spec", spec}};
  auto created = c.Create(Jobs(), ns, job);
  if (!created.ok()) return created.status();
  const std::string uid = (*created)["metadata"].value("uid", "");
  for (int rank = 0; rank < s.replicas; ++rank) {
    Status st = CreateWorkerPod(c, ns, name, uid, rank, s.gpus);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

// The job's pods as the API server has them.
inline std::vector<Json> JobPods(kube::Client& c, const std::string& ns, const std::string& job) {
  kube::ListOptions o;
  o.label_selector = "zenith.ai/job=" + job;
  auto r = c.ListAll(kube::resources::Pods(), ns, o);
  EXPECT_TRUE(r.ok()) << r.status();
  std::vector<Json> out;
  if (r.ok())
    for (const Json& p : (*r)["items"]) out.push_back(p);
  return out;
}

// The string at a JSON pointer ("/status/scheduling/reason"); empty when absent.
inline std::string Path(const Json& j, const std::string& pointer) {
  if (!j.is_object()) return "";
  const Json::json_pointer ptr(pointer);
  return j.contains(ptr) && j.at(ptr).is_string() ? j.at(ptr).get<std::string>() : "";
}

inline int BoundCount(const std::vector<Json>& pods) {
  int n = 0;
  for (const Json& p : pods)
    if (!p["spec"].value("nodeName", "").empty()) ++n;
  return n;
}

// Deletes the nodes of one test group (their ZenithNodes go with them in a real cluster with a
// garbage collector; here they are deleted too).
inline void DeleteNodes(kube::Client& c, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    (void)c.Delete(kube::resources::Nodes(), "", n);
    (void)c.Delete(deviceplugin::ZenithNodes(), "", n);
  }
}

}  // namespace zenith::operator_::gang::testing
