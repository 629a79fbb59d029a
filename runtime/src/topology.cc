#include "zenith/runtime/topology.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string_view>

#ifdef ZENITH_HAVE_HWLOC
#include <hwloc.h>
#endif

namespace zenith::runtime {

std::vector<const Topology::PciDevice*> Topology::Gpus() const {
  std::vector<const PciDevice*> out;
  for (const auto& d : pci_devices) {
    if (d.kind == "gpu") out.push_back(&d);
  }
  return out;
}

std::vector<const Topology::PciDevice*> Topology::Nics() const {
  std::vector<const PciDevice*> out;
  for (const auto& d : pci_devices) {
    if (d.kind == "nic") out.push_back(&d);
  }
  return out;
}

std::vector<int> Topology::CpusOfNode(int numa_node) const {
  for (const auto& n : numa_nodes) {
    if (n.os_index == numa_node) return n.cpus;
  }
  return pus;
}

namespace {

std::string PciKind(uint16_t vendor, uint16_t class_id) {
  const int base_class = class_id >> 8;
  if (vendor == kNvidiaVendorId && base_class == 0x03) return "gpu";  // display / 3D
  if (base_class == 0x02) return "nic";  // network: Ethernet, InfiniBand, ...
  return "other";
}

// The PCI classes hwloc's HWLOC_TYPE_FILTER_KEEP_IMPORTANT keeps as PCI devices (plugins.h),
// less bridges (base class 0x06), which hwloc drops when nothing non-PCI hangs below them.
bool ImportantPciClass(uint16_t class_id) {
  const int base = class_id >> 8;
  return base == 0x00 || base == 0x01 || base == 0x02 || base == 0x03 || base == 0x0b ||
         base == 0x12 || class_id == 0x0c04 || class_id == 0x0c06 || class_id == 0x0502;
}

// A small sysfs attribute ("0x10de\n", "-1\n"), read with one open and one read; "" when absent.
std::string ReadAttribute(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[64];
  const ssize_t n = ::read(fd, buf, sizeof(buf));
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

long ParseNumber(const std::string& text, long fallback) {
  if (text.empty()) return fallback;
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 0);  // base 0: "0x10de" and "-1" alike
  return end == text.c_str() ? fallback : v;
}

// "0000:3b:00.0": domain:bus:device.function in hex.
bool IsPciBusId(std::string_view s) {
  auto hex = [&](std::size_t from, std::size_t to) {
    return std::all_of(s.begin() + from, s.begin() + to,
                       [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
  };
  const auto colon = s.find(':');
  return colon != std::string_view::npos && colon >= 4 && s.size() == colon + 8 &&
         s[colon + 3] == ':' && s[colon + 6] == '.' && hex(0, colon) && hex(colon + 1, colon + 3) &&
         hex(colon + 4, colon + 6) && hex(colon + 7, colon + 8);
}

// OS device names of PCI devices, as hwloc names its OS devices: network interfaces, block
// devices (not partitions), InfiniBand/RDMA devices and DRM cards. Each class entry is a
// symlink into /sys/devices whose last PCI component is the device it belongs to.
std::map<std::string, std::vector<std::string>> OsDeviceNames(const std::string& root) {
  namespace fs = std::filesystem;
  std::map<std::string, std::vector<std::string>> names;
  for (const char* cls : {"net", "block", "infiniband", "drm"}) {
    std::error_code ec;
    for (fs::directory_iterator it(fs::path(root) / "class" / cls, ec), end; !ec && it != end;
         it.increment(ec)) {
      const std::string name = it->path().filename().string();
      // DRM: cards and render nodes, not their connectors ("card0-DP-1") or "version".
      if (std::string_view(cls) == "drm" &&
          (!(name.rfind("card", 0) == 0 || name.rfind("renderD", 0) == 0) ||
           name.find('-') != std::string::npos)) {
        continue;
      }
      std::error_code link_ec;
      const fs::path target = fs::read_symlink(it->path(), link_ec);
      if (link_ec) continue;
      if (std::string_view(cls) == "block" &&
          ::access((it->path() / "partition").c_str(), F_OK) == 0) {
        continue;
      }
      std::string bus_id;
      for (const auto& part : target) {
        if (IsPciBusId(part.string())) bus_id = part.string();  // the nearest one wins
      }
      if (!bus_id.empty()) names[bus_id].push_back(name);
    }
  }
  return names;
}

// PCI devices from sysfs. class, vendor, device and numa_node are attributes the kernel keeps
// in memory; hwloc's PCI discovery also reads each device's config space, which a hypervisor
// traps (about 1.4 ms per device on the 2-vCPU VM, 9 of hwloc's 11 ms).
std::vector<Topology::PciDevice> PciDevicesFromSysfs(const std::string& root,
                                                     std::size_t numa_nodes) {
  namespace fs = std::filesystem;
  std::vector<Topology::PciDevice> out;
  std::error_code ec;
  const fs::path dir = fs::path(root) / "bus/pci/devices";
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string bus_id = it->path().filename().string();
    const std::string base = it->path().string() + "/";
    const long cls = ParseNumber(ReadAttribute(base + "class"), -1);  // 0xCCSSPP
    if (cls < 0 || !ImportantPciClass(static_cast<uint16_t>(cls >> 8))) continue;
    Topology::PciDevice dev;
    dev.bus_id = bus_id;
    dev.class_id = static_cast<uint16_t>(cls >> 8);
    dev.vendor_id = static_cast<uint16_t>(ParseNumber(ReadAttribute(base + "vendor"), 0));
    dev.device_id = static_cast<uint16_t>(ParseNumber(ReadAttribute(base + "device"), 0));
    dev.kind = PciKind(dev.vendor_id, dev.class_id);
    // -1 from the kernel: no affinity reported. On a one-node machine that node is the
    // device's, as hwloc says too; on several nodes it stays unknown.
    dev.numa_node = static_cast<int>(ParseNumber(ReadAttribute(base + "numa_node"), -1));
    if (dev.numa_node < 0 && numa_nodes == 1) dev.numa_node = 0;
    out.push_back(std::move(dev));
  }
  if (out.empty()) return out;
  auto names = OsDeviceNames(root);
  for (auto& dev : out) {
    auto it = names.find(dev.bus_id);
    if (it == names.end()) continue;
    std::sort(it->second.begin(), it->second.end());
    for (const auto& n : it->second) dev.name += (dev.name.empty() ? "" : ",") + n;
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.bus_id < b.bus_id; });
  return out;
}

#ifdef ZENITH_HAVE_HWLOC
std::vector<int> CpusOf(hwloc_const_bitmap_t set) {
  std::vector<int> cpus;
  if (set == nullptr) return cpus;
  unsigned i;
  hwloc_bitmap_foreach_begin(i, set) { cpus.push_back(static_cast<int>(i)); }
  hwloc_bitmap_foreach_end();
  return cpus;
}

Result<Topology> DiscoverWithHwloc(const TopologyOptions& options) {
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0) return InternalError("hwloc: topology init failed");
  struct Closer {
    hwloc_topology_t t;
    ~Closer() { hwloc_topology_destroy(t); }
  } closer{topo};
  if (!options.synthetic.empty() &&
      hwloc_topology_set_synthetic(topo, options.synthetic.c_str()) != 0) {
    return InvalidArgumentError("hwloc: bad synthetic topology '" + options.synthetic + "'");
  }
  // hwloc discovers CPUs, caches and memory only (its default keeps no I/O objects); PCI
  // devices come from sysfs below, without hwloc's config-space reads.
  if (hwloc_topology_load(topo) != 0) return InternalError("hwloc: topology load failed");

