// The devices one extended resource advertises, with their health, and the answers the kubelet
// asks for (preferred set, allocation). Knows nothing of gRPC: the server translates. Health
// changes come from health checkers through SetHealthy and wake every ListAndWatch waiter.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "zenith/common/status.h"
#include "zenith/deviceplugin/gpu_set.h"
#include "zenith/deviceplugin/options.h"
#include "zenith/deviceplugin/topology.h"

namespace zenith::deviceplugin {

inline constexpr const char* kHealthy = "Healthy";
inline constexpr const char* kUnhealthy = "Unhealthy";

struct DeviceState {
  std::string id;
  bool healthy = true;
  int numa_node = -1;  // -1: unknown, advertised without TopologyInfo
  std::string reason;  // why it is Unhealthy, for logs and errors

  friend bool operator==(const DeviceState&, const DeviceState&) = default;
};

// What one container gets: the v1beta1 ContainerAllocateResponse, without gRPC types.
struct DeviceNode {
  std::string container_path;
  std::string host_path;
  std::string permissions = "rw";
};
struct ContainerAllocation {
  std::map<std::string, std::string> envs;
  std::vector<DeviceNode> devices;
  std::vector<std::string> cdi_devices;  // fully qualified CDI names
};

class ResourceManager {
 public:
  virtual ~ResourceManager() = default;
  ResourceManager(const ResourceManager&) = delete;
  ResourceManager& operator=(const ResourceManager&) = delete;

  const std::string& resource_name() const { return resource_name_; }

  // A snapshot of the devices, in advertising order, and the version it belongs to.
  std::vector<DeviceState> Devices(uint64_t* version = nullptr) const;
  int HealthyCount() const;
  // Blocks until the version differs from `seen`, Wake() is called, or `timeout` passes;
  // returns the current version.
  uint64_t WaitForChange(uint64_t seen, std::chrono::nanoseconds timeout) const;
  // Wakes every waiter (server shutdown).
  void Wake() const;

  // Marks a device; bumps the version only when its health changes. Returns whether it did.
  // NOT_FOUND naming the ID for a device this resource does not have.
  Result<bool> SetHealthy(const std::string& id, bool healthy, const std::string& reason = "");
  bool Has(const std::string& id) const;

  // GetPreferredAllocation for one container. `available` and `must_include` are device IDs.
  virtual Result<std::vector<std::string>> Preferred(const std::vector<std::string>& available,
                                                     const std::vector<std::string>& must_include,
                                                     int size) const = 0;
  // Allocate for one container. INVALID_ARGUMENT for an empty or repeated ID, NOT_FOUND for an
  // unknown one, FAILED_PRECONDITION for an Unhealthy one; each message names the ID.
  virtual Result<ContainerAllocation> Allocate(const std::vector<std::string>& ids) const = 0;

 protected:
  ResourceManager(std::string resource_name, std::vector<DeviceState> devices);
  // The checks Allocate shares; returns device positions in request order.
  Result<std::vector<size_t>> CheckAllocatable(const std::vector<std::string>& ids) const;
  // Positions of IDs; NOT_FOUND naming the first unknown one, `what` says which list it was in.
  Result<std::vector<size_t>> PositionsOf(const std::vector<std::string>& ids,
                                          const char* what) const;
  Status Unknown(const std::string& id, const char* what) const;
  // Device IDs never change after construction, so they are read without the lock.
  const std::string& IdAt(size_t position) const { return ids_[position]; }

 private:
  std::string resource_name_;
  std::vector<std::string> ids_;
  std::map<std::string, size_t> position_;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::vector<DeviceState> devices_;  // guarded by mu_
  uint64_t version_ = 1;              // guarded by mu_
  mutable uint64_t wakes_ = 0;        // guarded by mu_
};

// zenith.ai/gpu: one device per GPU, ID = GPU UUID. Preferred sets come from GpuSetChooser (the
// scheduler's scoring); Allocate returns the NVIDIA env vars, /dev nodes and optional CDI names.
class GpuResourceManager final : public ResourceManager {
 public:
  static Result<std::unique_ptr<GpuResourceManager>> Create(const NodeTopology& topology,
                                                            const Options& options);

  Result<std::vector<std::string>> Preferred(const std::vector<std::string>& available,
                                             const std::vector<std::string>& must_include,
                                             int size) const override;
  Result<ContainerAllocation> Allocate(const std::vector<std::string>& ids) const override;

  // GPU index of a device position (same order as Devices()).
  int IndexAt(size_t position) const { return index_[position]; }

 private:
  GpuResourceManager(std::string resource_name, std::vector<DeviceState> devices,
                     GpuSetChooser chooser, std::vector<int> index, bool cdi, std::string cdi_kind);
  GpuSetChooser chooser_;
  std::vector<int> index_;             // position → GPU index
  std::map<int, size_t> position_of_;  // GPU index → position
  bool cdi_;
  std::string cdi_kind_;
};

// zenith.ai/rdma: one device per RDMA NIC, ID = NIC name. Preferred: the must-include NICs, then
// NICs on their NUMA node, then the rest, by name. Allocate returns the verbs device nodes
// (found under sysfs), rdma_cm, and NCCL_IB_HCA naming the NICs.
class RdmaResourceManager final : public ResourceManager {
 public:
  // NOT_FOUND when the topology has no RDMA NIC (then the resource is not advertised).
  static Result<std::unique_ptr<RdmaResourceManager>> Create(const NodeTopology& topology,
                                                             const Options& options);

  Result<std::vector<std::string>> Preferred(const std::vector<std::string>& available,
                                             const std::vector<std::string>& must_include,
                                             int size) const override;
  Result<ContainerAllocation> Allocate(const std::vector<std::string>& ids) const override;

 private:
  RdmaResourceManager(std::string resource_name, std::vector<DeviceState> devices,
                      std::vector<std::string> uverbs);
  std::vector<std::string> uverbs_;  // by position: "uverbs3", or "" when sysfs does not say
};

}  // namespace zenith::deviceplugin
