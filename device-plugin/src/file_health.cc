#include "zenith/deviceplugin/file_health.h"

#include <fstream>
#include <sstream>

#include "zenith/common/log.h"

namespace zenith::deviceplugin {

FileHealthChecker::FileHealthChecker(std::string path, std::vector<ResourceManager*> managers,
                                     std::chrono::nanoseconds interval)
    : path_(std::move(path)), managers_(std::move(managers)), interval_(interval) {}

Status FileHealthChecker::Start() {
  ZENITH_RETURN_IF_ERROR(CheckOnce().status());
  thread_.Start(
      [this] {
        auto changed = CheckOnce();
        if (!changed.ok()) common::log::Warn("health file", {{"error", changed.status()}});
      },
      interval_);
  common::log::Info("watching health file", {{"file", path_}});
  return Status::Ok();
}

Result<int> FileHealthChecker::CheckOnce() {
  std::map<std::string, std::string> listed;
  std::ifstream in(path_);
  if (in) {
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      std::istringstream words(line);
      std::string id;
      if (!(words >> id) || id[0] == '#') continue;
      std::string reason;
      std::getline(words >> std::ws, reason);
      listed[id] = reason.empty() ? "listed in " + path_ + ":" + std::to_string(number) : reason;
    }
  }
  int changed = 0;
  auto apply = [&](const std::string& id, bool healthy, const std::string& reason) {
    bool known = false;
    for (ResourceManager* m : managers_) {
      if (!m->Has(id)) continue;
      known = true;
      auto r = m->SetHealthy(id, healthy, reason);
      if (r.ok() && *r) {
        ++changed;
        common::log::Info(healthy ? "device healthy" : "device unhealthy",
                          {{"resource", m->resource_name()},
                           {"device", id},
                           {"source", "health file"},
                           {"reason", reason}});
      }
    }
    if (!known && !warned_[id]) {
      warned_[id] = true;
      common::log::Warn("health file names an unknown device", {{"file", path_}, {"device", id}});
    }
  };
  for (const auto& [id, reason] : listed) apply(id, false, reason);
  for (const auto& [id, reason] : listed_) {
    if (!listed.count(id)) apply(id, true, "");
  }
  listed_ = std::move(listed);
  return changed;
}

}  // namespace zenith::deviceplugin
