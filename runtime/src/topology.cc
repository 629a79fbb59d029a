#include "zenith/runtime/topology.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

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

#ifdef ZENITH_HAVE_HWLOC
std::vector<int> CpusOf(hwloc_const_bitmap_t set) {
  std::vector<int> cpus;
  if (set == nullptr) return cpus;
  unsigned i;
  hwloc_bitmap_foreach_begin(i, set) { cpus.push_back(static_cast<int>(i)); }
  hwloc_bitmap_foreach_end();
  return cpus;
}

int NodeOf(hwloc_topology_t topo, hwloc_obj_t obj) {
  hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(topo, obj);
  if (anc == nullptr || anc->nodeset == nullptr) return -1;
  // Attached below one node: that node. Below several (e.g. the machine itself): unknown.
  return hwloc_bitmap_weight(anc->nodeset) == 1 ? hwloc_bitmap_first(anc->nodeset) : -1;
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
  if (options.io_devices && options.synthetic.empty()) {
    hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  }
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
  for (hwloc_obj_t d = hwloc_get_next_pcidev(topo, nullptr); d != nullptr;
       d = hwloc_get_next_pcidev(topo, d)) {
    Topology::PciDevice dev;
    char bus[32];
    std::snprintf(bus, sizeof(bus), "%04x:%02x:%02x.%x", d->attr->pcidev.domain,
                  d->attr->pcidev.bus, d->attr->pcidev.dev, d->attr->pcidev.func);
    dev.bus_id = bus;
    dev.vendor_id = d->attr->pcidev.vendor_id;
    dev.device_id = d->attr->pcidev.device_id;
    dev.class_id = d->attr->pcidev.class_id;
    dev.kind = PciKind(dev.vendor_id, dev.class_id);
    dev.numa_node = NodeOf(topo, d);
    for (hwloc_obj_t os = d->io_first_child; os != nullptr; os = os->next_sibling) {
      if (os->type != HWLOC_OBJ_OS_DEVICE || os->name == nullptr) continue;
      dev.name += (dev.name.empty() ? "" : ",") + std::string(os->name);
    }
    t.pci_devices.push_back(std::move(dev));
  }
  return t;
}
#endif

#ifndef ZENITH_HAVE_HWLOC
Topology DiscoverWithSysconf() {
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
  return DiscoverWithSysconf();
#endif
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
