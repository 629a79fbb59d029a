#include "zenith/operator/binder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>

namespace zenith::operator_ {
namespace {

class RecordingBinder : public PodBinder {
 public:
  Status Bind(const std::string& ns, const std::string& pod, const std::string& uid,
              const std::string& node) override {
    if (pod == fail_on) return UnavailableError("bind refused");
    std::lock_guard<std::mutex> l(mu);  // a gang's binds run concurrently
    bound.push_back(pod + "@" + node);
    std::sort(bound.begin(), bound.end());
    return Status::Ok();
  }
  Status Unbind(const std::string& ns, const std::string& pod, const std::string& uid) override {
    unbound.push_back(pod);
    return Status::Ok();
  }
  std::mutex mu;
  std::string fail_on;
  std::vector<std::string> bound, unbound;
};

kube::SharedObject Node(const std::string& name, int gpus) {
  return std::make_shared<const Json>(
      Json{{"metadata", {{"name", name}}},
           {"status",
            {{"allocatable", {{"zenith.ai/gpu", std::to_string(gpus)}}},
             {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}}}});
}

Json Pod(const std::string& name, int gpus, const std::string& uid = "") {
  return {{"metadata", {{"name", name}, {"namespace", "ns"}, {"uid", uid.empty() ? name : uid}}},
          {"spec",
           {{"containers",
             Json::array(
                 {{{"name", "c"},
                   {"resources", {{"requests", {{"zenith.ai/gpu", std::to_string(gpus)}}}}}}})}}},
          {"status", {{"phase", "Pending"}}}};
}

std::vector<PodUsage> Usage(const std::vector<Json>& pods) {
  std::vector<PodUsage> out;
  for (const auto& p : pods) out.push_back(UsageOf(p));
  return out;
}

struct Fixture {
  common::FakeClock clock;
  RecordingBinder* rec = new RecordingBinder;
  GangBinder binder{std::make_unique<FirstFitPlacer>(), std::unique_ptr<PodBinder>(rec), clock};
};

TEST(GangBinderTest, BindsTheWholeGangAndCountsItBeforeTheCacheDoes) {
  Fixture f;
  std::vector<kube::SharedObject> nodes = {Node("n1", 4)};
  std::vector<Json> gang1 = {Pod("a-0", 2), Pod("a-1", 2)};
  auto r = f.binder.PlaceAndBind("ns/a", {}, gang1, nodes, Usage(gang1));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->placed);
  EXPECT_EQ(f.rec->bound, (std::vector<std::string>{"a-0@n1", "a-1@n1"}));
  // The cache still shows a-* unbound; the binder must not hand their GPUs out again.
  std::vector<Json> gang2 = {Pod("b-0", 1)};
  std::vector<Json> all = {gang1[0], gang1[1], gang2[0]};
  r = f.binder.PlaceAndBind("ns/b", {}, gang2, nodes, Usage(all));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->placed);
  EXPECT_NE(r->message.find("does not fit"), std::string::npos);
  // Once a-* are gone (finished and deleted) the room is free again.
  r = f.binder.PlaceAndBind("ns/b", {}, gang2, nodes, Usage(gang2));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->placed);
}

TEST(GangBinderTest, RecreatedPodIsNotMistakenForTheOldBinding) {
  Fixture f;
  std::vector<kube::SharedObject> nodes = {Node("n1", 2)};
  std::vector<Json> gang = {Pod("a-0", 2, "uid-1")};
  ASSERT_TRUE(f.binder.PlaceAndBind("ns/a", {}, gang, nodes, Usage(gang))->placed);
  std::vector<Json> again = {Pod("a-0", 2, "uid-2")};  // same name, new pod
  auto r = f.binder.PlaceAndBind("ns/a", {}, again, nodes, Usage(again));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->placed);
}

TEST(GangBinderTest, PartialBindIsRolledBack) {
  Fixture f;
  f.rec->fail_on = "a-2";
  std::vector<kube::SharedObject> nodes = {Node("n1", 8)};
  std::vector<Json> gang = {Pod("a-0", 1), Pod("a-1", 1), Pod("a-2", 1)};
  auto r = f.binder.PlaceAndBind("ns/a", {}, gang, nodes, Usage(gang));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("binding pod ns/a-2 of ns/a to n1"), std::string::npos);
  EXPECT_EQ(f.rec->unbound, (std::vector<std::string>{"a-0", "a-1"}));
}

