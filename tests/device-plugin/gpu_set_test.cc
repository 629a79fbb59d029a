#include "zenith/deviceplugin/gpu_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "example_topologies.h"

namespace zenith::deviceplugin {
namespace {

NodeTopology Load(const std::string& name) { return fixtures::LoadTopology(name); }

std::vector<int> All(const NodeTopology& t) {
  std::vector<int> out;
  for (const Gpu& g : t.gpus) out.push_back(g.index);
  return out;
}

std::vector<int> Without(std::vector<int> v, std::initializer_list<int> taken) {
  for (int x : taken) v.erase(std::remove(v.begin(), v.end(), x), v.end());
  return v;
}

GpuSet Choose(const NodeTopology& t, std::vector<int> available, int size,
              std::vector<int> must = {}) {
  auto r = ChooseGpuSet(t, {std::move(available), std::move(must), size});
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : GpuSet();
}

using Ids = std::vector<int>;

// The specification, written the slow and obvious way: score every subset, keep the best,
// ties to the lexicographically smallest.
std::optional<Ids> Reference(const GpuSetChooser& c, const Ids& available, const Ids& must,
                             int size) {
  std::optional<Ids> best;
  GpuSetScore best_score;
  Ids pick;
  Ids sorted = available;
  std::sort(sorted.begin(), sorted.end());
  auto rec = [&](auto& self, size_t from) -> void {
    if (static_cast<int>(pick.size()) == size) {
      for (int m : must) {
        if (std::find(pick.begin(), pick.end(), m) == pick.end()) return;
      }
      GpuSetScore s = *c.Score(pick);
      int cmp = best ? CompareGpuSetScores(s, best_score) : 1;
      if (cmp > 0) {  // in lexicographic order, so the first of equals stays
        best = pick;
        best_score = s;
      }
      return;
    }
    for (size_t i = from; i < sorted.size(); ++i) {
      pick.push_back(sorted[i]);
      self(self, i + 1);
      pick.pop_back();
    }
  };
  rec(rec, 0);
  return best;
}

TEST(GpuSetTest, Dgx1PicksAFullyConnectedQuad) {
  NodeTopology t = Load("dgx1-v100.yaml");
  GpuSet s = Choose(t, All(t), 4);
  EXPECT_EQ(s.gpus, (Ids{0, 1, 2, 3}));
  EXPECT_TRUE(s.score.fully_connected);
  EXPECT_EQ(s.score.nvlink_links, 9);
  EXPECT_EQ(s.score.numa_nodes, 1);
  EXPECT_TRUE(s.exhaustive);

  // GPU 2 busy: the other quad is the only fully connected one left.
  s = Choose(t, Without(All(t), {2}), 4);
  EXPECT_EQ(s.gpus, (Ids{4, 5, 6, 7}));
  EXPECT_TRUE(s.score.fully_connected);

  // One GPU of each quad busy: no fully connected quad; the most links win, then NUMA, then
  // the lowest indices. {1,2,3,5}, {1,2,5,6} and {1,5,6,7} all have 7 links over 2 nodes.
  s = Choose(t, Without(All(t), {0, 4}), 4);
  EXPECT_EQ(s.gpus, (Ids{1, 2, 3, 5}));
  EXPECT_FALSE(s.score.fully_connected);
  EXPECT_EQ(s.score.nvlink_links, 7);

  // Pairs: the widest (2-link) pair with the lowest indices, on one NUMA node.
  s = Choose(t, All(t), 2);
  EXPECT_EQ(s.gpus, (Ids{0, 3}));
  EXPECT_EQ(s.score.nvlink_links, 2);
}

TEST(GpuSetTest, DgxH100PrefersOneNumaNodeThenLowestIndices) {
  NodeTopology t = Load("dgx-h100.yaml");
  EXPECT_EQ(Choose(t, All(t), 4).gpus, (Ids{0, 1, 2, 3}));
  EXPECT_EQ(Choose(t, All(t), 2).gpus, (Ids{0, 1}));
  EXPECT_EQ(Choose(t, All(t), 8).gpus, (Ids{0, 1, 2, 3, 4, 5, 6, 7}));
  // With 0 and 1 busy, {2,3,4,5} would span both sockets: {4,5,6,7} stays on one.
  GpuSet s = Choose(t, Without(All(t), {0, 1}), 4);
  EXPECT_EQ(s.gpus, (Ids{4, 5, 6, 7}));
  EXPECT_EQ(s.score.numa_nodes, 1);
  EXPECT_EQ(s.score.nvlink_links, 6 * 18);
}

TEST(GpuSetTest, PcieKeepsPairsOnOneNumaNode) {
  NodeTopology t = Load("pcie-4gpu-2numa.yaml");
  EXPECT_EQ(Choose(t, All(t), 2).gpus, (Ids{0, 1}));
  EXPECT_EQ(Choose(t, Without(All(t), {0}), 2).gpus, (Ids{2, 3}));
  EXPECT_EQ(Choose(t, All(t), 2, {2}).gpus, (Ids{2, 3}));
  EXPECT_EQ(Choose(t, All(t), 2, {1}).gpus, (Ids{0, 1}));
  GpuSet s = Choose(t, Without(All(t), {0, 3}), 2);
  EXPECT_EQ(s.gpus, (Ids{1, 2}));
  EXPECT_EQ(s.score.numa_nodes, 2);
  EXPECT_FALSE(s.score.fully_connected);
}

TEST(GpuSetTest, SingleGpu) {
  NodeTopology t = Load("single-h100.yaml");
  GpuSet s = Choose(t, {0}, 1);
  EXPECT_EQ(s.gpus, (Ids{0}));
  EXPECT_TRUE(s.score.fully_connected);
  EXPECT_EQ(s.score.numa_nodes, 1);
}

TEST(GpuSetTest, MustIncludeIsHonoured) {
  NodeTopology t = Load("dgx1-v100.yaml");
  GpuSet s = Choose(t, All(t), 4, {0, 4});
  EXPECT_TRUE(std::count(s.gpus.begin(), s.gpus.end(), 0));
  EXPECT_TRUE(std::count(s.gpus.begin(), s.gpus.end(), 4));
  EXPECT_EQ(s.gpus, (Ids{0, 2, 3, 4}));
  // must_include filling the whole set returns exactly it.
  EXPECT_EQ(Choose(t, All(t), 2, {6, 1}).gpus, (Ids{1, 6}));
  // One must-include GPU pulls the set into its quad.
  EXPECT_EQ(Choose(t, All(t), 4, {5}).gpus, (Ids{4, 5, 6, 7}));
}

TEST(GpuSetTest, ClearErrors) {
  NodeTopology t = Load("dgx1-v100.yaml");
  auto r = ChooseGpuSet(t, {{0, 1, 2}, {}, 4});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("only 3 are available"), std::string::npos) << r.status();

