#include "zenith/deviceplugin/resource_manager.h"

#include <algorithm>
#include <set>

#include "zenith/deviceplugin/sysfs.h"

namespace zenith::deviceplugin {
namespace {

std::string JoinIds(const std::vector<std::string>& ids, size_t limit = 16) {
  std::string out;
  for (size_t i = 0; i < ids.size() && i < limit; ++i) out += (i ? ", " : "") + ids[i];
  if (ids.size() > limit) out += ", …";
  return out;
}

}  // namespace

ResourceManager::ResourceManager(std::string resource_name, std::vector<DeviceState> devices)
    : resource_name_(std::move(resource_name)), devices_(std::move(devices)) {
  for (size_t i = 0; i < devices_.size(); ++i) {
    position_[devices_[i].id] = i;
    ids_.push_back(devices_[i].id);
  }
}

std::vector<DeviceState> ResourceManager::Devices(uint64_t* version) const {
  std::lock_guard lock(mu_);
  if (version) *version = version_;
  return devices_;
}

int ResourceManager::HealthyCount() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(
      std::count_if(devices_.begin(), devices_.end(), [](const auto& d) { return d.healthy; }));
}

uint64_t ResourceManager::WaitForChange(uint64_t seen, std::chrono::nanoseconds timeout) const {
  std::unique_lock lock(mu_);
  const uint64_t wakes = wakes_;
  changed_.wait_for(lock, timeout, [&] { return version_ != seen || wakes_ != wakes; });
  return version_;
}

void ResourceManager::Wake() const {
  {
    std::lock_guard lock(mu_);
    ++wakes_;
  }
  changed_.notify_all();
}

bool ResourceManager::Has(const std::string& id) const { return position_.count(id) > 0; }

Result<bool> ResourceManager::SetHealthy(const std::string& id, bool healthy,
                                         const std::string& reason) {
  auto it = position_.find(id);
  if (it == position_.end()) return Unknown(id, "health update");
  {
    std::lock_guard lock(mu_);
    DeviceState& d = devices_[it->second];
    if (d.healthy == healthy) {
      if (!healthy) d.reason = reason;
      return false;
    }
    d.healthy = healthy;
    d.reason = healthy ? "" : reason;
    ++version_;
  }
  changed_.notify_all();
  return true;
}

Status ResourceManager::Unknown(const std::string& id, const char* what) const {
  std::vector<std::string> known;
  for (const auto& [k, _] : position_) known.push_back(k);
  return NotFoundError(resource_name_ + " " + what + ": unknown device ID '" + id +
                       "' (this node has: " + JoinIds(known) + ")");
}

Result<std::vector<size_t>> ResourceManager::PositionsOf(const std::vector<std::string>& ids,
                                                         const char* what) const {
  std::vector<size_t> out;
  out.reserve(ids.size());
  for (const std::string& id : ids) {
    auto it = position_.find(id);
    if (it == position_.end()) return Unknown(id, what);
    out.push_back(it->second);
  }
  return out;
}

Result<std::vector<size_t>> ResourceManager::CheckAllocatable(
    const std::vector<std::string>& ids) const {
  if (ids.empty()) {
    return InvalidArgumentError(resource_name_ + " Allocate: a container asked for no devices");
  }
  std::set<std::string> seen;
  for (const std::string& id : ids) {
    if (!seen.insert(id).second) {
      return InvalidArgumentError(resource_name_ + " Allocate: device ID '" + id +
                                  "' is listed twice");
    }
  }
  ZENITH_ASSIGN_OR_RETURN(auto positions, PositionsOf(ids, "Allocate"));
  std::lock_guard lock(mu_);
  for (size_t p : positions) {
    const DeviceState& d = devices_[p];
    if (!d.healthy) {
      return FailedPreconditionError(resource_name_ + " Allocate: device '" + d.id +
                                     "' is Unhealthy" +
                                     (d.reason.empty() ? "" : " (" + d.reason + ")"));
    }
  }
  return positions;
}

// --- GPUs ---------------------------------------------------------------------------------

Result<std::unique_ptr<GpuResourceManager>> GpuResourceManager::Create(const NodeTopology& topology,
                                                                       const Options& options) {
  ZENITH_ASSIGN_OR_RETURN(auto chooser, GpuSetChooser::Create(topology));
  std::vector<DeviceState> devices;
  std::vector<int> index;
  for (const Gpu& g : topology.gpus) {
    if (g.uuid.empty()) {
      return InvalidArgumentError("GPU " + std::to_string(g.index) +
                                  " has no UUID; the device plugin advertises GPUs by UUID");
    }
    devices.push_back({g.uuid, g.healthy, g.numa_node, g.healthy ? "" : "unhealthy at discovery"});
    index.push_back(g.index);
  }
  return std::unique_ptr<GpuResourceManager>(
      new GpuResourceManager(options.resource_name, std::move(devices), std::move(chooser),
                             std::move(index), options.cdi, options.cdi_kind));
}

GpuResourceManager::GpuResourceManager(std::string resource_name, std::vector<DeviceState> devices,
                                       GpuSetChooser chooser, std::vector<int> index, bool cdi,
                                       std::string cdi_kind)
    : ResourceManager(std::move(resource_name), std::move(devices)),
      chooser_(std::move(chooser)),
      index_(std::move(index)),
      cdi_(cdi),
      cdi_kind_(std::move(cdi_kind)) {
  for (size_t i = 0; i < index_.size(); ++i) position_of_[index_[i]] = i;
}

