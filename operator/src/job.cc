#include "zenith/operator/job.h"

#include <algorithm>
#include <limits>

namespace zenith::operator_ {

kube::GroupVersionResource ZenithJobs() {
  return kube::resources::Custom(kGroup, kVersion, "zenithjobs", true, kKind);
}

const Json& Child(const Json& j, const char* key) {
  static const Json kEmpty = Json::object();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? kEmpty : *it;
}

namespace {

// Reads typed fields out of one JSON object, naming the dotted path in every error.
class Reader {
 public:
  Reader(const Json& obj, std::string path, std::string who)
      : obj_(obj), path_(std::move(path)), who_(std::move(who)) {}

  Status Error(const std::string& field, const std::string& what) const {
    return InvalidArgumentError(who_ + ": " + Path(field) + ": " + what);
  }
  std::string Path(const std::string& field) const {
    return path_.empty() ? field : path_ + "." + field;
  }
  const Json* Find(const std::string& field) const {
    if (!obj_.is_object()) return nullptr;
    auto it = obj_.find(field);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  Status Int(const std::string& field, int64_t min, int64_t max, int64_t& out) const {
    const Json* v = Find(field);
    if (!v) return Status::Ok();
    if (!v->is_number_integer()) return Error(field, "must be an integer, got " + v->dump());
    int64_t x = v->get<int64_t>();
    if (x < min)
      return Error(field, "must be at least " + std::to_string(min) + ", got " + std::to_string(x));
    if (x > max)
      return Error(field, "must be at most " + std::to_string(max) + ", got " + std::to_string(x));
    out = x;
    return Status::Ok();
  }
  Status Int32(const std::string& field, int64_t min, int64_t max, int32_t& out) const {
    int64_t x = out;
    ZENITH_RETURN_IF_ERROR(Int(field, min, max, x));
    out = static_cast<int32_t>(x);
    return Status::Ok();
  }
  Status OptInt(const std::string& field, int64_t min, std::optional<int64_t>& out) const {
    if (!Find(field)) return Status::Ok();
    int64_t x = 0;
    ZENITH_RETURN_IF_ERROR(Int(field, min, std::numeric_limits<int64_t>::max(), x));
    out = x;
    return Status::Ok();
  }
  Status Bool(const std::string& field, bool& out) const {
    const Json* v = Find(field);
    if (!v) return Status::Ok();
    if (!v->is_boolean()) return Error(field, "must be true or false, got " + v->dump());
    out = v->get<bool>();
    return Status::Ok();
  }
  Status String(const std::string& field, std::string& out) const {
    const Json* v = Find(field);
    if (!v) return Status::Ok();
    if (!v->is_string()) return Error(field, "must be a string, got " + v->dump());
    out = v->get<std::string>();
    return Status::Ok();
  }
  // An int-or-string quantity kept as text ("80Gi", or 1024).
  Status Quantity(const std::string& field, std::string& out) const {
    const Json* v = Find(field);
    if (!v) return Status::Ok();
    if (v->is_number_integer()) {
      out = std::to_string(v->get<int64_t>());
      return Status::Ok();
    }
    return String(field, out);
  }
  Status Enum(const std::string& field, const std::vector<std::string>& allowed,
              std::string& out) const {
    ZENITH_RETURN_IF_ERROR(String(field, out));
    if (std::find(allowed.begin(), allowed.end(), out) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return Error(field, "unknown value \"" + out + "\" (one of " + list + ")");
    }
    return Status::Ok();
  }
  Status Strings(const std::string& field, std::vector<std::string>& out) const {
    const Json* v = Find(field);
    if (!v) return Status::Ok();
    if (!v->is_array()) return Error(field, "must be a list of strings");
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string())
        return Error(field + "[" + std::to_string(i) + "]", "must be a string");
      out.push_back((*v)[i].get<std::string>());
    }
    return Status::Ok();
  }
  Result<Reader> Child(const std::string& field) const {
    const Json* v = Find(field);
    static const Json kEmpty = Json::object();
    if (!v) return Reader(kEmpty, Path(field), who_);
    if (!v->is_object()) return Error(field, "must be an object");
    return Reader(*v, Path(field), who_);
  }
  bool Has(const std::string& field) const { return Find(field) != nullptr; }

