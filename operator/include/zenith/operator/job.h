// The ZenithJob model: the custom object's JSON turned into a typed spec the controller and the
// scheduler read, with defaults applied as the CRD applies them. Parsing never throws; an error
// names the job and the field ("zenithjob ns/x: spec.replicas: must be at least 1").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "zenith/common/status.h"
#include "zenith/kube/client.h"

namespace zenith::operator_ {

using Json = kube::Json;

inline constexpr const char* kGroup = "zenith.ai";
inline constexpr const char* kVersion = "v1alpha1";
inline constexpr const char* kKind = "ZenithJob";

kube::GroupVersionResource ZenithJobs();

// j[key] when j is an object that has it, else an empty object: a reference, never a copy, so
// reading a field deep in a cached object costs nothing (Json::value would copy the subtree).
const Json& Child(const Json& j, const char* key);

struct TopologySpec {
  std::string nvlink = "Preferred";  // Required, Preferred, None
  bool numa_aligned = true;
  std::string placement = "Pack";  // Pack, Spread
  std::string same_node_label;
  std::vector<std::string> preferred_nodes;
  std::vector<std::string> excluded_nodes;
  std::string gpu_model;
  std::string min_gpu_memory;  // a quantity, as written
  bool rdma = false;
};

struct SchedulingSpec {
  std::string queue = "default";
  int32_t priority = 0;
  bool preemptible = false;
  std::optional<int64_t> max_wait_seconds;
};

struct RunPolicy {
  int32_t max_retries = 3;
  int32_t backoff_seconds = 10;
  std::optional<int64_t> active_deadline_seconds;
  std::optional<int32_t> ttl_seconds_after_finished;
  bool suspend = false;
  std::string clean_pod_policy = "Running";  // All, Running, None
};

struct DataPlaneSpec {
  std::string source;
  std::string format = "auto";
  int32_t batch_size = 32;
  int64_t shuffle_seed = 0;
  int32_t prefetch = 4;
  std::string image;     // empty: the operator's default
  std::string shm_size;  // empty: no size limit on the emptyDir
};

struct JobSpec {
  int32_t replicas = 1;
  int32_t min_available = 1;  // defaults to replicas
  int32_t gpus_per_replica = 0;
  Json template_metadata = Json::object();  // labels, annotations
  Json pod_spec = Json::object();           // the template's spec, passed through
  TopologySpec topology;
  SchedulingSpec scheduling;
  RunPolicy run_policy;
  std::optional<DataPlaneSpec> data_plane;
};

struct ZenithJob {
  std::string ns;
  std::string name;
  std::string uid;
  int64_t generation = 0;
  std::string resource_version;
  bool deleting = false;  // metadata.deletionTimestamp is set
  std::vector<std::string> finalizers;
  std::map<std::string, std::string> annotations;
  JobSpec spec;
  Json status = Json::object();  // as stored; see job_status.h for the typed view

  std::string Key() const { return ns + "/" + name; }
  int64_t TotalGpus() const { return int64_t{spec.replicas} * spec.gpus_per_replica; }
};

// Parses and validates a ZenithJob object (as the API server or an informer returns it).
Result<ZenithJob> ParseZenithJob(const Json& object);

}  // namespace zenith::operator_
