// The hwloc backend is a view of the runtime's machine topology (zenith::runtime::Topology),
// which owns every hwloc call in Zenith: NVIDIA display/3D functions become GPUs, RDMA NICs come
// from sysfs with their NUMA node from the same topology.
#include "zenith/deviceplugin/hwloc_discovery.h"

#include <algorithm>
#include <cstdio>

#include "zenith/deviceplugin/sysfs.h"
#include "zenith/runtime/topology.h"

namespace zenith::deviceplugin {

Result<NodeTopology> HwlocDiscovery::Discover() {
  auto machine = runtime::DiscoverTopology();
  if (!machine.ok()) return machine.status().WithContext("discovery backend 'hwloc'");
  if (machine->source.rfind("hwloc", 0) != 0) {
    return UnavailableError(
        "discovery backend 'hwloc': this build has no hwloc (install libhwloc-dev and "
        "reconfigure)");
  }
  NodeTopology t;
  t.source = "hwloc";
  for (const auto& node : machine->numa_nodes) t.numa_nodes.push_back({node.os_index, node.cpus});
  std::sort(t.numa_nodes.begin(), t.numa_nodes.end(),
            [](const NumaNode& a, const NumaNode& b) { return a.id < b.id; });

  for (const runtime::Topology::PciDevice* pci : machine->Gpus()) {
    Gpu g;
    g.pci_bus_id = pci->bus_id;
    char name[64];
    std::snprintf(name, sizeof name, "NVIDIA PCI device %04x:%04x", pci->vendor_id, pci->device_id);
    g.name = name;
    // sysfs first: some VMs give hwloc no locality while the kernel knows it.
    g.numa_node = sysfs::ReadPciNumaNode(sysfs_root_, g.pci_bus_id);
    if (g.numa_node < 0) g.numa_node = pci->numa_node;
    g.cpus = machine->CpusOfNode(g.numa_node);
    t.gpus.push_back(std::move(g));
  }
  // The driver numbers GPUs in PCI bus order; do the same so indices match nvidia-smi.
  std::sort(t.gpus.begin(), t.gpus.end(),
            [](const Gpu& a, const Gpu& b) { return a.pci_bus_id < b.pci_bus_id; });
  for (size_t i = 0; i < t.gpus.size(); ++i) t.gpus[i].index = static_cast<int>(i);
  ResetNvlinkMatrix(t);

  t.nics = sysfs::ReadRdmaNics(sysfs_root_);
  for (Nic& nic : t.nics) {
    if (nic.numa_node >= 0) continue;
    for (const auto& pci : machine->pci_devices) {
      if (pci.bus_id == nic.pci_bus_id) nic.numa_node = pci.numa_node;
    }
  }
  Status valid = ValidateTopology(t);
  if (!valid.ok()) return valid.WithContext("hwloc discovery");
  return t;
}

}  // namespace zenith::deviceplugin
