#include "zenith/operator/placer.h"

#include <gtest/gtest.h>

namespace zenith::operator_ {
namespace {

Json Node(const std::string& name, int gpus, bool ready = true) {
  return {
      {"metadata", {{"name", name}, {"labels", {{"rack", name.substr(0, 1)}}}}},
      {"status",
       {{"allocatable", {{"zenith.ai/gpu", std::to_string(gpus)}}},
        {"conditions", Json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
}

Json Pod(const std::string& name, const std::string& node, int gpus, const std::string& phase) {
  return {{"metadata", {{"name", name}}},
          {"spec",
           {{"nodeName", node},
            {"containers",
             Json::array(
                 {{{"name", "c"},
                   {"resources", {{"requests", {{"zenith.ai/gpu", std::to_string(gpus)}}}}}}})}}},
          {"status", {{"phase", phase}}}};
}

GangRequest Gang(int pods, int gpus) {
  GangRequest g;
  g.job = "ns/j";
  for (int i = 0; i < pods; ++i) g.members.push_back({"j-" + std::to_string(i), gpus, {}});
  return g;
}

TEST(PlacerTest, CapacityCountsBoundUnfinishedPods) {
  auto cap = BuildNodeCapacity(
      {Node("b-1", 8), Node("a-1", 8), Node("c-1", 8, false)},
      {UsageOf(Pod("x", "a-1", 3, "Running")), UsageOf(Pod("y", "a-1", 2, "Succeeded")),
       UsageOf(Pod("z", "", 4, "Pending"))});
  ASSERT_EQ(cap.size(), 3u);
  EXPECT_EQ(cap[0].name, "a-1");
  EXPECT_EQ(cap[0].Free(), 5);
  EXPECT_EQ(cap[1].Free(), 8);
  EXPECT_FALSE(cap[2].schedulable);
  EXPECT_EQ(UsageOf(Pod("x", "", 3, "")).gpus, 3);
  // Read as the gang scheduler reads it: a GPU written only as a limit requests that limit.
  Json limit_only = Pod("l", "", 0, "Pending");
  limit_only["spec"]["containers"][0]["resources"] = {{"limits", {{"zenith.ai/gpu", "2"}}}};
  EXPECT_EQ(UsageOf(limit_only).gpus, 2);
}

TEST(PlacerTest, FirstFitPlacesAllOrNothing) {
  FirstFitPlacer placer;
  auto nodes =
      BuildNodeCapacity({Node("a-1", 8), Node("a-2", 8)}, {UsageOf(Pod("x", "a-1", 4, "Running"))});
  auto a = placer.Place(Gang(3, 4), nodes);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->at("j-0"), "a-1");
  EXPECT_EQ(a->at("j-1"), "a-2");
  EXPECT_EQ(a->at("j-2"), "a-2");
  auto none = placer.Place(Gang(4, 4), nodes);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(none.status().message().find("pod j-3 needs 4"), std::string::npos);
}

TEST(PlacerTest, RespectsSelectorsExclusionsAndReadiness) {
  FirstFitPlacer placer;
  auto nodes = BuildNodeCapacity({Node("a-1", 8), Node("b-1", 8), Node("c-1", 8, false)}, {});
  GangRequest g = Gang(1, 1);
  g.members[0].node_selector = {{"rack", "b"}};
  EXPECT_EQ(placer.Place(g, nodes)->at("j-0"), "b-1");
  g.topology.excluded_nodes = {"b-1"};
  EXPECT_FALSE(placer.Place(g, nodes).ok());
  g = Gang(1, 1);
  g.members[0].node_selector = {{"rack", "c"}};
  EXPECT_FALSE(placer.Place(g, nodes).ok());  // not Ready
}

TEST(PlacerTest, HonoursNoScheduleAndNoExecuteTaintsThePodDoesNotTolerate) {
  FirstFitPlacer placer;
  Json tainted = Node("a-1", 8);
  tainted["spec"]["taints"] =
      Json::array({{{"key", "gpu"}, {"value", "h100"}, {"effect", "NoSchedule"}}});
  Json draining = Node("b-1", 8);
  draining["spec"]["taints"] = Json::array({{{"key", "drain"}, {"effect", "NoExecute"}}});
  Json preferred = Node("c-1", 8);
  preferred["spec"]["taints"] = Json::array({{{"key", "spot"}, {"effect", "PreferNoSchedule"}}});
  auto nodes = BuildNodeCapacity({tainted, draining, preferred}, {});
  ASSERT_EQ(nodes[0].taints.size(), 1u);

  Json pod = Pod("j-0", "", 4, "Pending");
  GangRequest g;
  g.job = "ns/j";
  g.members = {MemberOf(pod)};
  EXPECT_EQ(placer.Place(g, nodes)->at("j-0"), "c-1");  // PreferNoSchedule never filters

  pod["spec"]["tolerations"] = Json::array(
      {{{"key", "gpu"}, {"operator", "Equal"}, {"value", "h100"}, {"effect", "NoSchedule"}}});
  g.members = {MemberOf(pod)};
  EXPECT_EQ(placer.Place(g, nodes)->at("j-0"), "a-1");

  // Nothing tolerates the NoExecute taint but an Exists toleration of its key.
  g.members = {MemberOf(pod), MemberOf(pod), MemberOf(pod)};
  g.members[1].pod = "j-1";
  g.members[2].pod = "j-2";
  nodes[2].used_gpus = 8;
  EXPECT_FALSE(placer.Place(g, nodes).ok());
  pod["spec"]["tolerations"].push_back({{"key", "drain"}, {"operator", "Exists"}});
  g.members = {MemberOf(pod), MemberOf(pod)};
  g.members[1].pod = "j-1";
  auto a = placer.Place(g, nodes);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->at("j-1"), "a-1");
  nodes[0].used_gpus = 8;
  a = placer.Place(g, nodes);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->at("j-0"), "b-1");
}

}  // namespace
}  // namespace zenith::operator_
