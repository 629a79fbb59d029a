#include "zenith/deviceplugin/fixture_discovery.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "zenith/deviceplugin/cpu_list.h"
#include "zenith/deviceplugin/pci.h"

namespace zenith::deviceplugin {
namespace {

// Reads typed fields out of YAML maps, turning every problem into an error that says
// "fixture <file>:<line>:<column>: <field path>: <what>".
class Reader {
 public:
  explicit Reader(const std::string& file) : file_(file) {}

  Status Error(const YAML::Node& node, const std::string& path, const std::string& what) const {
    return Error(node.Mark(), path, what);
  }
  Status Error(const YAML::Mark& mark, const std::string& path, const std::string& what) const {
    std::string where = "fixture " + file_;
    if (mark.line >= 0) {
      where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    }
    return InvalidArgumentError(where + ": " + (path.empty() ? "" : path + ": ") + what);
  }

  // Rejects keys the schema does not know, so a typo is an error rather than a default.
  Status KnownKeys(const YAML::Node& map, const std::string& path,
                   const std::set<std::string>& known) const {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
      if (!known.count(key)) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        return Error(it->first, Join(path, key), "unknown field (known: " + list + ")");
      }
    }
    return Status::Ok();
  }

  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  Status Map(const YAML::Node& node, const std::string& path) const {
    if (!node.IsMap()) return Error(node, path, "expected a mapping of fields");
    return Status::Ok();
  }

  Status Int(const YAML::Node& map, const std::string& path, const char* key, int64_t& out,
             bool required, int64_t min, int64_t max) const {
    const YAML::Node node = map[key];
    if (!node || node.IsNull()) {
      return required ? Error(map, Join(path, key), "missing") : Status::Ok();
    }
    if (!node.IsScalar()) return Error(node, Join(path, key), "expected an integer");
    const std::string& text = node.Scalar();
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Error(node, Join(path, key), "expected an integer, got '" + text + "'");
    }
    if (v < min || v > max) {
      return Error(node, Join(path, key),
                   std::to_string(v) + " is out of range [" + std::to_string(min) + ", " +
                       std::to_string(max) + "]");
    }
    out = v;
    return Status::Ok();
  }

  Status String(const YAML::Node& map, const std::string& path, const char* key, std::string& out,
                bool required) const {
    const YAML::Node node = map[key];
    if (!node || node.IsNull()) {
      return required ? Error(map, Join(path, key), "missing") : Status::Ok();
    }
    if (!node.IsScalar()) return Error(node, Join(path, key), "expected a string");
    out = node.Scalar();
    return Status::Ok();
  }

  Status Bool(const YAML::Node& map, const std::string& path, const char* key, bool& out) const {
    const YAML::Node node = map[key];
    if (!node || node.IsNull()) return Status::Ok();
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    if (text == "true" || text == "True" || text == "yes") {
      out = true;
    } else if (text == "false" || text == "False" || text == "no") {
      out = false;
    } else {
      return Error(node, Join(path, key), "expected true or false, got '" + text + "'");
    }
    return Status::Ok();
  }

  Status Cpus(const YAML::Node& map, const std::string& path, std::vector<int>& out) const {
    std::string text;
    ZENITH_RETURN_IF_ERROR(String(map, path, "cpus", text, false));
    auto cpus = ParseCpuList(text);
    if (!cpus.ok()) return Error(map["cpus"], Join(path, "cpus"), cpus.status().message());
    out = std::move(cpus).value();
    return Status::Ok();
  }

  Status PciBusId(const YAML::Node& map, const std::string& path, std::string& out,
                  bool required) const {
    std::string text;
    ZENITH_RETURN_IF_ERROR(String(map, path, "pci_bus_id", text, required));
    if (text.empty()) return Status::Ok();
    auto id = NormalizePciBusId(text);
    if (!id.ok()) return Error(map["pci_bus_id"], Join(path, "pci_bus_id"), id.status().message());
    out = std::move(id).value();
    return Status::Ok();
  }

 private:
  const std::string& file_;
};

constexpr int64_t kMaxGpus = 64;  // the scorer's bit masks hold 64 GPUs

Status ParseNuma(const Reader& r, const YAML::Node& root, NodeTopology& t) {
  const YAML::Node list = root["numa_nodes"];
  if (!list) return Status::Ok();
  if (!list.IsSequence()) return r.Error(list, "numa_nodes", "expected a list");
  std::set<int> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node n = list[i];
    const std::string path = "numa_nodes[" + std::to_string(i) + "]";
    ZENITH_RETURN_IF_ERROR(r.Map(n, path));
    ZENITH_RETURN_IF_ERROR(r.KnownKeys(n, path, {"id", "cpus"}));
    NumaNode node;
    int64_t id = 0;
    ZENITH_RETURN_IF_ERROR(r.Int(n, path, "id", id, true, 0, 1 << 16));
    node.id = static_cast<int>(id);
    if (!seen.insert(node.id).second) {
      return r.Error(n["id"], path + ".id", "NUMA node " + std::to_string(id) + " listed twice");
    }
    ZENITH_RETURN_IF_ERROR(r.Cpus(n, path, node.cpus));
    t.numa_nodes.push_back(std::move(node));
  }
  return Status::Ok();
}