// A pod as the informer shows it once created bound.
Json BoundPod(const std::string& name, int gpus, const std::string& node) {
  Json p = Pod(name, gpus);
  p["spec"]["nodeName"] = node;
  return p;
}

TEST(GangBinderTest, NewGangIsPlacedBeforeItExistsAndCountedUntilTheCacheShowsIt) {
  Fixture f;
  std::vector<kube::SharedObject> nodes = {Node("n1", 4), Node("n2", 2)};
  std::vector<Json> gang = {Pod("a-0", 2), Pod("a-1", 2)};
  BindResult r = f.binder.PlaceNew("ns/a", {}, gang, nodes, {});
  ASSERT_TRUE(r.placed) << r.message;
  EXPECT_EQ(gang[0]["spec"]["nodeName"], "n1");
  EXPECT_EQ(gang[1]["spec"]["nodeName"], "n1");
  EXPECT_EQ(r.assumed, (std::vector<std::string>{"ns/a-0", "ns/a-1"}));
  EXPECT_TRUE(f.rec->bound.empty());  // created bound: no bind calls

  // Not in the cache yet: n1 is full, so the next gang goes to n2 and a third finds no room.
  std::vector<Json> b = {Pod("b-0", 2)};
  ASSERT_TRUE(f.binder.PlaceNew("ns/b", {}, b, nodes, {}).placed);
  EXPECT_EQ(b[0]["spec"]["nodeName"], "n2");
  std::vector<Json> c = {Pod("c-0", 1)};
  BindResult none = f.binder.PlaceNew("ns/c", {}, c, nodes, {});
  EXPECT_FALSE(none.placed);
  EXPECT_NE(none.message.find("does not fit"), std::string::npos);
  EXPECT_FALSE(c[0]["spec"].contains("nodeName"));

  // The cache shows a-* bound: counted once, from the cache.
  std::vector<PodUsage> seen = {UsageOf(BoundPod("a-0", 2, "n1")),
                                UsageOf(BoundPod("a-1", 2, "n1"))};
  EXPECT_FALSE(f.binder.PlaceNew("ns/c", {}, c, nodes, seen).placed);
  // They finished and were deleted: the cache no longer has them, and the room is free again
  // (b-0 is still assumed on n2).
  ASSERT_TRUE(f.binder.PlaceNew("ns/c", {}, c, nodes, {}).placed);
  EXPECT_EQ(c[0]["spec"]["nodeName"], "n1");
}

TEST(GangBinderTest, ForgottenGangFreesItsRoomAndAssumptionsExpire) {
  Fixture f;
  std::vector<kube::SharedObject> nodes = {Node("n1", 2)};
  std::vector<Json> a = {Pod("a-0", 2)};
  BindResult r = f.binder.PlaceNew("ns/a", {}, a, nodes, {});
  ASSERT_TRUE(r.placed);
  // A stale look at the same gang does not place it twice.
  std::vector<Json> again = {Pod("a-0", 2)};
  BindResult stale = f.binder.PlaceNew("ns/a", {}, again, nodes, {});
  EXPECT_FALSE(stale.placed);
  EXPECT_NE(stale.message.find("just created"), std::string::npos);
  // Its create failed: the room is free at once.
  f.binder.Forget(r.assumed);
  std::vector<Json> b = {Pod("b-0", 2)};
  ASSERT_TRUE(f.binder.PlaceNew("ns/b", {}, b, nodes, {}).placed);
  // Created, but the informer never shows it: the assumption lapses after its TTL.
  std::vector<Json> c = {Pod("c-0", 2)};
  EXPECT_FALSE(f.binder.PlaceNew("ns/c", {}, c, nodes, {}).placed);
  f.clock.Advance(std::chrono::seconds(31));
  EXPECT_TRUE(f.binder.PlaceNew("ns/c", {}, c, nodes, {}).placed);
}

}  // namespace
}  // namespace zenith::operator_
