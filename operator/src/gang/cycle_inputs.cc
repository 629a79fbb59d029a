#include "zenith/operator/gang/cycle_inputs.h"

#include <algorithm>
#include <set>

#include "zenith/operator/scheduler/snapshot.h"

namespace zenith::operator_::gang {

namespace {

const Json& Field(const Json& obj, const char* key) {
  static const Json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

std::string Str(const Json& obj, const char* a, const char* b) {
  const Json& v = Field(Field(obj, a), b);
  return v.is_string() ? v.get<std::string>() : "";
}

std::string Label(const Json& obj, const char* key) {
  const Json& v = Field(Field(Field(obj, "metadata"), "labels"), key);
  return v.is_string() ? v.get<std::string>() : "";
}

bool Deleting(const Json& obj) {
  return !Field(Field(obj, "metadata"), "deletionTimestamp").is_null();
}

int Rank(const Json& pod) {
  const std::string r = Label(pod, kRankLabel);
  char* end = nullptr;
  long v = std::strtol(r.c_str(), &end, 10);
  return r.empty() || *end != '\0' ? 1 << 30 : static_cast<int>(v);
}

// The controller stops creating workers for these; nothing of theirs is placed again.
bool Inactive(const Json& job) {
  static const std::set<std::string> kDone = {"Succeeded", "Failed", "Cancelled", "Timeout",
                                              "Suspended"};
  if (Deleting(job)) return true;
  if (kDone.count(Str(job, "status", "phase"))) return true;
  const Json& suspend = Field(Field(Field(job, "spec"), "runPolicy"), "suspend");
  return suspend.is_boolean() && suspend.get<bool>();
}

int64_t MinAvailable(const Json& job) {
  const Json& spec = Field(job, "spec");
  const Json& replicas = Field(spec, "replicas");
  const Json& min = Field(spec, "minAvailable");
  if (min.is_number_integer()) return min.get<int64_t>();
  return replicas.is_number_integer() ? replicas.get<int64_t>() : 1;
}

struct JobPods {
  int bound = 0;
  bool terminating = false;
  std::vector<std::pair<int, GangPod>> unbound;  // rank, pod
};

}  // namespace

std::string FormatGpuIndices(const std::vector<int>& gpus) {
  std::string out;
  for (int g : gpus) {
    if (!out.empty()) out += ',';
    out += std::to_string(g);
  }
  return out;
}

CycleInputs SortCycleInputs(std::vector<ObjectPtr> nodes, std::vector<ObjectPtr> zenith_nodes,
                            const std::vector<ObjectPtr>& pods, std::vector<ObjectPtr> queues,
                            const std::vector<ObjectPtr>& jobs,
                            const std::map<std::string, AssumedPod>& assumed,
                            const InputFilter& filter) {
  CycleInputs in;
  in.objects.nodes = std::move(nodes);
  in.objects.zenith_nodes = std::move(zenith_nodes);
  in.objects.queues = std::move(queues);
  in.objects.pods.reserve(pods.size());

  std::map<std::string, JobPods> by_job;
  for (const ObjectPtr& ptr : pods) {
    const Json& pod = *ptr;
    const std::string ns = Str(pod, "metadata", "namespace");
    const std::string name = Str(pod, "metadata", "name");
    const std::string key = ns + "/" + name;
    const std::string job = Label(pod, scheduler::kJobLabel);
    const std::string phase = Str(pod, "status", "phase");
    const bool finished = phase == "Succeeded" || phase == "Failed";
    std::string node = Str(pod, "spec", "nodeName");
    auto a = assumed.find(key);
    if (node.empty() && a != assumed.end()) {
      // Bound by the last cycle; the informer has not caught up. Count it where it went.
      Json copy = pod;
      copy["spec"]["nodeName"] = a->second.node;
      copy["metadata"]["annotations"][scheduler::kGpuIndicesAnnotation] =
          FormatGpuIndices(a->second.gpus);
      node = a->second.node;
      in.objects.pods.push_back(std::make_shared<const Json>(std::move(copy)));
    } else {
      in.objects.pods.push_back(ptr);
    }
    if (job.empty() || finished) continue;
    JobPods& jp = by_job[ns + "/" + job];
    if (!node.empty()) {
      ++jp.bound;
      if (Deleting(pod)) jp.terminating = true;
    } else if (!Deleting(pod) && Str(pod, "spec", "schedulerName") == filter.scheduler_name) {
      jp.unbound.push_back({Rank(pod), {ns, name, Str(pod, "metadata", "uid")}});
    }
  }

  for (const ObjectPtr& ptr : jobs) {
    const Json& job = *ptr;
    const std::string key = Str(job, "metadata", "namespace") + "/" + Str(job, "metadata", "name");
    in.jobs[key] = &job;
    auto it = by_job.find(key);
    if (it == by_job.end()) continue;
    JobPods& jp = it->second;
    const bool partial = jp.bound > 0;
    if (partial) {
      // A gang that holds GPUs: its priority and preemptibility matter to the cycle.
      in.objects.running_jobs.push_back(ptr);
      in.terminating[key] = jp.terminating;
      // Its unbound pods (replacements, workers beyond minAvailable) join it, unless the gang
      // is being taken down.
      if (jp.terminating || jp.unbound.empty() || filter.hold.count(key)) continue;
    }
    if (Inactive(job)) continue;
    // Place only whole gangs: until the controller has created minAvailable workers, wait.
    if (!partial && static_cast<int64_t>(jp.unbound.size()) < MinAvailable(job)) continue;
    std::sort(jp.unbound.begin(), jp.unbound.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second.name < b.second.name;
    });
    std::vector<GangPod>& out = in.gang_pods[key];
    for (auto& [rank, p] : jp.unbound) out.push_back(std::move(p));
    in.objects.pending_jobs.push_back(ptr);
    if (partial) in.objects.partial_pods[key] = static_cast<int>(out.size());
  }
  return in;
}

}  // namespace zenith::operator_::gang
