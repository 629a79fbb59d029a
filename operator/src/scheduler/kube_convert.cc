#include "zenith/operator/scheduler/kube_convert.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "zenith/operator/scheduler/quantity.h"

namespace zenith::operator_::scheduler {

using nlohmann::json;

namespace {

std::string ObjectName(const json& obj, std::string_view kind) {
  std::string name = std::string(kind) + " ";
  const json* meta = obj.is_object() && obj.contains("metadata") ? &obj["metadata"] : nullptr;
  if (meta && meta->is_object()) {
    if (meta->contains("namespace") && (*meta)["namespace"].is_string()) {
      name += (*meta)["namespace"].get<std::string>() + "/";
    }
    if (meta->contains("name") && (*meta)["name"].is_string()) {
      return name + (*meta)["name"].get<std::string>();
    }
  }
  return name + "<unnamed>";
}

// The value at a dotted path, or null when any step is missing.
const json* At(const json& obj, std::initializer_list<const char*> path) {
  const json* cur = &obj;
  for (const char* step : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(step);
    if (it == cur->end() || it->is_null()) return nullptr;
    cur = &*it;
  }
  return cur;
}

Status FieldError(std::string_view object, std::string_view field, std::string_view why) {
  return InvalidArgumentError(std::string(object) + ": " + std::string(field) + ": " +
                              std::string(why));
}

Result<std::string> StringAt(const json& obj, std::initializer_list<const char*> path,
                             std::string_view object, std::string_view field) {
  const json* v = At(obj, path);
  if (v == nullptr) return std::string();
  if (!v->is_string()) return FieldError(object, field, "must be a string");
  return v->get<std::string>();
}

// A quantity that may arrive as a string ("16Gi") or a JSON number (int-or-string fields).
Result<int64_t> QuantityAt(const json& v, int64_t scale, std::string_view object,
                           std::string_view field) {
  std::string text;
  if (v.is_string()) {
    text = v.get<std::string>();
  } else if (v.is_number_integer() || v.is_number_unsigned()) {
    text = std::to_string(v.get<int64_t>());
  } else if (v.is_number_float()) {
    text = std::to_string(v.get<double>());
  } else {
    return FieldError(object, field, "must be a quantity");
  }
  auto q = ParseQuantity(text, scale);
  if (!q.ok()) return FieldError(object, field, q.status().message());
  return *q;
}

Result<Resources> ResourceList(const json* list, std::string_view object, std::string_view field) {
  Resources r;
  if (list == nullptr) return r;
  if (!list->is_object()) return FieldError(object, field, "must be an object");
  for (auto it = list->begin(); it != list->end(); ++it) {
    const std::string f = std::string(field) + "." + it.key();
    if (it.key() == kGpuResource) {
      ZENITH_ASSIGN_OR_RETURN(r.gpus, QuantityAt(*it, 1, object, f));
    } else if (it.key() == "cpu") {
      ZENITH_ASSIGN_OR_RETURN(r.cpu_millis, QuantityAt(*it, 1000, object, f));
    } else if (it.key() == "memory") {
      ZENITH_ASSIGN_OR_RETURN(r.memory_bytes, QuantityAt(*it, 1, object, f));
    } else if (it.key() == "pods") {
      ZENITH_ASSIGN_OR_RETURN(r.pods, QuantityAt(*it, 1, object, f));
    }
  }
  return r;
}

Resources Max(const Resources& a, const Resources& b) {
  return {std::max(a.gpus, b.gpus), std::max(a.cpu_millis, b.cpu_millis),
          std::max(a.memory_bytes, b.memory_bytes), std::max(a.pods, b.pods)};
}

// A container's requests; a resource with only a limit requests its limit (as the API server
// defaults it, and as extended resources such as zenith.ai/gpu are often written).
Result<Resources> ContainerRequests(const json& c, std::string_view object, const std::string& f) {
  const json* requests = At(c, {"resources", "requests"});
  ZENITH_ASSIGN_OR_RETURN(Resources r, ResourceList(requests, object, f + ".resources.requests"));
  const json* limits = At(c, {"resources", "limits"});
  if (limits != nullptr && limits->is_object()) {
    json only_limits = json::object();
    for (auto it = limits->begin(); it != limits->end(); ++it) {
      if (requests == nullptr || !requests->is_object() || !requests->contains(it.key())) {
        only_limits[it.key()] = *it;
      }
    }
    ZENITH_ASSIGN_OR_RETURN(Resources l,
                            ResourceList(&only_limits, object, f + ".resources.limits"));
    r += l;
  }
  return r;
}

// Effective requests of a pod spec as the kubelet admits it: regular containers and native
// sidecars run together; each plain init container runs alone (with the sidecars started
// before it), so the larger of the two phases counts.
Result<Resources> PodSpecRequests(const json& spec, std::string_view object,
                                  std::string_view where) {
  Resources main, sidecars, init_peak;
  if (const json* cs = At(spec, {"containers"}); cs != nullptr) {
    if (!cs->is_array())
      return FieldError(object, std::string(where) + ".containers", "must be a list");
    for (size_t i = 0; i < cs->size(); ++i) {
      const std::string f = std::string(where) + ".containers[" + std::to_string(i) + "]";
      ZENITH_ASSIGN_OR_RETURN(Resources r, ContainerRequests((*cs)[i], object, f));
      main += r;
    }
  }
  if (const json* cs = At(spec, {"initContainers"}); cs != nullptr) {
    if (!cs->is_array())
      return FieldError(object, std::string(where) + ".initContainers", "must be a list");
    for (size_t i = 0; i < cs->size(); ++i) {
      const std::string f = std::string(where) + ".initContainers[" + std::to_string(i) + "]";
      ZENITH_ASSIGN_OR_RETURN(Resources r, ContainerRequests((*cs)[i], object, f));
      const json* policy = At((*cs)[i], {"restartPolicy"});
      if (policy && policy->is_string() && policy->get<std::string>() == "Always") {
        sidecars += r;
      } else {
        Resources during = sidecars;
        during += r;
        init_peak = Max(init_peak, during);
      }
    }
  }
  main += sidecars;
  Resources out = Max(main, init_peak);
  out.pods = 1;
  return out;
}

Result<std::map<std::string, std::string>> StringMap(const json* v, std::string_view object,
                                                     std::string_view field) {
  std::map<std::string, std::string> out;
  if (v == nullptr) return out;
  if (!v->is_object()) return FieldError(object, field, "must be an object of strings");
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it->is_string())
      return FieldError(object, std::string(field) + "." + it.key(), "must be a string");
    out[it.key()] = it->get<std::string>();
  }
  return out;
}

