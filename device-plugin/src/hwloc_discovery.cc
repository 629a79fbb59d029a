#include "zenith/deviceplugin/hwloc_discovery.h"

#include <algorithm>
#include <cstdio>

#include "zenith/deviceplugin/pci.h"
#include "zenith/deviceplugin/sysfs.h"

#ifdef ZENITH_HAVE_HWLOC
#include <hwloc.h>
#endif

namespace zenith::deviceplugin {

#ifndef ZENITH_HAVE_HWLOC

Result<NodeTopology> HwlocDiscovery::Discover() {
  return UnavailableError(
      "discovery backend 'hwloc': this build has no hwloc (install "
      "libhwloc-dev and reconfigure)");
}

#else

namespace {

constexpr unsigned kNvidiaVendor = 0x10de;
constexpr unsigned kDisplayClass = 0x03;  // PCI base class: VGA (0x0300) and 3D (0x0302)

std::vector<int> Bits(hwloc_const_bitmap_t set) {
  std::vector<int> out;
  if (set == nullptr || hwloc_bitmap_iszero(set)) return out;
  for (int id = hwloc_bitmap_first(set); id >= 0; id = hwloc_bitmap_next(set, id)) {
    out.push_back(id);
  }
  return out;
}

std::string BusIdOf(const hwloc_obj_t pci) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04x:%02x:%02x.%x", pci->attr->pcidev.domain,
                pci->attr->pcidev.bus, pci->attr->pcidev.dev, pci->attr->pcidev.func);
  return buf;
}

// hwloc_topology_t with its destroy on every path.
class Topology {
 public:
  ~Topology() {
    if (initialised_) hwloc_topology_destroy(topo_);
  }
  Status Load() {
    if (hwloc_topology_init(&topo_) != 0) return InternalError("hwloc_topology_init failed");
    initialised_ = true;
    // GPUs and NICs are "important" I/O devices; bridges and the rest are not needed.
    hwloc_topology_set_io_types_filter(topo_, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    if (hwloc_topology_load(topo_) != 0) return InternalError("hwloc_topology_load failed");
    return Status::Ok();
  }
  hwloc_topology_t get() const { return topo_; }

 private:
  hwloc_topology_t topo_ = nullptr;
  bool initialised_ = false;
};

}  // namespace

Result<NodeTopology> HwlocDiscovery::Discover() {
  Topology topo;
  ZENITH_RETURN_IF_ERROR(topo.Load());
  NodeTopology t;
  t.source = "hwloc";

  const int numa_count = hwloc_get_nbobjs_by_type(topo.get(), HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < numa_count; ++i) {
    hwloc_obj_t node = hwloc_get_obj_by_type(topo.get(), HWLOC_OBJ_NUMANODE, i);
    t.numa_nodes.push_back({static_cast<int>(node->os_index), Bits(node->cpuset)});
  }
  std::sort(t.numa_nodes.begin(), t.numa_nodes.end(),
            [](const NumaNode& a, const NumaNode& b) { return a.id < b.id; });

  // Locality of a PCI function: the CPUs and first NUMA node of its nearest non-I/O ancestor.
  auto locate = [&](hwloc_obj_t pci, int& numa, std::vector<int>* cpus) {
    hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(topo.get(), pci);
    if (anc == nullptr) return;
    if (cpus) *cpus = Bits(anc->cpuset);
    if (numa < 0 && anc->nodeset && !hwloc_bitmap_iszero(anc->nodeset) && numa_count > 0) {
      numa = hwloc_bitmap_first(anc->nodeset);
    }
  };

  for (hwloc_obj_t pci = hwloc_get_next_pcidev(topo.get(), nullptr); pci != nullptr;
       pci = hwloc_get_next_pcidev(topo.get(), pci)) {
    const auto& attr = pci->attr->pcidev;
    if (attr.vendor_id != kNvidiaVendor || (attr.class_id >> 8) != kDisplayClass) continue;
    Gpu g;
    g.pci_bus_id = BusIdOf(pci);
    char name[64];
    std::snprintf(name, sizeof(name), "NVIDIA PCI device %04x:%04x", attr.vendor_id,
                  attr.device_id);
    g.name = pci->name ? pci->name : name;
    g.numa_node = sysfs::ReadPciNumaNode(sysfs_root_, g.pci_bus_id);
    locate(pci, g.numa_node, &g.cpus);
    t.gpus.push_back(std::move(g));
  }
  // The driver numbers GPUs in PCI bus order; do the same so indices match nvidia-smi.
  std::sort(t.gpus.begin(), t.gpus.end(),
            [](const Gpu& a, const Gpu& b) { return a.pci_bus_id < b.pci_bus_id; });
  for (size_t i = 0; i < t.gpus.size(); ++i) t.gpus[i].index = static_cast<int>(i);
  ResetNvlinkMatrix(t);

  t.nics = sysfs::ReadRdmaNics(sysfs_root_);
  for (Nic& nic : t.nics) {
    if (nic.numa_node >= 0 || nic.pci_bus_id.empty()) continue;
    unsigned domain = 0, bus = 0, dev = 0, func = 0;
    if (std::sscanf(nic.pci_bus_id.c_str(), "%x:%x:%x.%x", &domain, &bus, &dev, &func) == 4) {
      hwloc_obj_t pci = hwloc_get_pcidev_by_busid(topo.get(), domain, bus, dev, func);
      if (pci) locate(pci, nic.numa_node, nullptr);
    }
  }
  Status valid = ValidateTopology(t);
  if (!valid.ok()) return valid.WithContext("hwloc discovery");
  return t;
}

#endif  // ZENITH_HAVE_HWLOC

}  // namespace zenith::deviceplugin