  Topology t;
  t.source = options.synthetic.empty() ? "hwloc" : "hwloc-synthetic";
  t.packages = std::max(1, hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE));
  const int nodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < nodes; ++i) {
    hwloc_obj_t n = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, i);
    t.numa_nodes.push_back(
        {static_cast<int>(n->os_index), n->attr->numanode.local_memory, CpusOf(n->cpuset)});
  }
  const int cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  for (int i = 0; i < cores; ++i) {
    hwloc_obj_t c = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, i);
    Topology::Core core;
    core.os_index = static_cast<int>(c->os_index == HWLOC_UNKNOWN_INDEX ? i : c->os_index);
    hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, c);
    core.package = pkg ? static_cast<int>(pkg->logical_index) : 0;
    if (c->nodeset && hwloc_bitmap_weight(c->nodeset) == 1) {
      core.numa_node = hwloc_bitmap_first(c->nodeset);
    }
    core.pus = CpusOf(c->cpuset);
    t.cores.push_back(std::move(core));
  }
  t.pus = CpusOf(hwloc_topology_get_topology_cpuset(topo));
  for (int type = HWLOC_OBJ_TYPE_MIN; type < HWLOC_OBJ_TYPE_MAX; ++type) {
    auto ty = static_cast<hwloc_obj_type_t>(type);
    if (!hwloc_obj_type_is_cache(ty)) continue;
    const int count = hwloc_get_nbobjs_by_type(topo, ty);
    for (int i = 0; i < count; ++i) {
      hwloc_obj_t c = hwloc_get_obj_by_type(topo, ty, i);
      Topology::Cache cache;
      cache.level = static_cast<int>(c->attr->cache.depth);
      cache.type = c->attr->cache.type == HWLOC_OBJ_CACHE_DATA          ? "data"
                   : c->attr->cache.type == HWLOC_OBJ_CACHE_INSTRUCTION ? "instruction"
                                                                        : "unified";
      cache.bytes = c->attr->cache.size;
      cache.line_bytes = static_cast<int>(c->attr->cache.linesize);
      cache.cpus = CpusOf(c->cpuset);
      t.caches.push_back(std::move(cache));
    }
  }
  if (options.io_devices && options.synthetic.empty()) {
    t.pci_devices = PciDevicesFromSysfs(options.sysfs_root, t.numa_nodes.size());
  }
  return t;
}
#endif