Result<std::vector<std::string>> StringList(const json* v, std::string_view object,
                                            std::string_view field) {
  std::vector<std::string> out;
  if (v == nullptr) return out;
  if (!v->is_array()) return FieldError(object, field, "must be a list of strings");
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) {
      return FieldError(object, std::string(field) + "[" + std::to_string(i) + "]",
                        "must be a string");
    }
    out.push_back((*v)[i].get<std::string>());
  }
  return out;
}

// A timestamp field of an object, read the one way the project has (zenith/common/clock.h).
Result<common::WallTime> ParseTimestamp(const std::string& s, std::string_view object,
                                        std::string_view field) {
  auto t = common::ParseTime(s);
  if (!t.ok()) return FieldError(object, field, t.status().message());
  return t;
}

}  // namespace

Result<Node> NodeFromJson(const json& obj) {
  const std::string name = ObjectName(obj, "node");
  Node n;
  ZENITH_ASSIGN_OR_RETURN(n.name, StringAt(obj, {"metadata", "name"}, name, "metadata.name"));
  if (n.name.empty()) return FieldError(name, "metadata.name", "missing");
  ZENITH_ASSIGN_OR_RETURN(n.labels,
                          StringMap(At(obj, {"metadata", "labels"}), name, "metadata.labels"));
  if (const json* taints = At(obj, {"spec", "taints"}); taints != nullptr) {
    if (!taints->is_array()) return FieldError(name, "spec.taints", "must be a list");
    for (size_t i = 0; i < taints->size(); ++i) {
      const std::string f = "spec.taints[" + std::to_string(i) + "]";
      Taint t;
      ZENITH_ASSIGN_OR_RETURN(t.key, StringAt((*taints)[i], {"key"}, name, f + ".key"));
      ZENITH_ASSIGN_OR_RETURN(t.value, StringAt((*taints)[i], {"value"}, name, f + ".value"));
      ZENITH_ASSIGN_OR_RETURN(t.effect, StringAt((*taints)[i], {"effect"}, name, f + ".effect"));
      n.taints.push_back(std::move(t));
    }
  }
  if (const json* u = At(obj, {"spec", "unschedulable"}); u != nullptr) {
    if (!u->is_boolean()) return FieldError(name, "spec.unschedulable", "must be a boolean");
    n.unschedulable = u->get<bool>();
  }
  ZENITH_ASSIGN_OR_RETURN(
      n.allocatable, ResourceList(At(obj, {"status", "allocatable"}), name, "status.allocatable"));
  if (const json* conds = At(obj, {"status", "conditions"}); conds && conds->is_array()) {
    for (const json& c : *conds) {
      if (c.value("type", "") == "Ready" && c.value("status", "") != "True") n.unschedulable = true;
    }
  }
  return n;
}