Status NumaRef(const Reader& r, const YAML::Node& map, const std::string& path,
               const NodeTopology& t, int& out) {
  int64_t v = -1;
  ZENITH_RETURN_IF_ERROR(r.Int(map, path, "numa_node", v, false, -1, 1 << 16));
  if (v >= 0 && !t.numa_nodes.empty()) {
    bool found = false;
    for (const NumaNode& n : t.numa_nodes) found |= n.id == v;
    if (!found) {
      return r.Error(map["numa_node"], path + ".numa_node",
                     "NUMA node " + std::to_string(v) + " is not listed under numa_nodes");
    }
  }
  out = static_cast<int>(v);
  return Status::Ok();
}

Status ParseGpus(const Reader& r, const YAML::Node& root, NodeTopology& t) {
  const YAML::Node list = root["gpus"];
  if (!list) return r.Error(root, "gpus", "missing (a fixture lists its GPUs, possibly none: [])");
  if (!list.IsSequence()) return r.Error(list, "gpus", "expected a list");
  if (static_cast<int64_t>(list.size()) > kMaxGpus) {
    return r.Error(list, "gpus", "more than " + std::to_string(kMaxGpus) + " GPUs");
  }
  std::set<std::string> uuids;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node n = list[i];
    const std::string path = "gpus[" + std::to_string(i) + "]";
    ZENITH_RETURN_IF_ERROR(r.Map(n, path));
    ZENITH_RETURN_IF_ERROR(r.KnownKeys(n, path,
                                       {"index", "uuid", "name", "memory_bytes", "memory_mib",
                                        "pci_bus_id", "numa_node", "cpus", "mig", "healthy"}));
    Gpu g;
    int64_t index = static_cast<int64_t>(i);
    ZENITH_RETURN_IF_ERROR(r.Int(n, path, "index", index, false, 0, 1 << 20));
    g.index = static_cast<int>(index);
    if (!t.gpus.empty() && g.index <= t.gpus.back().index) {
      return r.Error(n["index"] ? n["index"] : n, path + ".index",
                     "GPU indices must be unique and increasing (previous is " +
                         std::to_string(t.gpus.back().index) + ")");
    }
    ZENITH_RETURN_IF_ERROR(r.String(n, path, "uuid", g.uuid, true));
    if (g.uuid.rfind("GPU-", 0) != 0) {
      return r.Error(n["uuid"], path + ".uuid", "'" + g.uuid + "' does not start with GPU-");
    }
    if (!uuids.insert(g.uuid).second) {
      return r.Error(n["uuid"], path + ".uuid", "UUID " + g.uuid + " used twice");
    }
    ZENITH_RETURN_IF_ERROR(r.String(n, path, "name", g.name, true));
    if (n["memory_bytes"] && n["memory_mib"]) {
      return r.Error(n["memory_mib"], path, "give memory_bytes or memory_mib, not both");
    }
    int64_t memory = 0;
    if (n["memory_mib"]) {
      ZENITH_RETURN_IF_ERROR(r.Int(n, path, "memory_mib", memory, true, 1, int64_t{1} << 40));
      g.memory_bytes = static_cast<uint64_t>(memory) << 20;
    } else {
      ZENITH_RETURN_IF_ERROR(r.Int(n, path, "memory_bytes", memory, true, 1, INT64_MAX));
      g.memory_bytes = static_cast<uint64_t>(memory);
    }
    ZENITH_RETURN_IF_ERROR(r.PciBusId(n, path, g.pci_bus_id, true));
    ZENITH_RETURN_IF_ERROR(NumaRef(r, n, path, t, g.numa_node));
    ZENITH_RETURN_IF_ERROR(r.Cpus(n, path, g.cpus));
    if (!n["cpus"]) {  // default: the CPUs of the GPU's NUMA node
      for (const NumaNode& numa : t.numa_nodes) {
        if (numa.id == g.numa_node) g.cpus = numa.cpus;
      }
    }
    std::string mig = "disabled";
    ZENITH_RETURN_IF_ERROR(r.String(n, path, "mig", mig, false));
    auto mode = ParseMigMode(mig);
    if (!mode.ok()) return r.Error(n["mig"], path + ".mig", mode.status().message());
    g.mig = *mode;
    ZENITH_RETURN_IF_ERROR(r.Bool(n, path, "healthy", g.healthy));
    t.gpus.push_back(std::move(g));
  }
  return Status::Ok();
}

