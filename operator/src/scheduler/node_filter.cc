#include "zenith/operator/scheduler/node_filter.h"

#include <algorithm>
#include <cstdlib>

#include "zenith/operator/scheduler/quantity.h"

namespace zenith::operator_::scheduler {

std::string_view FilterReasonName(FilterReason reason) {
  switch (reason) {
    case FilterReason::kFits:
      return "fits";
    case FilterReason::kUnschedulable:
      return "unschedulable";
    case FilterReason::kExcluded:
      return "excluded";
    case FilterReason::kNodeSelector:
      return "node selector";
    case FilterReason::kAffinity:
      return "node affinity";
    case FilterReason::kTaint:
      return "untolerated taint";
    case FilterReason::kGpuModel:
      return "GPU model";
    case FilterReason::kGpuMemory:
      return "GPU memory";
    case FilterReason::kRdma:
      return "no RDMA";
    case FilterReason::kTooSmall:
      return "too small for one pod";
  }
  return "unknown";
}

bool ToleratesNodeTaints(const std::vector<Toleration>& tolerations,
                         const std::vector<Taint>& taints) {
  for (const Taint& taint : taints) {
    if (taint.effect == "PreferNoSchedule") continue;  // a preference, never a filter
    if (!ToleratesTaint(tolerations, taint)) return false;
  }
  return true;
}

bool ToleratesTaint(const std::vector<Toleration>& tolerations, const Taint& taint) {
  for (const Toleration& t : tolerations) {
    if (!t.effect.empty() && t.effect != taint.effect) continue;
    if (t.op == "Exists") {
      if (t.key.empty() || t.key == taint.key) return true;
    } else if (t.key == taint.key && t.value == taint.value) {
      return true;
    }
  }
  return false;
}

namespace {

bool ParseInt(const std::string& s, long long& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtoll(s.c_str(), &end, 10);
  return end != nullptr && *end == '\0';
}

bool Matches(const std::map<std::string, std::string>& labels, const NodeSelectorRequirement& r) {
  auto it = labels.find(r.key);
  const bool has = it != labels.end();
  using Op = NodeSelectorRequirement::Op;
  switch (r.op) {
    case Op::kIn:
      return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    case Op::kNotIn:
      return !has || std::find(r.values.begin(), r.values.end(), it->second) == r.values.end();
    case Op::kExists:
      return has;
    case Op::kDoesNotExist:
      return !has;
    case Op::kGt:
    case Op::kLt: {
      long long a = 0, b = 0;
      if (!has || r.values.size() != 1 || !ParseInt(it->second, a) || !ParseInt(r.values[0], b)) {
        return false;
      }
      return r.op == Op::kGt ? a > b : a < b;
    }
  }
  return false;
}

// The product name as a label value: "NVIDIA H100 80GB HBM3" → "NVIDIA-H100-80GB-HBM3".
std::string AsLabelValue(std::string s) {
  std::replace(s.begin(), s.end(), ' ', '-');
  return s;
}

bool GpuModelMatches(const Node& node, const std::string& model) {
  if (auto it = node.labels.find(kGpuProductLabel); it != node.labels.end()) {
    return it->second == model;
  }
  if (!node.topology || node.topology->gpus.empty()) return false;
  for (const auto& g : node.topology->gpus) {
    if (g.name != model && AsLabelValue(g.name) != model) return false;
  }
  return true;
}

bool GpuMemoryEnough(const Node& node, uint64_t min_bytes) {
  if (node.topology && !node.topology->gpus.empty()) {
    for (const auto& g : node.topology->gpus) {
      if (g.memory_bytes < min_bytes) return false;
    }
    return true;
  }
  auto it = node.labels.find(kGpuMemoryLabel);
  if (it == node.labels.end()) return false;
  auto bytes = ParseBytes(it->second);
  return bytes.ok() && static_cast<uint64_t>(*bytes) >= min_bytes;
}

bool HasRdma(const Node& node) {
  if (node.topology) {
    for (const auto& nic : node.topology->nics) {
      if (nic.rdma) return true;
    }
  }
  auto it = node.labels.find(kRdmaLabel);
  return it != node.labels.end() && it->second == "true";
}

}  // namespace

bool MatchesAffinity(const std::map<std::string, std::string>& labels,
                     const std::vector<NodeSelectorTerm>& terms) {
  if (terms.empty()) return true;
  for (const NodeSelectorTerm& term : terms) {
    bool all = true;
    for (const auto& r : term) {
      if (!Matches(labels, r)) {
        all = false;
        break;
      }
    }
    // An empty term matches nothing (as in Kubernetes).
    if (all && !term.empty()) return true;
  }
  return false;
}

FilterReason CheckNode(const Node& node, const JobRequest& job) {
  const TopologyRequest& t = job.topology;
  if (node.unschedulable) return FilterReason::kUnschedulable;
  if (std::find(t.excluded_nodes.begin(), t.excluded_nodes.end(), node.name) !=
      t.excluded_nodes.end()) {
    return FilterReason::kExcluded;
  }
  for (const auto& [key, value] : job.node_selector) {
    auto it = node.labels.find(key);
    if (it == node.labels.end() || it->second != value) return FilterReason::kNodeSelector;
  }
  if (!MatchesAffinity(node.labels, job.required_affinity)) return FilterReason::kAffinity;
  if (!ToleratesNodeTaints(job.tolerations, node.taints)) return FilterReason::kTaint;
  if (job.per_pod.gpus > 0) {
    if (!t.gpu_model.empty() && !GpuModelMatches(node, t.gpu_model)) return FilterReason::kGpuModel;
    if (t.min_gpu_memory_bytes > 0 && !GpuMemoryEnough(node, t.min_gpu_memory_bytes)) {
      return FilterReason::kGpuMemory;
    }
  }
  if (t.rdma && !HasRdma(node)) return FilterReason::kRdma;
  const Resources& a = node.allocatable;
  const Resources& p = job.per_pod;
  if (a.gpus < p.gpus || a.cpu_millis < p.cpu_millis || a.memory_bytes < p.memory_bytes ||
      a.pods < 1) {
    return FilterReason::kTooSmall;
  }
  return FilterReason::kFits;
}

std::string FilterKey(const JobRequest& job) {
  // Only fields CheckNode reads; separators that cannot occur in label keys or names.
  std::string k;
  auto add = [&](const std::string& s) {
    k += s;
    k += '\x1f';
  };
  const TopologyRequest& t = job.topology;
  for (const auto& n : t.excluded_nodes) add(n);
  k += '\x1e';
  for (const auto& [key, value] : job.node_selector) add(key + "=" + value);
  k += '\x1e';
  for (const auto& term : job.required_affinity) {
    for (const auto& r : term) {
      add(r.key);
      k += static_cast<char>('0' + static_cast<int>(r.op));
      for (const auto& v : r.values) add(v);
    }
    k += '\x1d';
  }
  k += '\x1e';
  for (const auto& tol : job.tolerations)
    add(tol.key + "\x1c" + tol.op + "\x1c" + tol.value + "\x1c" + tol.effect);
  k += '\x1e';
  if (job.per_pod.gpus > 0) {
    add(t.gpu_model);
    add(std::to_string(t.min_gpu_memory_bytes));
  }
  add(t.rdma ? "rdma" : "");
  add(std::to_string(job.per_pod.gpus) + "," + std::to_string(job.per_pod.cpu_millis) + "," +
      std::to_string(job.per_pod.memory_bytes));
  return k;
}

}  // namespace zenith::operator_::scheduler
