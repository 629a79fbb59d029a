// What Linux sysfs says about NUMA nodes, PCI device locality and RDMA devices: the facts the
// NVML and hwloc backends share. The root is injected ("/sys" in production) so tests build a
// fake tree; a missing file is "unknown", never an error, because containers hide parts of it.
#pragma once

#include <string>
#include <vector>

#include "zenith/deviceplugin/topology.h"

namespace zenith::deviceplugin::sysfs {

// <root>/devices/system/node/node<N>/cpulist, sorted by id. Empty when the tree is absent.
std::vector<NumaNode> ReadNumaNodes(const std::string& root);

// <root>/bus/pci/devices/<bus id>/numa_node; -1 when unknown.
int ReadPciNumaNode(const std::string& root, const std::string& pci_bus_id);

// <root>/bus/pci/devices/<bus id>/local_cpulist; empty when unknown.
std::vector<int> ReadPciLocalCpus(const std::string& root, const std::string& pci_bus_id);

// RDMA devices: <root>/class/infiniband/<name>/device → the PCI function, with its NUMA node.
// Sorted by name.
std::vector<Nic> ReadRdmaNics(const std::string& root);

// The verbs character device of an RDMA device: the "uverbsN" entry of
// <root>/class/infiniband/<name>/device/infiniband_verbs/, or "" when absent.
std::string ReadUverbsDevice(const std::string& root, const std::string& rdma_name);

}  // namespace zenith::deviceplugin::sysfs
