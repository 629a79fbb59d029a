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

Json Node(const std::string& name, int gpus) {
  return {{"metadata", {{"name", name}}},
          {"status",
           {{"allocatable", {{"zenith.ai/gpu", std::to_string(gpus)}}},
            {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
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
  std::vector<Json> nodes = {Node("n1", 4)};
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
  std::vector<Json> nodes = {Node("n1", 2)};
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
  std::vector<Json> nodes = {Node("n1", 8)};
  std::vector<Json> gang = {Pod("a-0", 1), Pod("a-1", 1), Pod("a-2", 1)};
  auto r = f.binder.PlaceAndBind("ns/a", {}, gang, nodes, Usage(gang));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("binding pod ns/a-2 of ns/a to n1"), std::string::npos);
  EXPECT_EQ(f.rec->unbound, (std::vector<std::string>{"a-0", "a-1"}));
}

}  // namespace
}  // namespace zenith::operator_
