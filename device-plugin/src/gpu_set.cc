#include "zenith/deviceplugin/gpu_set.h"

#include <algorithm>
#include <bit>
#include <map>

#include "zenith/deviceplugin/cpu_list.h"

namespace zenith::deviceplugin {

int CompareGpuSetScores(const GpuSetScore& a, const GpuSetScore& b) {
  if (a.fully_connected != b.fully_connected) return a.fully_connected ? 1 : -1;
  if (a.nvlink_links != b.nvlink_links) return a.nvlink_links > b.nvlink_links ? 1 : -1;
  if (a.numa_nodes != b.numa_nodes) return a.numa_nodes < b.numa_nodes ? 1 : -1;
  return 0;
}

namespace {

using Mask = uint64_t;

// Sets of equal size compare as their sorted index lists: the one holding the lowest
// position where they differ is smaller.
bool LexLess(Mask a, Mask b) {
  Mask diff = a ^ b;
  return diff != 0 && (a & diff & (~diff + 1)) != 0;
}

std::vector<int> PositionsOf(Mask m) {
  std::vector<int> out;
  for (; m != 0; m &= m - 1) out.push_back(std::countr_zero(m));
  return out;
}

}  // namespace

Result<GpuSetChooser> GpuSetChooser::Create(const NodeTopology& topology) {
  ZENITH_RETURN_IF_ERROR(ValidateTopology(topology));
  const size_t n = topology.gpus.size();
  if (n > 64) {
    return InvalidArgumentError("GPU set scoring handles at most 64 GPUs per node, got " +
                                std::to_string(n));
  }
  GpuSetChooser c;
  c.index_.resize(n);
  c.links_.assign(n, std::vector<int>(n, 0));
  c.connected_.assign(n, 0);
  c.numa_bit_.assign(n, 0);
  std::map<int, int> numa_bits;  // NUMA id (-1 included) → bit
  for (size_t a = 0; a < n; ++a) {
    c.index_[a] = topology.gpus[a].index;
    auto [it, added] = numa_bits.emplace(topology.gpus[a].numa_node, numa_bits.size());
    c.numa_bit_[a] = Mask{1} << it->second;
    for (size_t b = 0; b < n; ++b) {
      int l = topology.Links(a, b);
      c.links_[a][b] = l;
      if (l > 0) c.connected_[a] |= Mask{1} << b;
      c.max_link_ = std::max(c.max_link_, l);
    }
  }
  return c;
}

Result<GpuSetChooser::Mask> GpuSetChooser::MaskOf(std::span<const int> indices,
                                                  const char* what) const {
  Mask m = 0;
  for (int index : indices) {
    auto it = std::lower_bound(index_.begin(), index_.end(), index);
    if (it == index_.end() || *it != index) {
      return InvalidArgumentError(std::string(what) + " GPU " + std::to_string(index) +
                                  " is not on this node (GPU indices: " + FormatCpuList(index_) +
                                  ")");
    }
    m |= Mask{1} << (it - index_.begin());
  }
  return m;
}

GpuSetScore GpuSetChooser::ScoreMask(Mask set) const {
  GpuSetScore s;
  s.fully_connected = true;
  Mask numa = 0;
  for (Mask m = set; m != 0; m &= m - 1) {
    int a = std::countr_zero(m);
    numa |= numa_bit_[a];
    Mask later = set & ~((Mask{2} << a) - 1);  // members after a
    if ((connected_[a] & later) != later) s.fully_connected = false;
    for (Mask o = later; o != 0; o &= o - 1) s.nvlink_links += links_[a][std::countr_zero(o)];
  }
  s.numa_nodes = std::popcount(numa);
  return s;
}

Result<GpuSetScore> GpuSetChooser::Score(std::span<const int> gpus) const {
  ZENITH_ASSIGN_OR_RETURN(Mask m, MaskOf(gpus, "scored"));
  return ScoreMask(m);
}

// Branch and bound over the candidates in increasing position order, so sets are visited in
// lexicographic order and the first of equally scored sets is the one the tie-break wants.
struct GpuSetChooser::Search {
  explicit Search(const GpuSetChooser& chooser) : c(chooser) {}
  const GpuSetChooser& c;
  std::vector<int> cand;  // candidate positions, ascending
  int size = 0;           // members still to add at the root

