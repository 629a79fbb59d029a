#include "zenith/kube/leader_election.h"

#include <gtest/gtest.h>

#include <memory>

#include "zenith/kube/api_error.h"

namespace zenith::kube {
namespace {

using namespace std::chrono_literals;

// One in-memory Lease shared by the candidates, with resourceVersion checks like the server.
struct FakeLeaseStore {
  std::optional<LeaseRecord> lease;
  int next_rv = 1;
  bool fail = false;
};

class FakeLeaseLock final : public LeaseLock {
 public:
  explicit FakeLeaseLock(std::shared_ptr<FakeLeaseStore> store) : store_(std::move(store)) {}
  Result<std::optional<LeaseRecord>> Get() override {
    if (store_->fail) return UnavailableError("down");
    return store_->lease;
  }
  Result<LeaseRecord> Create(const LeaseRecord& r) override {
    if (store_->fail) return UnavailableError("down");
    if (store_->lease) return AlreadyExistsError("exists");
    store_->lease = r;
    store_->lease->resource_version = std::to_string(store_->next_rv++);
    return *store_->lease;
  }
  Result<LeaseRecord> Update(const LeaseRecord& r) override {
    if (store_->fail) return UnavailableError("down");
    if (!store_->lease || store_->lease->resource_version != r.resource_version) {
      ApiError e;
      e.http_code = 409;
      e.reason = "Conflict";
      return ToStatus(e, "update lease");
    }
    store_->lease = r;
    store_->lease->resource_version = std::to_string(store_->next_rv++);
    return *store_->lease;
  }
  std::string Describe() const override { return "lease test/lock"; }

 private:
  std::shared_ptr<FakeLeaseStore> store_;
};

LeaderElectionConfig Config(const std::string& id) {
  LeaderElectionConfig c;
  c.identity = id;
  c.lease_duration = 15s;
  c.renew_deadline = 10s;
  c.retry_period = 2s;
  return c;
}

TEST(LeaderElectionTest, FirstCandidateLeadsAndTheSecondWaits) {
  auto store = std::make_shared<FakeLeaseStore>();
  common::FakeClock clock;
  LeaderElector a(std::make_unique<FakeLeaseLock>(store), Config("a"), clock);
  LeaderElector b(std::make_unique<FakeLeaseLock>(store), Config("b"), clock);
  EXPECT_TRUE(a.Validate().ok());
  EXPECT_TRUE(a.TryAcquireOrRenew());
  EXPECT_TRUE(a.IsLeader());
  EXPECT_FALSE(b.TryAcquireOrRenew());
  EXPECT_FALSE(b.IsLeader());
  EXPECT_EQ(b.observed_holder(), "a");
  // a keeps renewing; b never gets it.
  for (int i = 0; i < 20; ++i) {
    clock.Advance(2s);
    EXPECT_TRUE(a.TryAcquireOrRenew());
    EXPECT_FALSE(b.TryAcquireOrRenew());
  }
  EXPECT_EQ(store->lease->holder, "a");
  EXPECT_EQ(store->lease->transitions, 0);
}

TEST(LeaderElectionTest, TakeoverOnlyAfterAFullLeaseDurationWithoutRenewal) {
  auto store = std::make_shared<FakeLeaseStore>();
  common::FakeClock clock;
  LeaderElector a(std::make_unique<FakeLeaseLock>(store), Config("a"), clock);
  LeaderElector b(std::make_unique<FakeLeaseLock>(store), Config("b"), clock);
  ASSERT_TRUE(a.TryAcquireOrRenew());
  ASSERT_FALSE(b.TryAcquireOrRenew());  // b first sees a's record now
  // a stops renewing. b must wait 15s from when it saw the record.
  clock.Advance(10s);
  EXPECT_FALSE(a.IsLeader());  // a's own renew deadline passed: it no longer claims to lead
  EXPECT_FALSE(b.TryAcquireOrRenew());
  clock.Advance(4s);
  EXPECT_FALSE(b.TryAcquireOrRenew());
  clock.Advance(1s);
  EXPECT_TRUE(b.TryAcquireOrRenew());
  EXPECT_EQ(store->lease->holder, "b");
  EXPECT_EQ(store->lease->transitions, 1);
  // a comes back and finds b holding it.
  EXPECT_FALSE(a.TryAcquireOrRenew());
  EXPECT_EQ(a.observed_holder(), "b");
}

TEST(LeaderElectionTest, ReleaseHandsOverAtOnce) {
  auto store = std::make_shared<FakeLeaseStore>();
  common::FakeClock clock;
  LeaderElector a(std::make_unique<FakeLeaseLock>(store), Config("a"), clock);
  LeaderElector b(std::make_unique<FakeLeaseLock>(store), Config("b"), clock);
  ASSERT_TRUE(a.TryAcquireOrRenew());
  ASSERT_FALSE(b.TryAcquireOrRenew());
  ASSERT_TRUE(a.Release().ok());
  EXPECT_FALSE(a.IsLeader());
  EXPECT_EQ(store->lease->holder, "");
  EXPECT_TRUE(b.TryAcquireOrRenew());
}

TEST(LeaderElectionTest, ALostRaceIsAConflictNotALeader) {
  auto store = std::make_shared<FakeLeaseStore>();
  common::FakeClock clock;
  LeaderElector a(std::make_unique<FakeLeaseLock>(store), Config("a"), clock);
  LeaderElector b(std::make_unique<FakeLeaseLock>(store), Config("b"), clock);
  ASSERT_TRUE(a.TryAcquireOrRenew());
  ASSERT_TRUE(a.Release().ok());
  // Both see the free lease at the same version; whoever writes second gets 409.
  FakeLeaseLock peek(store);
  auto seen = *peek.Get();
  ASSERT_TRUE(b.TryAcquireOrRenew());
  LeaseRecord stale = *seen;
  stale.holder = "a";
  EXPECT_TRUE(IsConflict(peek.Update(stale).status()));
  EXPECT_FALSE(a.TryAcquireOrRenew());
}

TEST(LeaderElectionTest, UnreachableServerMeansNotLeading) {
  auto store = std::make_shared<FakeLeaseStore>();
  common::FakeClock clock;
  LeaderElector a(std::make_unique<FakeLeaseLock>(store), Config("a"), clock);
  ASSERT_TRUE(a.TryAcquireOrRenew());
  store->fail = true;
  clock.Advance(2s);
  EXPECT_FALSE(a.TryAcquireOrRenew());
  EXPECT_TRUE(a.IsLeader());  // still within the renew deadline
  clock.Advance(8s);
  EXPECT_FALSE(a.IsLeader());
}

TEST(LeaderElectionTest, ValidateChecksTheTimings) {
  common::FakeClock clock;
  auto c = Config("a");
  c.renew_deadline = 20s;
  LeaderElector bad(std::make_unique<FakeLeaseLock>(std::make_shared<FakeLeaseStore>()), c, clock);
  EXPECT_FALSE(bad.Validate().ok());
  c = Config("");
  LeaderElector anon(std::make_unique<FakeLeaseLock>(std::make_shared<FakeLeaseStore>()), c, clock);
  EXPECT_FALSE(anon.Validate().ok());
}

}  // namespace
}  // namespace zenith::kube