Result<deviceplugin::NodeTopology> TopologyFromZenithNode(const json& zenith_node) {
  const std::string name = ObjectName(zenith_node, "zenithnode");
  const json* t = At(zenith_node, {"status", "topology"});
  if (t == nullptr) return NotFoundError(name + ": status.topology: not published yet");
  auto topology = deviceplugin::TopologyFromJson(*t);
  if (!topology.ok()) return topology.status().WithContext(name + ": status.topology");
  return topology;
}

Result<PodUsage> PodUsageFromJson(const json& pod) {
  const std::string name = ObjectName(pod, "pod");
  PodUsage u;
  ZENITH_ASSIGN_OR_RETURN(std::string ns,
                          StringAt(pod, {"metadata", "namespace"}, name, "metadata.namespace"));
  ZENITH_ASSIGN_OR_RETURN(std::string n,
                          StringAt(pod, {"metadata", "name"}, name, "metadata.name"));
  u.key = ns.empty() ? n : ns + "/" + n;
  ZENITH_ASSIGN_OR_RETURN(u.node, StringAt(pod, {"spec", "nodeName"}, name, "spec.nodeName"));
  const json* spec = At(pod, {"spec"});
  if (spec == nullptr) return FieldError(name, "spec", "missing");
  ZENITH_ASSIGN_OR_RETURN(u.requests, PodSpecRequests(*spec, name, "spec"));
  ZENITH_ASSIGN_OR_RETURN(std::string phase,
                          StringAt(pod, {"status", "phase"}, name, "status.phase"));
  u.holds_resources = phase != "Succeeded" && phase != "Failed";
  const json* ann = At(pod, {"metadata", "annotations"});
  if (ann && ann->is_object() && ann->contains(kGpuIndicesAnnotation)) {
    const std::string field = std::string("metadata.annotations[") + kGpuIndicesAnnotation + "]";
    const json& v = (*ann)[kGpuIndicesAnnotation];
    if (!v.is_string()) return FieldError(name, field, "must be a string");
    const std::string text = v.get<std::string>();
    size_t start = 0;
    while (start < text.size()) {
      size_t comma = text.find(',', start);
      if (comma == std::string::npos) comma = text.size();
      const std::string item = text.substr(start, comma - start);
      char* end = nullptr;
      long idx = std::strtol(item.c_str(), &end, 10);
      if (item.empty() || *end != '\0' || idx < 0 || idx > 1023) {
        return FieldError(name, field, "\"" + text + "\" is not a list of GPU indices");
      }
      u.gpus.push_back(static_cast<int>(idx));
      start = comma + 1;
    }
    std::sort(u.gpus.begin(), u.gpus.end());
  }
  return u;
}