  r = ChooseGpuSet(t, {{0, 1, 2}, {5}, 2});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("must-include GPU 5"), std::string::npos) << r.status();

  r = ChooseGpuSet(t, {{0, 1, 9}, {}, 2});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("GPU 9 is not on this node (GPU indices: 0-7)"),
            std::string::npos)
      << r.status();

  r = ChooseGpuSet(t, {{0, 1}, {-1}, 2});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("must-include GPU -1"), std::string::npos) << r.status();

  r = ChooseGpuSet(t, {{0, 1, 2}, {0, 1, 2}, 2});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("do not fit"), std::string::npos) << r.status();

  EXPECT_EQ(ChooseGpuSet(t, {{0, 1}, {}, 0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(HasFullyConnectedSet(t, Ids{12}, 1).ok());

  NodeTopology broken = t;
  broken.nvlink[0][1] = 5;
  EXPECT_FALSE(GpuSetChooser::Create(broken).ok());
}

TEST(GpuSetTest, DeterministicWhateverTheInputOrder) {
  NodeTopology t = Load("dgx-h100.yaml");
  std::mt19937 rng(7);
  Ids avail = {7, 3, 5, 1, 6, 4, 2};
  GpuSet first = Choose(t, avail, 3);
  for (int i = 0; i < 20; ++i) {
    std::shuffle(avail.begin(), avail.end(), rng);
    Ids dup = avail;
    dup.push_back(avail[0]);  // duplicates are harmless
    EXPECT_EQ(Choose(t, dup, 3).gpus, first.gpus);
  }
  EXPECT_EQ(first.gpus, (Ids{1, 2, 3}));
}

TEST(GpuSetTest, FullyConnectedPredicate) {
  NodeTopology v = Load("dgx1-v100.yaml");
  auto chooser = GpuSetChooser::Create(v);
  ASSERT_TRUE(chooser.ok()) << chooser.status();
  EXPECT_TRUE(*chooser->HasFullyConnectedSet(All(v), 4));
  EXPECT_FALSE(*chooser->HasFullyConnectedSet(All(v), 5));
  EXPECT_TRUE(*chooser->HasFullyConnectedSet(Without(All(v), {0}), 4));
  EXPECT_FALSE(*chooser->HasFullyConnectedSet(Without(All(v), {0, 4}), 4));
  EXPECT_TRUE(*chooser->HasFullyConnectedSet(Without(All(v), {0, 4}), 3));
  EXPECT_TRUE(*chooser->HasFullyConnectedSet(Ids{0, 4}, 2));  // i <-> i+4
  EXPECT_FALSE(*chooser->HasFullyConnectedSet(Ids{0, 5}, 2));
  EXPECT_FALSE(*chooser->HasFullyConnectedSet(Ids{0, 1}, 3));

  NodeTopology h = Load("dgx-h100.yaml");
  EXPECT_TRUE(*HasFullyConnectedSet(h, All(h), 8));
  NodeTopology p = Load("pcie-4gpu-2numa.yaml");
  EXPECT_FALSE(*HasFullyConnectedSet(p, All(p), 2));
  EXPECT_TRUE(*HasFullyConnectedSet(p, All(p), 1));
}

// A random topology: NVLink between some pairs, GPUs spread over NUMA nodes.
NodeTopology RandomTopology(std::mt19937& rng, int n) {
  NodeTopology t;
  int numa = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < numa; ++i) t.numa_nodes.push_back({i, {}});
  for (int i = 0; i < n; ++i) {
    Gpu g;
    g.index = i * 2;  // indices need not be dense
    g.uuid = "GPU-" + std::to_string(i);
    g.numa_node = static_cast<int>(rng() % numa);
    t.gpus.push_back(g);
  }
  ResetNvlinkMatrix(t);
  for (int a = 0; a < n; ++a) {
    for (int b = a + 1; b < n; ++b) {
      int l = rng() % 3 == 0 ? 0 : static_cast<int>(rng() % 4);
      t.nvlink[a][b] = t.nvlink[b][a] = l;
    }
  }
  return t;
}

TEST(GpuSetTest, MatchesExhaustiveReference) {
  std::mt19937 rng(42);
  std::vector<NodeTopology> tops = {Load("dgx1-v100.yaml"), Load("dgx-h100.yaml"),
                                    Load("pcie-4gpu-2numa.yaml")};
  for (int i = 0; i < 40; ++i) tops.push_back(RandomTopology(rng, 2 + static_cast<int>(rng() % 9)));
  int checked = 0;
  for (const NodeTopology& t : tops) {
    auto chooser = GpuSetChooser::Create(t);
    ASSERT_TRUE(chooser.ok()) << chooser.status();
    for (int trial = 0; trial < 30; ++trial) {
      Ids avail, must;
      for (const Gpu& g : t.gpus) {
        if (rng() % 4 != 0) avail.push_back(g.index);
      }
      if (avail.empty()) continue;
      int size = 1 + static_cast<int>(rng() % avail.size());
      if (rng() % 3 == 0) must.push_back(avail[rng() % avail.size()]);
      auto got = chooser->Choose({avail, must, size});
      ASSERT_TRUE(got.ok()) << got.status();
      auto want = Reference(*chooser, avail, must, size);
      ASSERT_TRUE(want.has_value());
      ASSERT_EQ(got->gpus, *want) << "size " << size << " trial " << trial;
      EXPECT_EQ(got->score, *chooser->Score(*want));
      // The predicate agrees with the search.
      bool any_fc = *chooser->HasFullyConnectedSet(avail, size);
      if (must.empty()) {
        EXPECT_EQ(any_fc, got->score.fully_connected);
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 500);
}

TEST(GpuSetTest, HugeSearchesStopAtTheBudgetWithAGoodAnswer) {
  std::mt19937 rng(3);
  NodeTopology t = RandomTopology(rng, 64);
  auto chooser = GpuSetChooser::Create(t);
  ASSERT_TRUE(chooser.ok()) << chooser.status();
  auto r = chooser->Choose({All(t), {All(t)[5]}, 32});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->gpus.size(), 32u);
  EXPECT_TRUE(std::is_sorted(r->gpus.begin(), r->gpus.end()));
  EXPECT_TRUE(std::count(r->gpus.begin(), r->gpus.end(), All(t)[5]));
  EXPECT_EQ(r->score, *chooser->Score(r->gpus));
  EXPECT_FALSE(r->exhaustive);
}

}  // namespace
}  // namespace zenith::deviceplugin
