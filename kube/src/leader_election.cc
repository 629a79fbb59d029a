#include "zenith/kube/leader_election.h"

#include <ctime>

#include "zenith/common/log.h"
#include "zenith/kube/client.h"

namespace zenith::kube {
namespace {

namespace log = common::log;

class KubeLeaseLock final : public LeaseLock {
 public:
  KubeLeaseLock(Client& client, std::string ns, std::string name)
      : client_(client), ns_(std::move(ns)), name_(std::move(name)) {}

  Result<std::optional<LeaseRecord>> Get() override {
    auto lease = client_.Get(resources::Leases(), ns_, name_);
    if (!lease.ok()) {
      if (IsNotFound(lease.status())) return std::optional<LeaseRecord>();
      return lease.status();
    }
    return std::optional<LeaseRecord>(FromLease(*lease));
  }

  Result<LeaseRecord> Create(const LeaseRecord& record) override {
    ZENITH_ASSIGN_OR_RETURN(Json created,
                            client_.Create(resources::Leases(), ns_, ToLease(record)));
    return FromLease(created);
  }

  Result<LeaseRecord> Update(const LeaseRecord& record) override {
    ZENITH_ASSIGN_OR_RETURN(Json updated,
                            client_.Update(resources::Leases(), ns_, ToLease(record)));
    return FromLease(updated);
  }

  std::string Describe() const override { return "lease " + ns_ + "/" + name_; }

 private:
  Json ToLease(const LeaseRecord& r) const {
    Json spec = Json::object();
    spec["holderIdentity"] = r.holder;
    spec["leaseDurationSeconds"] = r.lease_duration_seconds;
    if (!r.acquire_time.empty()) spec["acquireTime"] = r.acquire_time;
    if (!r.renew_time.empty()) spec["renewTime"] = r.renew_time;
    spec["leaseTransitions"] = r.transitions;
    Json meta = {{"name", name_}, {"namespace", ns_}};
    if (!r.resource_version.empty()) meta["resourceVersion"] = r.resource_version;
    return {{"apiVersion", "coordination.k8s.io/v1"},
            {"kind", "Lease"},
            {"metadata", meta},
            {"spec", spec}};
  }

  static LeaseRecord FromLease(const Json& lease) {
    LeaseRecord r;
    r.resource_version = ResourceVersionOf(lease);
    const Json spec = lease.value("spec", Json::object());
    r.holder = spec.value("holderIdentity", "");
    r.lease_duration_seconds = spec.value("leaseDurationSeconds", 0);
    r.acquire_time = spec.value("acquireTime", "");
    r.renew_time = spec.value("renewTime", "");
    r.transitions = spec.value("leaseTransitions", 0);
    return r;
  }

  Client& client_;
  const std::string ns_;
  const std::string name_;
};

int Seconds(common::Duration d) {
  return static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(d).count());
}

}  // namespace

std::unique_ptr<LeaseLock> MakeLeaseLock(Client& client, std::string ns, std::string name) {
  return std::make_unique<KubeLeaseLock>(client, std::move(ns), std::move(name));
}

LeaderElector::LeaderElector(std::unique_ptr<LeaseLock> lock, LeaderElectionConfig config,
                             common::Clock& clock)
    : lock_(std::move(lock)), config_(std::move(config)), clock_(clock) {}

LeaderElector::~LeaderElector() { Stop(); }

Status LeaderElector::Validate() const {
  if (config_.identity.empty()) return InvalidArgumentError("leader election: identity is empty");
  if (config_.lease_duration <= config_.renew_deadline) {
    return InvalidArgumentError("leader election: lease_duration must exceed renew_deadline");
  }
  if (config_.renew_deadline <= config_.retry_period) {
    return InvalidArgumentError("leader election: renew_deadline must exceed retry_period");
  }
  if (config_.lease_duration < std::chrono::seconds(1)) {
    return InvalidArgumentError("leader election: lease_duration must be at least 1s");
  }
  return Status::Ok();
}

