#include "zenith/deviceplugin/topology.h"

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "zenith/deviceplugin/cpu_list.h"

namespace zenith::deviceplugin {

using nlohmann::json;

std::string_view MigModeName(MigMode mode) {
  switch (mode) {
    case MigMode::kDisabled:
      return "disabled";
    case MigMode::kEnabled:
      return "enabled";
    case MigMode::kUnsupported:
      break;
  }
  return "unsupported";
}

Result<MigMode> ParseMigMode(std::string_view text) {
  if (text == "disabled") return MigMode::kDisabled;
  if (text == "enabled") return MigMode::kEnabled;
  if (text == "unsupported") return MigMode::kUnsupported;
  return InvalidArgumentError("bad MIG mode '" + std::string(text) +
                              "' (expected disabled, enabled or unsupported)");
}

int NodeTopology::PositionOf(int gpu_index) const {
  for (size_t i = 0; i < gpus.size(); ++i) {
    if (gpus[i].index == gpu_index) return static_cast<int>(i);
  }
  return -1;
}

int NodeTopology::Links(size_t a, size_t b) const {
  if (a >= nvlink.size() || b >= nvlink[a].size()) return 0;
  return nvlink[a][b];
}

void ResetNvlinkMatrix(NodeTopology& topology) {
  topology.nvlink.assign(topology.gpus.size(), std::vector<int>(topology.gpus.size(), 0));
}

Status ValidateTopology(const NodeTopology& t) {
  std::set<int> numa_ids;
  for (const NumaNode& n : t.numa_nodes) {
    if (n.id < 0) return InvalidArgumentError("NUMA node id " + std::to_string(n.id) + " < 0");
    if (!numa_ids.insert(n.id).second) {
      return InvalidArgumentError("NUMA node " + std::to_string(n.id) + " listed twice");
    }
  }
  auto check_numa = [&](int node, const std::string& what) -> Status {
    if (node < -1) return InvalidArgumentError(what + ": NUMA node " + std::to_string(node));
    if (node >= 0 && !numa_ids.empty() && !numa_ids.count(node)) {
      return InvalidArgumentError(what + ": NUMA node " + std::to_string(node) +
                                  " is not among the listed NUMA nodes");
    }
    return Status::Ok();
  };
  std::set<std::string> uuids;
  for (size_t i = 0; i < t.gpus.size(); ++i) {
    const Gpu& g = t.gpus[i];
    std::string what = "GPU " + std::to_string(g.index);
    if (g.index < 0) return InvalidArgumentError(what + ": negative index");
    if (i > 0 && g.index <= t.gpus[i - 1].index) {
      return InvalidArgumentError(what + ": GPU indices must be unique and increasing (follows " +
                                  std::to_string(t.gpus[i - 1].index) + ")");
    }
    if (!g.uuid.empty() && !uuids.insert(g.uuid).second) {
      return InvalidArgumentError(what + ": UUID " + g.uuid + " used twice");
    }
    ZENITH_RETURN_IF_ERROR(check_numa(g.numa_node, what));
  }
  for (const Nic& n : t.nics) ZENITH_RETURN_IF_ERROR(check_numa(n.numa_node, "NIC " + n.name));
  if (t.nvlink.empty()) return Status::Ok();
  const size_t n = t.gpus.size();
  if (t.nvlink.size() != n) {
    return InvalidArgumentError("NVLink matrix has " + std::to_string(t.nvlink.size()) +
                                " rows for " + std::to_string(n) + " GPUs");
  }
  for (size_t a = 0; a < n; ++a) {
    if (t.nvlink[a].size() != n) {
      return InvalidArgumentError("NVLink matrix row " + std::to_string(a) + " has " +
                                  std::to_string(t.nvlink[a].size()) + " columns for " +
                                  std::to_string(n) + " GPUs");
    }
  }
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = 0; b < n; ++b) {
      std::string cell = "NVLink matrix [" + std::to_string(a) + "][" + std::to_string(b) + "]";
      if (t.nvlink[a][b] < 0) return InvalidArgumentError(cell + " is negative");
      if (a == b && t.nvlink[a][b] != 0) {
        return InvalidArgumentError(cell + ": a GPU has no NVLink to itself (must be 0)");
      }
      if (t.nvlink[a][b] != t.nvlink[b][a]) {
        return InvalidArgumentError(
            cell + " = " + std::to_string(t.nvlink[a][b]) + " but [" + std::to_string(b) + "][" +
            std::to_string(a) + "] = " + std::to_string(t.nvlink[b][a]) + " (must be symmetric)");
      }
    }
  }
  return Status::Ok();
}

void to_json(json& j, const NodeTopology& t) {
  j = json::object();
  j["source"] = t.source;
  j["nvswitch"] = t.nvswitch;
  json gpus = json::array();
  for (const Gpu& g : t.gpus) {
    gpus.push_back({{"index", g.index},
                    {"uuid", g.uuid},
                    {"name", g.name},
                    {"memory_bytes", g.memory_bytes},
                    {"pci_bus_id", g.pci_bus_id},
                    {"numa_node", g.numa_node},
                    {"cpus", FormatCpuList(g.cpus)},
                    {"mig", std::string(MigModeName(g.mig))},
                    {"healthy", g.healthy}});
  }
  j["gpus"] = std::move(gpus);
  j["nvlink"] = t.nvlink;
  json numa = json::array();
  for (const NumaNode& n : t.numa_nodes)
    numa.push_back({{"id", n.id}, {"cpus", FormatCpuList(n.cpus)}});
  j["numa_nodes"] = std::move(numa);
  json nics = json::array();
  for (const Nic& n : t.nics) {
    nics.push_back({{"name", n.name},
                    {"pci_bus_id", n.pci_bus_id},
                    {"numa_node", n.numa_node},
                    {"rdma", n.rdma}});
  }
  j["nics"] = std::move(nics);
}