 private:
  const Json& obj_;
  std::string path_;
  std::string who_;
};

Status ParseTemplate(const Reader& spec, const Json& object, JobSpec& out) {
  const Json* tmpl = spec.Find("template");
  if (!tmpl) return spec.Error("template", "is required");
  if (!tmpl->is_object()) return spec.Error("template", "must be an object");
  Reader t(*tmpl, spec.Path("template"), "");
  if (const Json* md = t.Find("metadata")) {
    if (!md->is_object()) return spec.Error("template.metadata", "must be an object");
    for (const char* f : {"labels", "annotations"}) {
      if (!md->contains(f) || (*md)[f].is_null()) continue;
      if (!(*md)[f].is_object())
        return spec.Error(std::string("template.metadata.") + f, "must be a map of strings");
      for (auto& [k, v] : (*md)[f].items()) {
        if (!v.is_string())
          return spec.Error(std::string("template.metadata.") + f + "." + k, "must be a string");
      }
      out.template_metadata[f] = (*md)[f];
    }
  }
  const Json* ps = t.Find("spec");
  if (!ps) return spec.Error("template.spec", "is required");
  if (!ps->is_object()) return spec.Error("template.spec", "must be an object");
  auto cit = ps->find("containers");
  if (cit == ps->end() || !cit->is_array() || cit->empty())
    return spec.Error("template.spec.containers", "must list at least one container");
  for (size_t i = 0; i < cit->size(); ++i) {
    const Json& c = (*cit)[i];
    std::string at = "template.spec.containers[" + std::to_string(i) + "]";
    if (!c.is_object()) return spec.Error(at, "must be an object");
    if (!c.contains("name") || !c["name"].is_string() || c["name"].get<std::string>().empty())
      return spec.Error(at + ".name", "is required");
    if (!c.contains("image") || !c["image"].is_string() || c["image"].get<std::string>().empty())
      return spec.Error(at + ".image", "is required");
  }
  out.pod_spec = *ps;
  (void)object;
  return Status::Ok();
}

}  // namespace

