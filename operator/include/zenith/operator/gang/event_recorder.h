// Writes core/v1 Events about an object (kubectl describe shows them), as the scheduler's one
// way to tell a user why a job waits or was evicted. A repeat of the same reason and message
// on the same object bumps count and lastTimestamp on the Event already written, as
// kube's own recorder does, instead of piling up new objects. A lost Event is only a lost note:
// failures come back as values and never stop the caller.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "zenith/common/clock.h"
#include "zenith/common/status.h"
#include "zenith/kube/client.h"

namespace zenith::operator_::gang {

class EventRecorder {
 public:
  EventRecorder(kube::Client& client, std::string component, common::Clock& clock);

  // `object` is the involved object as the API server returns it (apiVersion, kind, metadata).
  // `type` is "Normal" or "Warning".
  Status Record(const kube::Json& object, const std::string& type, const std::string& reason,
                const std::string& message);

 private:
  struct Written {
    std::string ns;
    std::string name;
    int64_t count = 0;
  };
  kube::Client& client_;
  const std::string component_;
  common::Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Written> written_;  // uid/reason/message -> the Event holding it
};

}  // namespace zenith::operator_::gang
