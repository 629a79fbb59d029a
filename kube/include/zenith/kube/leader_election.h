// One active replica at a time, by holding a coordination.k8s.io/v1 Lease. Writes carry the
// lease's resourceVersion, so of two candidates racing only one wins (the other gets 409). A
// lease is taken over only when its holder has not renewed it for a full lease duration as
// observed on our own clock (never by comparing wall clocks across machines); a leader that
// cannot renew within renew_deadline (< lease_duration) steps down first, so two never lead
// at once. The lease store is an interface so the logic is tested with a fake clock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "zenith/common/clock.h"
#include "zenith/common/status.h"

namespace zenith::kube {

class Client;

struct LeaseRecord {
  std::string holder;
  int lease_duration_seconds = 0;
  std::string acquire_time;  // RFC 3339 with microseconds, as the Lease stores it
  std::string renew_time;
  int transitions = 0;
  std::string resource_version;  // of the Lease this was read from; empty for a create
};

class LeaseLock {
 public:
  virtual ~LeaseLock() = default;
  // nullopt when the lease does not exist yet.
  virtual Result<std::optional<LeaseRecord>> Get() = 0;
  // ALREADY_EXISTS when another candidate created it first; returns the stored record.
  virtual Result<LeaseRecord> Create(const LeaseRecord& record) = 0;
  // Conditional on record.resource_version: ABORTED (409) when someone wrote in between.
  virtual Result<LeaseRecord> Update(const LeaseRecord& record) = 0;
  virtual std::string Describe() const = 0;
};

// The Lease `ns`/`name` through `client`.
std::unique_ptr<LeaseLock> MakeLeaseLock(Client& client, std::string ns, std::string name);

struct LeaderElectionConfig {
  std::string identity;
  common::Duration lease_duration = std::chrono::seconds(15);
  common::Duration renew_deadline = std::chrono::seconds(10);
  common::Duration retry_period = std::chrono::seconds(2);
  bool release_on_stop = true;  // hand the lease over at once on Stop()
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& leader)> on_new_leader;  // another holder was observed
};

class LeaderElector {
 public:
  LeaderElector(std::unique_ptr<LeaseLock> lock, LeaderElectionConfig config, common::Clock& clock);
  ~LeaderElector();

  Status Validate() const;

  // One attempt: take a free or expired lease, or renew ours. True when we hold it after.
  bool TryAcquireOrRenew();
  // Gives the lease up if we hold it (holder cleared, duration 1s).
  Status Release();

  // Runs acquire → lead (callbacks) → renew on a thread until Stop(); after losing the lease
  // it goes back to acquiring.
  void Start();
  void Stop();

  // True only while the last successful renewal is younger than renew_deadline.
  bool IsLeader() const;
  std::string observed_holder() const;

 private:
  void Run();
  bool WaitUnlessStopped(common::Duration d);

  std::unique_ptr<LeaseLock> lock_;
  const LeaderElectionConfig config_;
  common::Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<LeaseRecord> observed_;
  common::TimePoint observed_at_{};
  std::optional<common::TimePoint> last_renew_;  // set while we hold the lease
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace zenith::kube