  Mask cur = 0;
  int cur_links = 0;
  bool cur_fc = true;
  Mask cur_numa = 0;
  std::vector<int> to_cur;  // by position: links into the current set

  Mask best = 0;
  GpuSetScore best_score;
  bool have_best = false;
  int64_t steps = 0;
  bool out_of_budget = false;

  void Add(int p) {
    cur_fc = cur_fc && (c.connected_[p] & cur) == cur;
    cur_links += to_cur[p];
    cur |= Mask{1} << p;
    cur_numa |= c.numa_bit_[p];
    for (size_t q = 0; q < to_cur.size(); ++q) to_cur[q] += c.links_[p][q];
  }

  void Offer(Mask set, const GpuSetScore& score) {
    int cmp = have_best ? CompareGpuSetScores(score, best_score) : 1;
    if (cmp > 0 || (cmp == 0 && LexLess(set, best))) {
      best = set;
      best_score = score;
      have_best = true;
    }
  }

  // Builds a good first answer fast so the search prunes from the start: grow from `cur`,
  // adding the candidate that scores best, from each possible first member.
  void Greedy(int remaining) {
    const Mask start = cur;
    const int start_links = cur_links;
    const bool start_fc = cur_fc;
    const Mask start_numa = cur_numa;
    const std::vector<int> start_to = to_cur;
    const size_t seeds = start == 0 ? cand.size() : 1;
    for (size_t s = 0; s < seeds; ++s) {
      if (start == 0) Add(cand[s]);
      for (int step = std::popcount(cur) - std::popcount(start); step < remaining; ++step) {
        int pick = -1;
        GpuSetScore pick_score;
        for (int p : cand) {
          if (cur & (Mask{1} << p)) continue;
          GpuSetScore sc{cur_fc && (c.connected_[p] & cur) == cur, cur_links + to_cur[p],
                         std::popcount(cur_numa | c.numa_bit_[p])};
          if (pick < 0 || CompareGpuSetScores(sc, pick_score) > 0) {
            pick = p;
            pick_score = sc;
          }
        }
        Add(pick);
      }
      Offer(cur, {cur_fc, cur_links, std::popcount(cur_numa)});
      cur = start;
      cur_links = start_links;
      cur_fc = start_fc;
      cur_numa = start_numa;
      to_cur = start_to;
    }
  }

  // The best any completion of the current set with `r` of cand[from..] could score.
  bool Hopeless(size_t from, int r) const {
    if (!have_best) return false;
    int extra[64];
    int m = 0;
    Mask rest = 0;
    for (size_t i = from; i < cand.size(); ++i) {
      extra[m++] = to_cur[cand[i]];
      rest |= Mask{1} << cand[i];
    }
    std::nth_element(extra, extra + r - 1, extra + m, std::greater<int>());
    int gain = 0;
    for (int i = 0; i < r; ++i) gain += extra[i];
    GpuSetScore bound;
    Mask common = rest;
    for (Mask mm = cur; mm != 0; mm &= mm - 1) common &= c.connected_[std::countr_zero(mm)];
    bound.fully_connected = cur_fc && std::popcount(common) >= r;
    bound.nvlink_links = cur_links + gain + r * (r - 1) / 2 * c.max_link_;
    bound.numa_nodes = std::popcount(cur_numa);
    int cmp = CompareGpuSetScores(bound, best_score);
    if (cmp != 0) return cmp < 0;
    // Equal at best: only a lexicographically smaller set could still win, and the smallest
    // completion is the current set plus the next r candidates.
    Mask smallest = cur;
    for (size_t i = from; i < from + r; ++i) smallest |= Mask{1} << cand[i];
    return !LexLess(smallest, best);
  }