Status ParseNvlink(const Reader& r, const YAML::Node& root, NodeTopology& t) {
  ResetNvlinkMatrix(t);
  const YAML::Node rows = root["nvlink"];
  if (!rows || rows.IsNull()) return Status::Ok();
  const size_t n = t.gpus.size();
  if (!rows.IsSequence() || rows.size() != n) {
    return r.Error(rows, "nvlink",
                   "expected a " + std::to_string(n) + "x" + std::to_string(n) +
                       " matrix (one row per GPU, in the order of gpus)");
  }
  std::vector<std::vector<YAML::Mark>> marks(n, std::vector<YAML::Mark>(n));
  for (size_t a = 0; a < n; ++a) {
    const YAML::Node row = rows[a];
    const std::string rpath = "nvlink[" + std::to_string(a) + "]";
    if (!row.IsSequence() || row.size() != n) {
      return r.Error(row, rpath, "expected a row of " + std::to_string(n) + " link counts");
    }
    for (size_t b = 0; b < n; ++b) {
      const std::string cpath = rpath + "[" + std::to_string(b) + "]";
      const YAML::Node cell = row[b];
      marks[a][b] = cell.Mark();
      const std::string text = cell.IsScalar() ? cell.Scalar() : "";
      int v = -1;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size() || v < 0 || v > 64) {
        return r.Error(cell, cpath, "expected a link count 0..64, got '" + text + "'");
      }
      if (a == b && v != 0) return r.Error(cell, cpath, "a GPU has no NVLink to itself (use 0)");
      t.nvlink[a][b] = v;
    }
  }
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = a + 1; b < n; ++b) {
      if (t.nvlink[a][b] != t.nvlink[b][a]) {
        return r.Error(marks[b][a], "nvlink[" + std::to_string(b) + "][" + std::to_string(a) + "]",
                       std::to_string(t.nvlink[b][a]) + " differs from nvlink[" +
                           std::to_string(a) + "][" + std::to_string(b) + "] = " +
                           std::to_string(t.nvlink[a][b]) + " (the matrix must be symmetric)");
      }
    }
  }
  return Status::Ok();
}

Status ParseNics(const Reader& r, const YAML::Node& root, NodeTopology& t) {
  const YAML::Node list = root["nics"];
  if (!list || list.IsNull()) return Status::Ok();
  if (!list.IsSequence()) return r.Error(list, "nics", "expected a list");
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node n = list[i];
    const std::string path = "nics[" + std::to_string(i) + "]";
    ZENITH_RETURN_IF_ERROR(r.Map(n, path));
    ZENITH_RETURN_IF_ERROR(r.KnownKeys(n, path, {"name", "pci_bus_id", "numa_node", "rdma"}));
    Nic nic;
    ZENITH_RETURN_IF_ERROR(r.String(n, path, "name", nic.name, true));
    ZENITH_RETURN_IF_ERROR(r.PciBusId(n, path, nic.pci_bus_id, false));
    ZENITH_RETURN_IF_ERROR(NumaRef(r, n, path, t, nic.numa_node));
    ZENITH_RETURN_IF_ERROR(r.Bool(n, path, "rdma", nic.rdma));
    t.nics.push_back(std::move(nic));
  }
  return Status::Ok();
}

}  // namespace

Result<NodeTopology> ParseFixture(std::string_view yaml, const std::string& file) {
  Reader r(file);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return r.Error(e.mark, "", "not valid YAML: " + e.msg);
  }
  NodeTopology t;
  t.source = "fixture " + file;
  try {
    ZENITH_RETURN_IF_ERROR(r.Map(root, ""));
    ZENITH_RETURN_IF_ERROR(
        r.KnownKeys(root, "", {"description", "nvswitch", "numa_nodes", "gpus", "nvlink", "nics"}));
    ZENITH_RETURN_IF_ERROR(r.Bool(root, "", "nvswitch", t.nvswitch));
    ZENITH_RETURN_IF_ERROR(ParseNuma(r, root, t));
    ZENITH_RETURN_IF_ERROR(ParseGpus(r, root, t));
    ZENITH_RETURN_IF_ERROR(ParseNvlink(r, root, t));
    ZENITH_RETURN_IF_ERROR(ParseNics(r, root, t));
  } catch (const YAML::Exception& e) {  // yaml-cpp's own surprises stop here
    return r.Error(e.mark, "", e.msg);
  }
  Status valid = ValidateTopology(t);
  if (!valid.ok()) return valid.WithContext("fixture " + file);
  return t;
}

Result<NodeTopology> FixtureDiscovery::Discover() {
  std::ifstream in(path_);
  if (!in) return NotFoundError("fixture " + path_ + ": cannot open the file");
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return UnavailableError("fixture " + path_ + ": read failed");
  return ParseFixture(text.str(), path_);
}

}  // namespace zenith::deviceplugin
