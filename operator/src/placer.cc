#include "zenith/operator/placer.h"

#include <algorithm>

#include "zenith/common/log.h"
#include "zenith/operator/reconcile.h"
#include "zenith/operator/scheduler/kube_convert.h"
#include "zenith/operator/scheduler/node_filter.h"

namespace zenith::operator_ {

namespace log = common::log;

GangMember MemberOf(const Json& pod) {
  GangMember m;
  m.pod = Child(pod, "metadata").value("name", "");
  m.gpus = UsageOf(pod).gpus;
  const Json& spec = Child(pod, "spec");
  for (const auto& [k, v] : Child(spec, "nodeSelector").items())
    if (v.is_string()) m.node_selector[k] = v.get<std::string>();
  if (spec.contains("tolerations")) {
    auto t =
        scheduler::TolerationsFromJson(spec["tolerations"], "pod " + m.pod + ": spec.tolerations");
    if (t.ok()) {
      m.tolerations = std::move(*t);
    } else {
      log::Warn("pod tolerations not read; it tolerates no taint", {{"error", t.status()}});
    }
  }
  return m;
}

PodUsage UsageOf(const Json& pod) {
  PodUsage u;
  const Json& md = Child(pod, "metadata");
  u.key = md.value("namespace", "") + "/" + md.value("name", "");
  u.uid = md.value("uid", "");
  auto usage = scheduler::PodUsageFromJson(pod);
  if (!usage.ok()) {
    log::Warn("pod not read; it counts no GPUs", {{"pod", u.key}, {"error", usage.status()}});
    u.node = PodNode(pod);
    return u;
  }
  u.node = usage->node;
  u.gpus = usage->requests.gpus;
  u.active = usage->holds_resources;
  return u;
}

namespace {

template <typename NodeRef>
std::vector<NodeCapacity> NodeCapacities(const std::vector<NodeRef>& nodes,
                                         const std::vector<PodUsage>& pods,
                                         const Json& (*deref)(const NodeRef&)) {
  std::map<std::string, int64_t> used;
  for (const auto& p : pods)
    if (!p.node.empty() && p.active) used[p.node] += p.gpus;
  std::vector<NodeCapacity> out;
  out.reserve(nodes.size());
  for (const auto& ref : nodes) {
    const Json& n = deref(ref);
    NodeCapacity c;
    auto node = scheduler::NodeFromJson(n);
    if (!node.ok()) {
      c.name = Child(n, "metadata").value("name", "");
      c.schedulable = false;
      log::Warn("node not read; nothing is placed on it", {{"error", node.status()}});
      out.push_back(std::move(c));
      continue;
    }
    c.name = node->name;
    c.labels = std::move(node->labels);
    c.taints = std::move(node->taints);
    c.allocatable_gpus = node->allocatable.gpus;
    c.used_gpus = used.count(c.name) ? used[c.name] : 0;
    c.schedulable = !node->unschedulable;
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(),
            [](const NodeCapacity& a, const NodeCapacity& b) { return a.name < b.name; });
  return out;
}

const Json& Itself(const Json& j) { return j; }
const Json& Pointee(const std::shared_ptr<const Json>& j) { return *j; }

}  // namespace

std::vector<NodeCapacity> BuildNodeCapacity(const std::vector<Json>& nodes,
                                            const std::vector<PodUsage>& pods) {
  return NodeCapacities(nodes, pods, &Itself);
}

std::vector<NodeCapacity> BuildNodeCapacity(const std::vector<std::shared_ptr<const Json>>& nodes,
                                            const std::vector<PodUsage>& pods) {
  return NodeCapacities(nodes, pods, &Pointee);
}

Result<Assignment> FirstFitPlacer::Place(const GangRequest& gang,
                                         const std::vector<NodeCapacity>& nodes) {
  std::vector<int64_t> free;
  for (const auto& n : nodes) free.push_back(n.Free());
  auto excluded = [&](const std::string& name) {
    const auto& ex = gang.topology.excluded_nodes;
    return std::find(ex.begin(), ex.end(), name) != ex.end();
  };
  Assignment out;
  int64_t needed = 0, largest = 0, usable = 0;
  for (const auto& m : gang.members) needed += m.gpus;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i].schedulable || excluded(nodes[i].name)) continue;
    ++usable;
    largest = std::max(largest, free[i]);
  }
  for (const auto& m : gang.members) {
    bool placed = false;
    for (size_t i = 0; i < nodes.size() && !placed; ++i) {
      const NodeCapacity& n = nodes[i];
      if (!n.schedulable || excluded(n.name) || free[i] < m.gpus) continue;
      if (!scheduler::ToleratesNodeTaints(m.tolerations, n.taints)) continue;
      bool match = true;
      for (const auto& [k, v] : m.node_selector) {
        auto it = n.labels.find(k);
        match = match && it != n.labels.end() && it->second == v;
      }
      if (!match) continue;
      free[i] -= m.gpus;
      out[m.pod] = n.name;
      placed = true;
    }
    if (!placed) {
      return ResourceExhaustedError(
          "gang " + gang.job + " does not fit: pod " + m.pod + " needs " + std::to_string(m.gpus) +
          " zenith.ai/gpu (" + std::to_string(gang.members.size()) + " pods, " +
          std::to_string(needed) + " GPUs in all); " + std::to_string(usable) +
          " schedulable nodes, the freest has " + std::to_string(largest));
    }
  }
  return out;
}

}  // namespace zenith::operator_