json TopologyToJson(const NodeTopology& topology) {
  json j;
  to_json(j, topology);
  return j;
}

namespace {

// Reads one field, naming its JSON path in the error.
template <typename T>
Status Field(const json& obj, const std::string& path, const char* key, T& out, bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (!required) return Status::Ok();
    return InvalidArgumentError(path + "." + key + ": missing");
  }
  try {
    out = it->get<T>();
  } catch (const json::exception& e) {
    return InvalidArgumentError(path + "." + key + ": " + e.what());
  }
  return Status::Ok();
}

Status CpusField(const json& obj, const std::string& path, std::vector<int>& out) {
  std::string text;
  ZENITH_RETURN_IF_ERROR(Field(obj, path, "cpus", text, false));
  auto cpus = ParseCpuList(text);
  if (!cpus.ok()) return cpus.status().WithContext(path + ".cpus");
  out = std::move(cpus).value();
  return Status::Ok();
}

Status ObjectArray(const json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    return required ? InvalidArgumentError(std::string(key) + ": missing") : Status::Ok();
  }
  if (!it->is_array()) return InvalidArgumentError(std::string(key) + ": expected an array");
  for (size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_object()) {
      return InvalidArgumentError(std::string(key) + "[" + std::to_string(i) +
                                  "]: expected an object");
    }
  }
  return Status::Ok();
}

Status Parse(const json& j, NodeTopology& t) {
  if (!j.is_object()) return InvalidArgumentError("topology: expected a JSON object");
  t = NodeTopology();
  ZENITH_RETURN_IF_ERROR(Field(j, "topology", "source", t.source, false));
  ZENITH_RETURN_IF_ERROR(Field(j, "topology", "nvswitch", t.nvswitch, false));
  ZENITH_RETURN_IF_ERROR(ObjectArray(j, "gpus", true));
  ZENITH_RETURN_IF_ERROR(ObjectArray(j, "numa_nodes", false));
  ZENITH_RETURN_IF_ERROR(ObjectArray(j, "nics", false));
  const json& gpus = j.at("gpus");
  for (size_t i = 0; i < gpus.size(); ++i) {
    const std::string path = "gpus[" + std::to_string(i) + "]";
    Gpu g;
    std::string mig = "unsupported";
    ZENITH_RETURN_IF_ERROR(Field(gpus[i], path, "index", g.index, true));
    ZENITH_RETURN_IF_ERROR(Field(gpus[i], path, "uuid", g.uuid, false));
    ZENITH_RETURN_IF_ERROR(Field(gpus[i], path, "name", g.name, false));
    ZENITH_RETURN_IF_ERROR(Field(gpus[i], path, "memory_bytes", g.memory_bytes, false));
    ZENITH_RETURN_IF_ERROR(Field(gpus[i], path, "pci_bus_id", g.pci_bus_id, false));
    ZENITH_RETURN_IF_ERROR(Field(gpus[i], path, "numa_node", g.numa_node, false));
    ZENITH_RETURN_IF_ERROR(CpusField(gpus[i], path, g.cpus));
    ZENITH_RETURN_IF_ERROR(Field(gpus[i], path, "mig", mig, false));
    auto mode = ParseMigMode(mig);
    if (!mode.ok()) return mode.status().WithContext(path + ".mig");
    g.mig = *mode;
    ZENITH_RETURN_IF_ERROR(Field(gpus[i], path, "healthy", g.healthy, false));
    t.gpus.push_back(std::move(g));
  }
  ZENITH_RETURN_IF_ERROR(Field(j, "topology", "nvlink", t.nvlink, false));
  if (t.nvlink.empty()) ResetNvlinkMatrix(t);
  if (j.contains("numa_nodes")) {
    const json& numa = j.at("numa_nodes");
    for (size_t i = 0; i < numa.size(); ++i) {
      const std::string path = "numa_nodes[" + std::to_string(i) + "]";
      NumaNode n;
      ZENITH_RETURN_IF_ERROR(Field(numa[i], path, "id", n.id, true));
      ZENITH_RETURN_IF_ERROR(CpusField(numa[i], path, n.cpus));
      t.numa_nodes.push_back(std::move(n));
    }
  }
  if (j.contains("nics")) {
    const json& nics = j.at("nics");
    for (size_t i = 0; i < nics.size(); ++i) {
      const std::string path = "nics[" + std::to_string(i) + "]";
      Nic n;
      ZENITH_RETURN_IF_ERROR(Field(nics[i], path, "name", n.name, true));
      ZENITH_RETURN_IF_ERROR(Field(nics[i], path, "pci_bus_id", n.pci_bus_id, false));
      ZENITH_RETURN_IF_ERROR(Field(nics[i], path, "numa_node", n.numa_node, false));
      ZENITH_RETURN_IF_ERROR(Field(nics[i], path, "rdma", n.rdma, false));
      t.nics.push_back(std::move(n));
    }
  }
  return ValidateTopology(t);
}

}  // namespace

void from_json(const json& j, NodeTopology& topology) {
  Status s = Parse(j, topology);
  if (!s.ok()) throw std::invalid_argument(s.ToString());
}

Result<NodeTopology> TopologyFromJson(const json& j) {
  NodeTopology t;
  Status s = Parse(j, t);
  if (!s.ok()) return s.WithContext("topology JSON");
  return t;
}

}  // namespace zenith::deviceplugin