#ifndef ZENITH_HAVE_HWLOC
Topology DiscoverWithSysconf(const TopologyOptions& options) {
  Topology t;
  t.source = "sysconf";
  t.packages = 1;
  const long n = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  Topology::NumaNode node;
  node.memory_bytes =
      static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  for (int i = 0; i < n; ++i) {
    t.pus.push_back(i);
    node.cpus.push_back(i);
    t.cores.push_back({i, 0, 0, {i}});
  }
  t.numa_nodes.push_back(std::move(node));
  if (options.io_devices) t.pci_devices = PciDevicesFromSysfs(options.sysfs_root, 1);
  return t;
}

#endif

}  // namespace

Result<Topology> DiscoverTopology(const TopologyOptions& options) {
#ifdef ZENITH_HAVE_HWLOC
  return DiscoverWithHwloc(options);
#else
  if (!options.synthetic.empty()) {
    return UnimplementedError("synthetic topology '" + options.synthetic + "' needs hwloc");
  }
  return DiscoverWithSysconf(options);
#endif
}

std::string TopologyCache::Fingerprint() const {
  if (!options_.synthetic.empty()) return options_.synthetic;  // a description never changes
  namespace fs = std::filesystem;
  const std::string& root = options_.sysfs_root;
  std::string f = ReadAttribute(root + "/devices/system/cpu/online") + "|" +
                  ReadAttribute(root + "/devices/system/node/online") + "|";
  if (options_.io_devices) {
    // Names only (one getdents each): a device added or removed, an interface renamed.
    for (const char* dir : {"/bus/pci/devices", "/class/net"}) {
      std::vector<std::string> names;
      std::error_code ec;
      for (fs::directory_iterator it(root + dir, ec), end; !ec && it != end; it.increment(ec)) {
        names.push_back(it->path().filename().string());
      }
      std::sort(names.begin(), names.end());
      for (const auto& n : names) f += n + ",";
      f += "|";
    }
  }
  return f;
}

Result<Topology> TopologyCache::Get() {
  std::string now = Fingerprint();
  if (topology_.has_value() && now == fingerprint_) return *topology_;
  auto t = DiscoverTopology(options_);
  if (!t.ok()) return t.status();
  ++discoveries_;
  topology_ = *t;
  fingerprint_ = std::move(now);
  return t;
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Topology::NumaNode, os_index, memory_bytes, cpus)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Topology::Core, os_index, package, numa_node, pus)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Topology::Cache, level, type, bytes, line_bytes, cpus)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Topology::PciDevice, bus_id, vendor_id, device_id, class_id,
                                   kind, numa_node, name)

void to_json(nlohmann::json& j, const Topology& t) {
  j = nlohmann::json{
      {"packages", t.packages}, {"numa_nodes", t.numa_nodes},   {"cores", t.cores},  {"pus", t.pus},
      {"caches", t.caches},     {"pci_devices", t.pci_devices}, {"source", t.source}};
}

void from_json(const nlohmann::json& j, Topology& t) {
  j.at("packages").get_to(t.packages);
  j.at("numa_nodes").get_to(t.numa_nodes);
  j.at("cores").get_to(t.cores);
  j.at("pus").get_to(t.pus);
  j.at("caches").get_to(t.caches);
  j.at("pci_devices").get_to(t.pci_devices);
  j.at("source").get_to(t.source);
}

Result<Topology> TopologyFromJson(const std::string& text) {
  // nlohmann throws; the exception stops here and becomes a Status naming the bad key.
  try {
    return nlohmann::json::parse(text).get<Topology>();
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgumentError(std::string("topology JSON: ") + e.what());
  }
}

}  // namespace zenith::runtime
