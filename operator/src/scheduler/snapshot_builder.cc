#include "zenith/operator/scheduler/snapshot_builder.h"

#include <map>

#include "zenith/operator/scheduler/kube_convert.h"

namespace zenith::operator_::scheduler {

using nlohmann::json;

namespace {

std::string Namespace(const json& obj) {
  const json& meta = obj.contains("metadata") ? obj["metadata"] : json();
  return meta.is_object() && meta.contains("namespace") && meta["namespace"].is_string()
             ? meta["namespace"].get<std::string>()
             : "";
}

std::string JobOf(const json& pod) {
  if (!pod.contains("metadata") || !pod["metadata"].is_object()) return "";
  const json& meta = pod["metadata"];
  if (!meta.contains("labels") || !meta["labels"].is_object()) return "";
  auto it = meta["labels"].find(kJobLabel);
  if (it == meta["labels"].end() || !it->is_string()) return "";
  const std::string ns = Namespace(pod);
  return ns.empty() ? it->get<std::string>() : ns + "/" + it->get<std::string>();
}

}  // namespace

std::vector<ObjectPtr> ShareObjects(std::vector<json> objects) {
  std::vector<ObjectPtr> out;
  out.reserve(objects.size());
  for (json& o : objects) out.push_back(std::make_shared<const json>(std::move(o)));
  return out;
}

const Result<deviceplugin::NodeTopology>& TopologyCache::Get(const ObjectPtr& zenith_node) {
  auto it = entries_.find(zenith_node.get());
  if (it == entries_.end()) {
    ++parses_;
    it = entries_
             .emplace(zenith_node.get(),
                      Entry{zenith_node, TopologyFromZenithNode(*zenith_node), false})
             .first;
  }
  it->second.used = true;
  return it->second.topology;
}

void TopologyCache::Sweep() {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!it->second.used) {
      it = entries_.erase(it);
    } else {
      it->second.used = false;
      ++it;
    }
  }
}

BuiltSnapshot BuildSnapshot(const SnapshotObjects& objects, common::WallTime now,
                            TopologyCache* topologies) {
  TopologyCache once;  // without a cache of the caller's, every topology is parsed afresh
  if (topologies == nullptr) topologies = &once;
  BuiltSnapshot out;
  Snapshot& s = out.snapshot;
  s.now = now;
  std::map<std::string, size_t> node_at;
  for (const ObjectPtr& ptr : objects.nodes) {
    const json& obj = *ptr;
    auto n = NodeFromJson(obj);
    if (!n.ok()) {
      out.problems.push_back(n.status().message());
      continue;
    }
    node_at[n->name] = s.nodes.size();
    s.nodes.push_back(std::move(*n));
  }
  for (const ObjectPtr& ptr : objects.zenith_nodes) {
    const json& zn = *ptr;
    const std::string name = zn.contains("metadata") && zn["metadata"].is_object()
                                 ? zn["metadata"].value("name", "")
                                 : "";
    auto it = node_at.find(name);
    if (it == node_at.end()) continue;  // a ZenithNode outliving its Node
    const Result<deviceplugin::NodeTopology>& t = topologies->Get(ptr);
    if (!t.ok()) {
      // The node still counts its allocatable GPUs, without NVLink knowledge.
      out.problems.push_back(t.status().message());
      continue;
    }
    s.nodes[it->second].topology = *t;
  }
  topologies->Sweep();

  std::map<std::string, RunningJob> running;  // by job key, ordered for determinism
  for (const ObjectPtr& ptr : objects.running_jobs) {
    const json& obj = *ptr;
    auto j = JobRequestFromZenithJob(obj);
    if (!j.ok()) {
      out.problems.push_back(j.status().message());
      continue;
    }
    RunningJob& r = running[j->key];
    r.key = j->key;
    r.queue = j->queue;
    r.priority = j->priority;
    r.preemptible = j->preemptible;
  }
  std::map<std::string, RunningJob> seen;
  for (const ObjectPtr& ptr : objects.pods) {
    const json& obj = *ptr;
    auto pod = PodUsageFromJson(obj);
    if (!pod.ok()) {
      out.problems.push_back(pod.status().message());
      continue;
    }
    if (pod->node.empty() || !pod->holds_resources) continue;
    auto it = node_at.find(pod->node);
    if (it == node_at.end()) continue;  // bound to a node that is gone
    AccountPod(s.nodes[it->second], *pod);
    const std::string job = JobOf(obj);
    if (job.empty()) continue;
    RunningJob& r = seen[job];
    if (r.pods.empty()) {
      auto known = running.find(job);
      if (known != running.end()) r = known->second;
      r.key = job;
      r.per_pod = pod->requests;
    }
    r.pods.push_back({pod->node, pod->gpus});
  }
  for (const auto& [key, r] : seen) s.running.push_back(r);

  for (const ObjectPtr& ptr : objects.queues) {
    const json& obj = *ptr;
    auto q = QueueFromJson(obj);
    if (!q.ok()) {
      out.problems.push_back(q.status().message());
      continue;
    }
    s.queues.push_back(std::move(*q));
  }
  for (const ObjectPtr& ptr : objects.pending_jobs) {
    auto j = JobRequestFromZenithJob(*ptr);
    if (!j.ok()) {
      out.problems.push_back(j.status().message());
      continue;
    }
    if (auto partial = objects.partial_pods.find(j->key); partial != objects.partial_pods.end()) {
      // The rest of a gang that runs: only its unbound pods, beside the bound ones.
      j->pods = partial->second;
      j->max_wait = std::chrono::seconds(0);  // a replacement never holds the cluster back
      if (auto r = seen.find(j->key); r != seen.end()) {
        for (const PodPlacement& p : r->second.pods) j->bound_nodes.push_back(p.node);
      }
    }
    s.pending.push_back(std::move(*j));
  }
  return out;
}

}  // namespace zenith::operator_::scheduler