  void Run(size_t from, int r) {
    if (++steps > kSearchBudget) {
      out_of_budget = true;
      return;
    }
    if (r == 0) {
      Offer(cur, {cur_fc, cur_links, std::popcount(cur_numa)});
      return;
    }
    if (Hopeless(from, r)) return;
    for (size_t i = from; i + r <= cand.size() && !out_of_budget; ++i) {
      const int p = cand[i];
      // Once a fully connected set is in hand, a member that breaks full connection loses.
      if (have_best && best_score.fully_connected && (c.connected_[p] & cur) != cur) continue;
      const Mask saved = cur;
      const int saved_links = cur_links;
      const bool saved_fc = cur_fc;
      const Mask saved_numa = cur_numa;
      Add(p);
      Run(i + 1, r - 1);
      for (size_t q = 0; q < to_cur.size(); ++q) to_cur[q] -= c.links_[p][q];
      cur = saved;
      cur_links = saved_links;
      cur_fc = saved_fc;
      cur_numa = saved_numa;
    }
  }
};

Result<GpuSet> GpuSetChooser::Choose(const GpuSetRequest& request) const {
  if (request.size < 1) {
    return InvalidArgumentError("GPU set size must be at least 1, got " +
                                std::to_string(request.size));
  }
  ZENITH_ASSIGN_OR_RETURN(Mask available, MaskOf(request.available, "available"));
  ZENITH_ASSIGN_OR_RETURN(Mask must, MaskOf(request.must_include, "must-include"));
  if (Mask missing = must & ~available; missing != 0) {
    return InvalidArgumentError("must-include GPU " +
                                std::to_string(index_[std::countr_zero(missing)]) +
                                " is not among the available GPUs");
  }
  const int have = std::popcount(available);
  if (request.size > have) {
    return ResourceExhaustedError("asked for " + std::to_string(request.size) + " GPUs but only " +
                                  std::to_string(have) + " are available");
  }
  if (std::popcount(must) > request.size) {
    return InvalidArgumentError(std::to_string(std::popcount(must)) +
                                " must-include GPUs do not fit in a set of " +
                                std::to_string(request.size));
  }

  Search s(*this);
  s.to_cur.assign(index_.size(), 0);
  for (int p : PositionsOf(must)) s.Add(p);
  s.cand = PositionsOf(available & ~must);
  const int r = request.size - std::popcount(must);
  if (r == 0) {
    s.Offer(s.cur, {s.cur_fc, s.cur_links, std::popcount(s.cur_numa)});
  } else {
    s.Greedy(r);
    s.Run(0, r);
  }
  GpuSet out;
  for (int p : PositionsOf(s.best)) out.gpus.push_back(index_[p]);
  out.score = s.best_score;
  out.exhaustive = !s.out_of_budget;
  return out;
}

Result<bool> GpuSetChooser::HasFullyConnectedSet(std::span<const int> available, int size) const {
  if (size < 1) {
    return InvalidArgumentError("GPU set size must be at least 1, got " + std::to_string(size));
  }
  ZENITH_ASSIGN_OR_RETURN(Mask free, MaskOf(available, "available"));
  // Clique search: every member added narrows the candidates to its NVLink neighbours.
  auto clique = [&](auto& self, Mask cand, int need) -> bool {
    if (need == 0) return true;
    while (std::popcount(cand) >= need) {
      int p = std::countr_zero(cand);
      cand &= cand - 1;  // later branches never take p again
      if (self(self, cand & connected_[p], need - 1)) return true;
    }
    return false;
  };
  return clique(clique, free, size);
}

Result<GpuSet> ChooseGpuSet(const NodeTopology& topology, const GpuSetRequest& request) {
  ZENITH_ASSIGN_OR_RETURN(GpuSetChooser chooser, GpuSetChooser::Create(topology));
  return chooser.Choose(request);
}

Result<bool> HasFullyConnectedSet(const NodeTopology& topology, std::span<const int> available,
                                  int size) {
  ZENITH_ASSIGN_OR_RETURN(GpuSetChooser chooser, GpuSetChooser::Create(topology));
  return chooser.HasFullyConnectedSet(available, size);
}

}  // namespace zenith::deviceplugin