bool LeaderElector::TryAcquireOrRenew() {
  const common::TimePoint now = clock_.Now();
  const std::string wall = common::FormatMicroTime(clock_.WallNow());
  LeaseRecord desired;
  desired.holder = config_.identity;
  desired.lease_duration_seconds = std::max(1, Seconds(config_.lease_duration));
  desired.acquire_time = wall;
  desired.renew_time = wall;

  auto current = lock_->Get();
  if (!current.ok()) {
    log::Warn("leader election: cannot read the lease",
              {{"lease", lock_->Describe()}, {"error", current.status()}});
    return false;
  }
  if (!current->has_value()) {
    auto created = lock_->Create(desired);
    if (!created.ok()) return false;  // another candidate created it first
    std::lock_guard lock(mu_);
    observed_ = *created;
    observed_at_ = now;
    last_renew_ = now;
    return true;
  }
  const LeaseRecord& record = **current;
  const bool held_by_other = !record.holder.empty() && record.holder != config_.identity;
  std::string new_leader;
  bool still_valid = false;
  {
    std::lock_guard lock(mu_);
    if (!observed_ || observed_->resource_version != record.resource_version) {
      if (held_by_other && (!observed_ || observed_->holder != record.holder)) {
        new_leader = record.holder;
      }
      observed_ = record;
      observed_at_ = now;
    }
    // Expiry is judged by when *we* saw the record change, not by its renewTime, so clock
    // skew between machines cannot make a live lease look expired.
    const auto duration = std::chrono::seconds(std::max(1, record.lease_duration_seconds));
    if (held_by_other && observed_at_ + duration > now) {
      last_renew_.reset();
      still_valid = true;
    }
  }
  if (still_valid) {
    if (!new_leader.empty() && config_.on_new_leader) config_.on_new_leader(new_leader);
    return false;
  }
  if (record.holder == config_.identity) {
    desired.acquire_time = record.acquire_time;
    desired.transitions = record.transitions;
  } else {
    desired.transitions = record.transitions + 1;
  }
  desired.resource_version = record.resource_version;
  auto updated = lock_->Update(desired);
  if (!updated.ok()) {
    if (!IsConflict(updated.status())) {
      log::Warn("leader election: cannot write the lease",
                {{"lease", lock_->Describe()}, {"error", updated.status()}});
    }
    return false;
  }
  std::lock_guard lock(mu_);
  observed_ = *updated;
  observed_at_ = now;
  last_renew_ = now;
  return true;
}

Status LeaderElector::Release() {
  LeaseRecord record;
  {
    std::lock_guard lock(mu_);
    if (!observed_ || observed_->holder != config_.identity) return Status::Ok();
    record = *observed_;
    last_renew_.reset();
  }
  record.holder.clear();
  record.lease_duration_seconds = 1;
  record.renew_time = common::FormatMicroTime(clock_.WallNow());
  auto updated = lock_->Update(record);
  if (!updated.ok()) return updated.status().WithContext("releasing " + lock_->Describe());
  std::lock_guard lock(mu_);
  observed_ = *updated;
  observed_at_ = clock_.Now();
  return Status::Ok();
}

bool LeaderElector::IsLeader() const {
  std::lock_guard lock(mu_);
  return last_renew_ && clock_.Now() - *last_renew_ < config_.renew_deadline;
}

std::string LeaderElector::observed_holder() const {
  std::lock_guard lock(mu_);
  return observed_ ? observed_->holder : std::string();
}

void LeaderElector::Start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void LeaderElector::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool LeaderElector::WaitUnlessStopped(common::Duration d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopping_.load(); });
  return !stopping_.load();
}

void LeaderElector::Run() {
  while (!stopping_) {
    if (!TryAcquireOrRenew()) {
      if (!WaitUnlessStopped(config_.retry_period)) break;
      continue;
    }
    log::Info("leader election: started leading",
              {{"lease", lock_->Describe()}, {"identity", config_.identity}});
    if (config_.on_started_leading) config_.on_started_leading();
    common::TimePoint last_ok = clock_.Now();
    while (WaitUnlessStopped(config_.retry_period)) {
      if (TryAcquireOrRenew()) {
        last_ok = clock_.Now();
      } else if (clock_.Now() - last_ok >= config_.renew_deadline || !IsLeader()) {
        break;
      }
    }
    {
      std::lock_guard lock(mu_);
      last_renew_.reset();
    }
    if (stopping_ && config_.release_on_stop) {
      Status s = Release();
      if (!s.ok()) log::Warn("leader election: release failed", {{"error", s}});
    }
    log::Info("leader election: stopped leading",
              {{"lease", lock_->Describe()}, {"identity", config_.identity}});
    if (config_.on_stopped_leading) config_.on_stopped_leading();
  }
}

}  // namespace zenith::kube