void AccountPod(Node& node, const PodUsage& pod) {
  if (!pod.holds_resources) return;
  node.requested += pod.requests;
  for (int g : pod.gpus) {
    if (std::find(node.taken_gpus.begin(), node.taken_gpus.end(), g) == node.taken_gpus.end()) {
      node.taken_gpus.push_back(g);
    }
  }
  std::sort(node.taken_gpus.begin(), node.taken_gpus.end());
}

Result<std::vector<Toleration>> TolerationsFromJson(const json& tolerations,
                                                    std::string_view where) {
  std::vector<Toleration> out;
  if (tolerations.is_null()) return out;
  if (!tolerations.is_array()) return InvalidArgumentError(std::string(where) + ": must be a list");
  for (size_t i = 0; i < tolerations.size(); ++i) {
    const std::string f = std::string(where) + "[" + std::to_string(i) + "]";
    const json& t = tolerations[i];
    Toleration tol;
    ZENITH_ASSIGN_OR_RETURN(tol.key, StringAt(t, {"key"}, f, "key"));
    ZENITH_ASSIGN_OR_RETURN(std::string op, StringAt(t, {"operator"}, f, "operator"));
    if (!op.empty()) tol.op = op;
    if (tol.op != "Equal" && tol.op != "Exists") {
      return FieldError(f, "operator", "\"" + op + "\" is neither Equal nor Exists");
    }
    ZENITH_ASSIGN_OR_RETURN(tol.value, StringAt(t, {"value"}, f, "value"));
    ZENITH_ASSIGN_OR_RETURN(tol.effect, StringAt(t, {"effect"}, f, "effect"));
    out.push_back(std::move(tol));
  }
  return out;
}

Result<std::vector<NodeSelectorTerm>> RequiredAffinityFromJson(const json& affinity,
                                                               std::string_view where) {
  std::vector<NodeSelectorTerm> out;
  const json* terms =
      At(affinity,
         {"nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"});
  if (terms == nullptr) return out;
  const std::string base =
      std::string(where) +
      ".nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms";
  if (!terms->is_array()) return InvalidArgumentError(base + ": must be a list");
  using Op = NodeSelectorRequirement::Op;
  for (size_t i = 0; i < terms->size(); ++i) {
    NodeSelectorTerm term;
    const std::string tf = base + "[" + std::to_string(i) + "].matchExpressions";
    const json* exprs = At((*terms)[i], {"matchExpressions"});
    if (exprs != nullptr && !exprs->is_array())
      return InvalidArgumentError(tf + ": must be a list");
    for (size_t j = 0; exprs && j < exprs->size(); ++j) {
      const std::string f = tf + "[" + std::to_string(j) + "]";
      NodeSelectorRequirement r;
      ZENITH_ASSIGN_OR_RETURN(r.key, StringAt((*exprs)[j], {"key"}, f, "key"));
      ZENITH_ASSIGN_OR_RETURN(std::string op, StringAt((*exprs)[j], {"operator"}, f, "operator"));
      if (op == "In")
        r.op = Op::kIn;
      else if (op == "NotIn")
        r.op = Op::kNotIn;
      else if (op == "Exists")
        r.op = Op::kExists;
      else if (op == "DoesNotExist")
        r.op = Op::kDoesNotExist;
      else if (op == "Gt")
        r.op = Op::kGt;
      else if (op == "Lt")
        r.op = Op::kLt;
      else
        return FieldError(f, "operator", "unknown operator \"" + op + "\"");
      ZENITH_ASSIGN_OR_RETURN(r.values, StringList(At((*exprs)[j], {"values"}), f, "values"));
      term.push_back(std::move(r));
    }
    out.push_back(std::move(term));
  }
  return out;
}

