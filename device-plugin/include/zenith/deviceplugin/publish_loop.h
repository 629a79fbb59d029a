// Keeps the node's ZenithNode and labels current while the device plugin runs: publishes at
// start, again within moments of any GPU health change the resource manager records, and on a
// resync period (which repairs an object someone deleted). A failed publish is retried with
// backoff and never stops the plugin: the kubelet side matters more than the scheduler's view.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "zenith/common/clock.h"
#include "zenith/common/retry.h"
#include "zenith/deviceplugin/node_publisher.h"
#include "zenith/deviceplugin/resource_manager.h"

namespace zenith::deviceplugin {

struct PublishLoopOptions {
  std::chrono::nanoseconds resync = std::chrono::seconds(60);
  common::BackoffPolicy retry{std::chrono::milliseconds(500), std::chrono::seconds(30), 2.0, 0.2,
                              /*max_attempts=*/0};
};

// `topology` as discovered; its GPUs' health is taken from `gpus` (device IDs = GPU UUIDs) at
// every publish. Both must outlive the loop.
class PublishLoop {
 public:
  PublishLoop(NodePublisher& publisher, const NodeTopology& topology, const ResourceManager& gpus,
              common::Clock& clock, PublishLoopOptions options = {});
  ~PublishLoop();
  PublishLoop(const PublishLoop&) = delete;
  PublishLoop& operator=(const PublishLoop&) = delete;

  void Start();
  void Stop();

  // The topology with the health the resource manager holds now.
  NodeTopology Current() const;
  uint64_t failures() const { return failures_.load(); }

 private:
  void Run();

  NodePublisher& publisher_;
  const NodeTopology topology_;
  const ResourceManager& gpus_;
  common::Clock& clock_;
  const PublishLoopOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> failures_{0};
  std::thread thread_;
};

}  // namespace zenith::deviceplugin
