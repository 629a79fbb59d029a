#include "zenith/deviceplugin/publish_loop.h"

#include <algorithm>
#include <map>

#include "zenith/common/log.h"

namespace zenith::deviceplugin {

PublishLoop::PublishLoop(NodePublisher& publisher, const NodeTopology& topology,
                         const ResourceManager& gpus, common::Clock& clock,
                         PublishLoopOptions options)
    : publisher_(publisher),
      topology_(topology),
      gpus_(gpus),
      clock_(clock),
      options_(std::move(options)) {}

PublishLoop::~PublishLoop() { Stop(); }

void PublishLoop::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void PublishLoop::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

NodeTopology PublishLoop::Current() const {
  NodeTopology t = topology_;
  std::map<std::string, bool> healthy;
  for (const auto& d : gpus_.Devices()) healthy[d.id] = d.healthy;
  for (Gpu& g : t.gpus) {
    auto it = healthy.find(g.uuid);
    if (it != healthy.end()) g.healthy = it->second;
  }
  return t;
}

void PublishLoop::Run() {
  common::Backoff backoff(options_.retry, /*seed=*/1);
  // Health changes are awaited in short slices so Stop is prompt without waking the
  // manager's other waiters (the kubelet's ListAndWatch streams).
  constexpr auto kSlice = std::chrono::milliseconds(200);
  uint64_t published_version = 0;
  bool failing = false;
  while (!stop_) {
    uint64_t version = 0;
    (void)gpus_.Devices(&version);
    Status s = publisher_.Publish(Current());
    common::Duration wait = options_.resync;
    if (s.ok()) {
      if (failing) common::log::Info("topology published again", {{"failures", failures_.load()}});
      failing = false;
      backoff.Reset();
      published_version = version;
    } else {
      ++failures_;
      wait = backoff.Next();
      if (!failing) {
        common::log::Warn(
            "publishing the node topology failed; retrying",
            {{"error", s},
             {"retry_in_ms", std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()}});
      }
      failing = true;
    }
    const auto deadline = clock_.Now() + wait;
    while (!stop_ && clock_.Now() < deadline) {
      const auto left = std::max<common::Duration>(deadline - clock_.Now(), common::Duration(0));
      const uint64_t now = gpus_.WaitForChange(
          published_version, std::min<common::Duration>(left, common::Duration(kSlice)));
      if (!failing && now != published_version) break;  // health changed: publish it
    }
  }
}

}  // namespace zenith::deviceplugin