Result<std::vector<std::string>> GpuResourceManager::Preferred(
    const std::vector<std::string>& available, const std::vector<std::string>& must_include,
    int size) const {
  ZENITH_ASSIGN_OR_RETURN(auto avail, PositionsOf(available, "GetPreferredAllocation available"));
  ZENITH_ASSIGN_OR_RETURN(auto must,
                          PositionsOf(must_include, "GetPreferredAllocation must_include"));
  GpuSetRequest request;
  request.size = size;
  for (size_t p : avail) request.available.push_back(index_[p]);
  for (size_t p : must) request.must_include.push_back(index_[p]);
  auto chosen = chooser_.Choose(request);
  if (!chosen.ok()) return chosen.status().WithContext(resource_name() + " GetPreferredAllocation");
  std::vector<std::string> ids;
  for (int gpu : chosen->gpus) ids.push_back(IdAt(position_of_.at(gpu)));
  return ids;
}

Result<ContainerAllocation> GpuResourceManager::Allocate(
    const std::vector<std::string>& ids) const {
  ZENITH_ASSIGN_OR_RETURN(auto positions, CheckAllocatable(ids));
  // Ascending GPU index, so CUDA's device order in the container follows the driver's.
  std::sort(positions.begin(), positions.end(),
            [&](size_t a, size_t b) { return index_[a] < index_[b]; });
  ContainerAllocation out;
  std::string visible;
  for (size_t p : positions) {
    const std::string& uuid = IdAt(p);
    visible += (visible.empty() ? "" : ",") + uuid;
    const std::string node = "/dev/nvidia" + std::to_string(index_[p]);
    out.devices.push_back({node, node, "rw"});
    if (cdi_) out.cdi_devices.push_back(cdi_kind_ + "=" + uuid);
  }
  // UUIDs in both: they name the same GPUs whatever order the container's runtime enumerates.
  out.envs["NVIDIA_VISIBLE_DEVICES"] = visible;
  out.envs["CUDA_VISIBLE_DEVICES"] = visible;
  for (const char* node : {"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"}) {
    out.devices.push_back({node, node, "rw"});
  }
  return out;
}

// --- RDMA NICs ----------------------------------------------------------------------------

Result<std::unique_ptr<RdmaResourceManager>> RdmaResourceManager::Create(
    const NodeTopology& topology, const Options& options) {
  std::vector<DeviceState> devices;
  std::vector<std::string> uverbs;
  for (const Nic& n : topology.nics) {
    if (!n.rdma) continue;
    devices.push_back({n.name, true, n.numa_node, ""});
    uverbs.push_back(sysfs::ReadUverbsDevice(options.sysfs_root, n.name));
  }
  if (devices.empty()) return NotFoundError("the topology has no RDMA NIC");
  return std::unique_ptr<RdmaResourceManager>(
      new RdmaResourceManager(options.rdma_resource_name, std::move(devices), std::move(uverbs)));
}

RdmaResourceManager::RdmaResourceManager(std::string resource_name,
                                         std::vector<DeviceState> devices,
                                         std::vector<std::string> uverbs)
    : ResourceManager(std::move(resource_name), std::move(devices)), uverbs_(std::move(uverbs)) {}

Result<std::vector<std::string>> RdmaResourceManager::Preferred(
    const std::vector<std::string>& available, const std::vector<std::string>& must_include,
    int size) const {
  ZENITH_ASSIGN_OR_RETURN(auto avail, PositionsOf(available, "GetPreferredAllocation available"));
  ZENITH_ASSIGN_OR_RETURN(auto must,
                          PositionsOf(must_include, "GetPreferredAllocation must_include"));
  if (size < 1 || static_cast<size_t>(size) > avail.size() ||
      must.size() > static_cast<size_t>(size)) {
    return InvalidArgumentError(resource_name() + " GetPreferredAllocation: cannot choose " +
                                std::to_string(size) + " of " + std::to_string(avail.size()) +
                                " available devices with " + std::to_string(must.size()) +
                                " required");
  }
  const auto devices = Devices();
  std::set<int> must_numa;
  std::vector<std::string> out;
  for (size_t p : must) {
    must_numa.insert(devices[p].numa_node);
    out.push_back(devices[p].id);
  }
  std::vector<size_t> rest;
  for (size_t p : avail) {
    if (std::find(must.begin(), must.end(), p) == must.end()) rest.push_back(p);
  }
  std::stable_sort(rest.begin(), rest.end(), [&](size_t a, size_t b) {
    const bool la = must_numa.count(devices[a].numa_node) > 0;
    const bool lb = must_numa.count(devices[b].numa_node) > 0;
    if (la != lb) return la;
    return devices[a].id < devices[b].id;
  });
  for (size_t i = 0; out.size() < static_cast<size_t>(size) && i < rest.size(); ++i) {
    out.push_back(devices[rest[i]].id);
  }
  return out;
}

Result<ContainerAllocation> RdmaResourceManager::Allocate(
    const std::vector<std::string>& ids) const {
  ZENITH_ASSIGN_OR_RETURN(auto positions, CheckAllocatable(ids));
  ContainerAllocation out;
  std::string hcas;
  for (size_t p : positions) {
    hcas += (hcas.empty() ? "" : ",") + IdAt(p);
    if (!uverbs_[p].empty()) {
      const std::string node = "/dev/infiniband/" + uverbs_[p];
      out.devices.push_back({node, node, "rw"});
    }
  }
  out.devices.push_back({"/dev/infiniband/rdma_cm", "/dev/infiniband/rdma_cm", "rw"});
  out.envs["NCCL_IB_HCA"] = hcas;
  return out;
}

}  // namespace zenith::deviceplugin
