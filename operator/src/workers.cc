#include "zenith/operator/workers.h"

#include <charconv>

namespace zenith::operator_ {

std::string WorkerPodName(const std::string& job, int rank) {
  return job + "-" + std::to_string(rank);
}

std::string MasterAddress(const ZenithJob& job) {
  return WorkerPodName(job.name, 0) + "." + job.name + "." + job.ns + ".svc";
}

Json OwnerReference(const ZenithJob& job) {
  return {{"apiVersion", std::string(kGroup) + "/" + kVersion},
          {"kind", kKind},
          {"name", job.name},
          {"uid", job.uid},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

namespace {

Json EnvVar(const std::string& name, const std::string& value) {
  return {{"name", name}, {"value", value}};
}

// Sets env `name` unless the user's container already defines it (theirs wins).
void SetEnvDefault(Json& container, const Json& var) {
  Json& env = container["env"];
  if (!env.is_array()) env = Json::array();
  for (const auto& e : env)
    if (e.value("name", "") == var["name"]) return;
  env.push_back(var);
}

// Adds the zenith.ai/gpu request and limit (extended resources need both, and equal).
void SetGpus(Json& container, int gpus) {
  Json& res = container["resources"];
  if (!res.is_object()) res = Json::object();
  for (const char* k : {"requests", "limits"}) {
    if (!res[k].is_object()) res[k] = Json::object();
    res[k][kGpuResource] = std::to_string(gpus);
  }
}

std::optional<int> IntLabel(const Json& pod, const char* key) {
  const Json& labels = Child(Child(pod, "metadata"), "labels");
  auto it = labels.find(key);
  if (it == labels.end() || !it->is_string()) return std::nullopt;
  const std::string& s = it->get_ref<const std::string&>();
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Json RuntimeSidecar(const ZenithJob& job, const DataPlaneSpec& dp, const Json& env,
                    const BuildOptions& options) {
  Json args = Json::array({"--source=" + dp.source, "--format=" + dp.format,
                           "--batch-size=" + std::to_string(dp.batch_size),
                           "--shuffle-seed=" + std::to_string(dp.shuffle_seed),
                           "--prefetch=" + std::to_string(dp.prefetch),
                           std::string("--shm-dir=") + kShmMountPath});
  return {{"name", kRuntimeContainer},
          {"image", dp.image.empty() ? options.runtime_image : dp.image},
          // A native sidecar: started before the trainer, kept running beside it, and not
          // counted when the pod's phase is decided.
          {"restartPolicy", "Always"},
          {"args", args},
          {"env", env},
          {"volumeMounts", Json::array({{{"name", kShmVolume}, {"mountPath", kShmMountPath}}})}};
}

}  // namespace

std::optional<int> PodRank(const Json& pod) { return IntLabel(pod, kRankLabel); }
std::optional<int> PodAttempt(const Json& pod) { return IntLabel(pod, kAttemptLabel); }

Json BuildWorkerPod(const ZenithJob& job, int rank, int attempt, const BuildOptions& options) {
  const JobSpec& s = job.spec;
  std::string name = WorkerPodName(job.name, rank);

  Json labels = Child(s.template_metadata, "labels");
  labels[kJobLabel] = job.name;
  labels[kRankLabel] = std::to_string(rank);
  labels[kAttemptLabel] = std::to_string(attempt);
  Json annotations = Child(s.template_metadata, "annotations");
  // The job's own zenith.ai/ annotations reach every worker (a simulated failure on the local
  // control plane, say); others such as kubectl's last-applied configuration stay on the job.
  for (const auto& [k, v] : job.annotations) {
    if (k.rfind("zenith.ai/", 0) == 0 && !annotations.contains(k)) annotations[k] = v;
  }

  Json spec = s.pod_spec;
  spec["schedulerName"] = options.scheduler_name;
  // A worker that exits is handled by the gang policy, never restarted alone in place.
  spec["restartPolicy"] = "Never";
  spec["hostname"] = name;
  spec["subdomain"] = job.name;

  Json env = Json::array(
      {EnvVar("RANK", std::to_string(rank)), EnvVar("WORLD_SIZE", std::to_string(s.replicas)),
       EnvVar("MASTER_ADDR", MasterAddress(job)),
       EnvVar("MASTER_PORT", std::to_string(options.master_port)), EnvVar("ZENITH_JOB", job.name)});
  if (s.data_plane) env.push_back(EnvVar("ZENITH_SHM_DIR", kShmMountPath));

  Json& containers = spec["containers"];
  for (size_t i = 0; i < containers.size(); ++i) {
    Json& c = containers[i];
    for (const auto& var : env) SetEnvDefault(c, var);
    // The GPUs go to the first container (the trainer); others share the pod's devices.
    if (i == 0 && s.gpus_per_replica > 0) SetGpus(c, s.gpus_per_replica);
    if (s.data_plane) {
      Json& mounts = c["volumeMounts"];
      if (!mounts.is_array()) mounts = Json::array();
      mounts.push_back({{"name", kShmVolume}, {"mountPath", kShmMountPath}});
    }
  }
  if (s.data_plane) {
    Json& inits = spec["initContainers"];
    if (!inits.is_array()) inits = Json::array();
    inits.push_back(RuntimeSidecar(job, *s.data_plane, env, options));
    Json& volumes = spec["volumes"];
    if (!volumes.is_array()) volumes = Json::array();
    Json empty_dir = {{"medium", "Memory"}};
    if (!s.data_plane->shm_size.empty()) empty_dir["sizeLimit"] = s.data_plane->shm_size;
    volumes.push_back({{"name", kShmVolume}, {"emptyDir", empty_dir}});
  }

  Json metadata = {{"name", name},
                   {"namespace", job.ns},
                   {"labels", labels},
                   {"ownerReferences", Json::array({OwnerReference(job)})}};
  if (!annotations.empty()) metadata["annotations"] = annotations;
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", metadata}, {"spec", spec}};
}

Json BuildHeadlessService(const ZenithJob& job, const BuildOptions& options) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata",
           {{"name", job.name},
            {"namespace", job.ns},
            {"labels", {{kJobLabel, job.name}}},
            {"ownerReferences", Json::array({OwnerReference(job)})}}},
          {"spec",
           {{"clusterIP", "None"},
            // Ranks must resolve each other before they report ready.
            {"publishNotReadyAddresses", true},
            {"selector", {{kJobLabel, job.name}}},
            {"ports", Json::array({{{"name", "master"},
                                    {"port", options.master_port},
                                    {"targetPort", options.master_port},
                                    {"protocol", "TCP"}}})}}}};
}

}  // namespace zenith::operator_