Result<ZenithJob> ParseZenithJob(const Json& object) {
  ZenithJob job;
  if (!object.is_object()) return InvalidArgumentError("zenithjob: not a JSON object");
  const Json& md = object.value("metadata", Json::object());
  job.ns = md.value("namespace", "");
  job.name = md.value("name", "");
  std::string who = "zenithjob " + job.ns + "/" + job.name;
  if (job.name.empty()) return InvalidArgumentError("zenithjob: metadata.name is required");
  job.uid = md.value("uid", "");
  job.generation = md.value("generation", int64_t{0});
  job.resource_version = md.value("resourceVersion", "");
  job.deleting = md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null();
  if (md.contains("finalizers") && md["finalizers"].is_array()) {
    for (const auto& f : md["finalizers"])
      if (f.is_string()) job.finalizers.push_back(f.get<std::string>());
  }
  if (md.contains("annotations") && md["annotations"].is_object()) {
    for (auto& [k, v] : md["annotations"].items())
      if (v.is_string()) job.annotations[k] = v.get<std::string>();
  }
  if (object.contains("status") && object["status"].is_object()) job.status = object["status"];

  const Json* spec_json = object.contains("spec") ? &object["spec"] : nullptr;
  if (!spec_json || !spec_json->is_object())
    return InvalidArgumentError(who + ": spec is required");
  Reader spec(*spec_json, "spec", who);
  JobSpec& s = job.spec;
  if (!spec.Has("replicas")) return spec.Error("replicas", "is required");
  ZENITH_RETURN_IF_ERROR(spec.Int32("replicas", 1, 4096, s.replicas));
  s.min_available = s.replicas;
  ZENITH_RETURN_IF_ERROR(spec.Int32("minAvailable", 1, 4096, s.min_available));
  if (s.min_available > s.replicas)
    return spec.Error("minAvailable", "must not exceed spec.replicas (" +
                                          std::to_string(s.replicas) + "), got " +
                                          std::to_string(s.min_available));
  ZENITH_RETURN_IF_ERROR(spec.Int32("gpusPerReplica", 0, 64, s.gpus_per_replica));
  ZENITH_RETURN_IF_ERROR(ParseTemplate(spec, object, s));

  ZENITH_ASSIGN_OR_RETURN(Reader topo, spec.Child("topology"));
  TopologySpec& t = s.topology;
  ZENITH_RETURN_IF_ERROR(topo.Enum("nvlink", {"Required", "Preferred", "None"}, t.nvlink));
  ZENITH_RETURN_IF_ERROR(topo.Bool("numaAligned", t.numa_aligned));
  ZENITH_RETURN_IF_ERROR(topo.Enum("placement", {"Pack", "Spread"}, t.placement));
  ZENITH_RETURN_IF_ERROR(topo.String("sameNodeLabel", t.same_node_label));
  ZENITH_RETURN_IF_ERROR(topo.Strings("preferredNodes", t.preferred_nodes));
  ZENITH_RETURN_IF_ERROR(topo.Strings("excludedNodes", t.excluded_nodes));
  ZENITH_RETURN_IF_ERROR(topo.String("gpuModel", t.gpu_model));
  ZENITH_RETURN_IF_ERROR(topo.Quantity("minGpuMemory", t.min_gpu_memory));
  ZENITH_RETURN_IF_ERROR(topo.Bool("rdma", t.rdma));
  if (t.nvlink == "Required" && s.gpus_per_replica < 2)
    return topo.Error("nvlink", "Required needs spec.gpusPerReplica of at least 2");
  for (const auto& n : t.preferred_nodes) {
    if (std::find(t.excluded_nodes.begin(), t.excluded_nodes.end(), n) != t.excluded_nodes.end())
      return topo.Error("preferredNodes", "node " + n + " is both preferred and excluded");
  }

  ZENITH_ASSIGN_OR_RETURN(Reader sched, spec.Child("scheduling"));
  ZENITH_RETURN_IF_ERROR(sched.String("queue", s.scheduling.queue));
  ZENITH_RETURN_IF_ERROR(sched.Int32("priority", INT32_MIN, INT32_MAX, s.scheduling.priority));
  ZENITH_RETURN_IF_ERROR(sched.Bool("preemptible", s.scheduling.preemptible));
  ZENITH_RETURN_IF_ERROR(sched.OptInt("maxWaitSeconds", 0, s.scheduling.max_wait_seconds));

  ZENITH_ASSIGN_OR_RETURN(Reader run, spec.Child("runPolicy"));
  RunPolicy& r = s.run_policy;
  ZENITH_RETURN_IF_ERROR(run.Int32("maxRetries", 0, INT32_MAX, r.max_retries));
  ZENITH_RETURN_IF_ERROR(run.Int32("backoffSeconds", 0, INT32_MAX, r.backoff_seconds));
  ZENITH_RETURN_IF_ERROR(run.OptInt("activeDeadlineSeconds", 1, r.active_deadline_seconds));
  std::optional<int64_t> ttl;
  ZENITH_RETURN_IF_ERROR(run.OptInt("ttlSecondsAfterFinished", 0, ttl));
  if (ttl) r.ttl_seconds_after_finished = static_cast<int32_t>(std::min<int64_t>(*ttl, INT32_MAX));
  ZENITH_RETURN_IF_ERROR(run.Bool("suspend", r.suspend));
  ZENITH_RETURN_IF_ERROR(
      run.Enum("cleanPodPolicy", {"All", "Running", "None"}, r.clean_pod_policy));

  if (spec.Has("dataPlane")) {
    ZENITH_ASSIGN_OR_RETURN(Reader dp, spec.Child("dataPlane"));
    DataPlaneSpec d;
    ZENITH_RETURN_IF_ERROR(dp.String("source", d.source));
    if (d.source.empty()) return dp.Error("source", "is required");
    ZENITH_RETURN_IF_ERROR(dp.Enum("format", {"auto", "raw", "tfrecord", "wds", "npy"}, d.format));
    ZENITH_RETURN_IF_ERROR(dp.Int32("batchSize", 1, INT32_MAX, d.batch_size));
    ZENITH_RETURN_IF_ERROR(dp.Int("shuffleSeed", 0, INT64_MAX, d.shuffle_seed));
    ZENITH_RETURN_IF_ERROR(dp.Int32("prefetch", 1, 1024, d.prefetch));
    ZENITH_RETURN_IF_ERROR(dp.String("image", d.image));
    ZENITH_RETURN_IF_ERROR(dp.Quantity("shmSize", d.shm_size));
    s.data_plane = d;
  }
  return job;
}

}  // namespace zenith::operator_