Result<Queue> QueueFromJson(const json& obj) {
  const std::string name = ObjectName(obj, "zenithqueue");
  Queue q;
  ZENITH_ASSIGN_OR_RETURN(q.name, StringAt(obj, {"metadata", "name"}, name, "metadata.name"));
  if (q.name.empty()) return FieldError(name, "metadata.name", "missing");
  if (const json* w = At(obj, {"spec", "weight"}); w != nullptr) {
    if (!w->is_number_integer() || w->get<int64_t>() < 1 || w->get<int64_t>() > 1'000'000) {
      return FieldError(name, "spec.weight", "must be an integer from 1 to 1000000");
    }
    q.weight = static_cast<int>(w->get<int64_t>());
  }
  if (const json* quota = At(obj, {"spec", "gpuQuota"}); quota != nullptr) {
    if (!quota->is_number_integer() || quota->get<int64_t>() < 0) {
      return FieldError(name, "spec.gpuQuota", "must be a non-negative integer");
    }
    q.gpu_quota = quota->get<int64_t>();
  }
  return q;
}

Result<JobRequest> JobRequestFromZenithJob(const json& obj) {
  const std::string name = ObjectName(obj, "zenithjob");
  JobRequest j;
  ZENITH_ASSIGN_OR_RETURN(std::string ns,
                          StringAt(obj, {"metadata", "namespace"}, name, "metadata.namespace"));
  ZENITH_ASSIGN_OR_RETURN(std::string n,
                          StringAt(obj, {"metadata", "name"}, name, "metadata.name"));
  if (n.empty()) return FieldError(name, "metadata.name", "missing");
  j.key = ns.empty() ? n : ns + "/" + n;
  ZENITH_ASSIGN_OR_RETURN(std::string created, StringAt(obj, {"metadata", "creationTimestamp"},
                                                        name, "metadata.creationTimestamp"));
  if (!created.empty()) {
    ZENITH_ASSIGN_OR_RETURN(j.created, ParseTimestamp(created, name, "metadata.creationTimestamp"));
  }
  const json* spec = At(obj, {"spec"});
  if (spec == nullptr || !spec->is_object()) return FieldError(name, "spec", "missing");

  auto int_at = [&](std::initializer_list<const char*> path, std::string_view field,
                    int64_t fallback) -> Result<int64_t> {
    const json* v = At(*spec, path);
    if (v == nullptr) return fallback;
    if (!v->is_number_integer()) return FieldError(name, field, "must be an integer");
    return v->get<int64_t>();
  };
  auto bool_at = [&](std::initializer_list<const char*> path, std::string_view field,
                     bool fallback) -> Result<bool> {
    const json* v = At(*spec, path);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) return FieldError(name, field, "must be a boolean");
    return v->get<bool>();
  };

  ZENITH_ASSIGN_OR_RETURN(int64_t replicas, int_at({"replicas"}, "spec.replicas", 1));
  if (replicas < 1) return FieldError(name, "spec.replicas", "must be at least 1");
  ZENITH_ASSIGN_OR_RETURN(int64_t min_available,
                          int_at({"minAvailable"}, "spec.minAvailable", replicas));
  if (min_available < 1 || min_available > replicas) {
    return FieldError(name, "spec.minAvailable", "must be between 1 and spec.replicas");
  }
  j.pods = static_cast<int>(min_available);
  ZENITH_ASSIGN_OR_RETURN(int64_t gpus, int_at({"gpusPerReplica"}, "spec.gpusPerReplica", 0));
  if (gpus < 0 || gpus > 64) return FieldError(name, "spec.gpusPerReplica", "must be 0 to 64");

  const json* pod_spec = At(*spec, {"template", "spec"});
  if (pod_spec != nullptr) {
    ZENITH_ASSIGN_OR_RETURN(j.per_pod, PodSpecRequests(*pod_spec, name, "spec.template.spec"));
    ZENITH_ASSIGN_OR_RETURN(j.node_selector, StringMap(At(*pod_spec, {"nodeSelector"}), name,
                                                       "spec.template.spec.nodeSelector"));
    if (const json* t = At(*pod_spec, {"tolerations"}); t != nullptr) {
      ZENITH_ASSIGN_OR_RETURN(j.tolerations,
                              TolerationsFromJson(*t, name + ": spec.template.spec.tolerations"));
    }
    if (const json* a = At(*pod_spec, {"affinity"}); a != nullptr) {
      ZENITH_ASSIGN_OR_RETURN(j.required_affinity,
                              RequiredAffinityFromJson(*a, name + ": spec.template.spec.affinity"));
    }
  }
  j.per_pod.gpus = gpus;  // the controller sets the pod's zenith.ai/gpu from gpusPerReplica
  j.per_pod.pods = 1;

  TopologyRequest& t = j.topology;
  ZENITH_ASSIGN_OR_RETURN(std::string nvlink,
                          StringAt(*spec, {"topology", "nvlink"}, name, "spec.topology.nvlink"));
  if (nvlink.empty() || nvlink == "Preferred")
    t.nvlink = NvlinkPolicy::kPreferred;
  else if (nvlink == "Required")
    t.nvlink = NvlinkPolicy::kRequired;
  else if (nvlink == "None")
    t.nvlink = NvlinkPolicy::kNone;
  else
    return FieldError(name, "spec.topology.nvlink",
                      "\"" + nvlink + "\" is not Required, Preferred or None");
  ZENITH_ASSIGN_OR_RETURN(t.numa_aligned,
                          bool_at({"topology", "numaAligned"}, "spec.topology.numaAligned", true));
  ZENITH_ASSIGN_OR_RETURN(std::string placement, StringAt(*spec, {"topology", "placement"}, name,
                                                          "spec.topology.placement"));
  if (placement.empty() || placement == "Pack")
    t.placement = PlacementPolicy::kPack;
  else if (placement == "Spread")
    t.placement = PlacementPolicy::kSpread;
  else
    return FieldError(name, "spec.topology.placement",
                      "\"" + placement + "\" is not Pack or Spread");
  ZENITH_ASSIGN_OR_RETURN(t.same_node_label, StringAt(*spec, {"topology", "sameNodeLabel"}, name,
                                                      "spec.topology.sameNodeLabel"));
  ZENITH_ASSIGN_OR_RETURN(t.preferred_nodes, StringList(At(*spec, {"topology", "preferredNodes"}),
                                                        name, "spec.topology.preferredNodes"));
  ZENITH_ASSIGN_OR_RETURN(t.excluded_nodes, StringList(At(*spec, {"topology", "excludedNodes"}),
                                                       name, "spec.topology.excludedNodes"));
  ZENITH_ASSIGN_OR_RETURN(
      t.gpu_model, StringAt(*spec, {"topology", "gpuModel"}, name, "spec.topology.gpuModel"));
  if (const json* m = At(*spec, {"topology", "minGpuMemory"}); m != nullptr) {
    ZENITH_ASSIGN_OR_RETURN(int64_t bytes, QuantityAt(*m, 1, name, "spec.topology.minGpuMemory"));
    t.min_gpu_memory_bytes = static_cast<uint64_t>(bytes);
  }
  ZENITH_ASSIGN_OR_RETURN(t.rdma, bool_at({"topology", "rdma"}, "spec.topology.rdma", false));

  ZENITH_ASSIGN_OR_RETURN(std::string queue,
                          StringAt(*spec, {"scheduling", "queue"}, name, "spec.scheduling.queue"));
  if (!queue.empty()) j.queue = queue;
  ZENITH_ASSIGN_OR_RETURN(int64_t priority,
                          int_at({"scheduling", "priority"}, "spec.scheduling.priority", 0));
  j.priority = static_cast<int32_t>(priority);
  ZENITH_ASSIGN_OR_RETURN(
      j.preemptible, bool_at({"scheduling", "preemptible"}, "spec.scheduling.preemptible", false));
  if (At(*spec, {"scheduling", "maxWaitSeconds"}) != nullptr) {
    ZENITH_ASSIGN_OR_RETURN(int64_t wait, int_at({"scheduling", "maxWaitSeconds"},
                                                 "spec.scheduling.maxWaitSeconds", 0));
    if (wait < 0) return FieldError(name, "spec.scheduling.maxWaitSeconds", "must not be negative");
    j.max_wait = std::chrono::seconds(wait);
  }
  return j;
}

}  // namespace zenith::operator_::scheduler
