#include "zenith/operator/gang/event_recorder.h"

#include "zenith/common/clock.h"

namespace zenith::operator_::gang {

using kube::Json;

EventRecorder::EventRecorder(kube::Client& client, std::string component, common::Clock& clock)
    : client_(client), component_(std::move(component)), clock_(clock) {}

Status EventRecorder::Record(const Json& object, const std::string& type, const std::string& reason,
                             const std::string& message) {
  const Json& md = object.value("metadata", Json::object());
  const std::string ns = md.value("namespace", "default");
  const std::string uid = md.value("uid", "");
  const std::string now = common::FormatTime(clock_.WallNow());
  const std::string key = uid + "/" + reason + "/" + message;

  Written prior;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = written_.find(key);
    if (it != written_.end()) prior = it->second;
  }
  if (prior.count > 0) {
    Json patch = {{"count", prior.count + 1}, {"lastTimestamp", now}};
    auto r = client_.Patch(kube::resources::Events(), prior.ns, prior.name, kube::PatchType::kMerge,
                           patch);
    if (r.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      written_[key].count = prior.count + 1;
      return Status::Ok();
    }
    if (!kube::IsNotFound(r.status())) return r.status();
    // The Event expired (the API server keeps them an hour): write a new one.
  }
  Json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"generateName", md.value("name", "object") + "."}, {"namespace", ns}}},
             {"involvedObject",
              {{"apiVersion", object.value("apiVersion", "")},
               {"kind", object.value("kind", "")},
               {"name", md.value("name", "")},
               {"namespace", ns},
               {"uid", uid},
               {"resourceVersion", md.value("resourceVersion", "")}}},
             {"reason", reason},
             {"message", message},
             {"type", type},
             {"source", {{"component", component_}}},
             {"reportingComponent", component_},
             {"reportingInstance", component_},
             {"firstTimestamp", now},
             {"lastTimestamp", now},
             {"count", 1}};
  auto r = client_.Create(kube::resources::Events(), ns, ev);
  if (!r.ok()) return r.status();
  std::lock_guard<std::mutex> lock(mu_);
  // Bounded memory: forgetting only means the next repeat starts a new Event.
  if (written_.size() > 20000) written_.clear();
  written_[key] = {ns, r->value("metadata", Json::object()).value("name", ""), 1};
  return Status::Ok();
}

}  // namespace zenith::operator_::gang
