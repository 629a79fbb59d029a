#include "zenith/deviceplugin/sysfs.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "zenith/deviceplugin/cpu_list.h"
#include "zenith/deviceplugin/pci.h"

namespace zenith::deviceplugin::sysfs {
namespace {

namespace fs = std::filesystem;

bool ReadFile(const fs::path& path, std::string& out) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream s;
  s << in.rdbuf();
  out = s.str();
  return true;
}

}  // namespace

std::vector<NumaNode> ReadNumaNodes(const std::string& root) {
  std::vector<NumaNode> out;
  std::error_code ec;
  const fs::path dir = fs::path(root) / "devices/system/node";
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("node", 0) != 0 || name.size() == 4 ||
        !std::all_of(name.begin() + 4, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    NumaNode node;
    node.id = std::stoi(name.substr(4));
    std::string text;
    if (ReadFile(it->path() / "cpulist", text)) {
      node.cpus = ParseCpuList(text).value_or({});
    }
    out.push_back(std::move(node));
  }
  std::sort(out.begin(), out.end(),
            [](const NumaNode& a, const NumaNode& b) { return a.id < b.id; });
  return out;
}

int ReadPciNumaNode(const std::string& root, const std::string& pci_bus_id) {
  std::string text;
  if (!ReadFile(fs::path(root) / "bus/pci/devices" / pci_bus_id / "numa_node", text)) return -1;
  try {
    int node = std::stoi(text);
    return node < 0 ? -1 : node;
  } catch (const std::exception&) {
    return -1;
  }
}

std::vector<int> ReadPciLocalCpus(const std::string& root, const std::string& pci_bus_id) {
  std::string text;
  if (!ReadFile(fs::path(root) / "bus/pci/devices" / pci_bus_id / "local_cpulist", text)) {
    return {};
  }
  return ParseCpuList(text).value_or({});
}

std::vector<Nic> ReadRdmaNics(const std::string& root) {
  std::vector<Nic> out;
  std::error_code ec;
  const fs::path dir = fs::path(root) / "class/infiniband";
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    Nic nic;
    nic.name = it->path().filename().string();
    nic.rdma = true;
    std::error_code link_ec;
    // "device" links to ../../../0000:18:00.0 (or a full path); its last part is the bus id.
    fs::path target = fs::read_symlink(it->path() / "device", link_ec);
    if (!link_ec) {
      auto id = NormalizePciBusId(target.filename().string());
      if (id.ok()) nic.pci_bus_id = *id;
    }
    nic.numa_node = nic.pci_bus_id.empty() ? -1 : ReadPciNumaNode(root, nic.pci_bus_id);
    out.push_back(std::move(nic));
  }
  std::sort(out.begin(), out.end(), [](const Nic& a, const Nic& b) { return a.name < b.name; });
  return out;
}

std::string ReadUverbsDevice(const std::string& root, const std::string& rdma_name) {
  std::error_code ec;
  const fs::path dir = fs::path(root) / "class/infiniband" / rdma_name / "device/infiniband_verbs";
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("uverbs", 0) == 0) return name;
  }
  return "";
}

}  // namespace zenith::deviceplugin::sysfs
