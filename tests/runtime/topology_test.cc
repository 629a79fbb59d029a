#include "zenith/runtime/topology.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "zenith/runtime/numa_memory.h"

#ifdef ZENITH_HAVE_HWLOC
#include <hwloc.h>
#endif

namespace zenith::runtime {
namespace {

TEST(TopologyTest, ThisMachineHasCpusAndMemory) {
  auto t = DiscoverTopology();
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_GE(t->packages, 1);
  ASSERT_GE(t->numa_nodes.size(), 1u);
  EXPECT_GT(t->numa_nodes[0].memory_bytes, 0u);
  EXPECT_FALSE(t->pus.empty());
  EXPECT_FALSE(t->cores.empty());
  for (const auto& d : t->pci_devices) {
    if (d.vendor_id == kNvidiaVendorId && (d.class_id >> 8) == 0x03) {
      EXPECT_EQ(d.kind, "gpu");
    }
    if ((d.class_id >> 8) == 0x02) {
      EXPECT_EQ(d.kind, "nic");
    }
  }
}

TEST(TopologyTest, JsonParsesBack) {
  auto t = DiscoverTopology().value();
  const std::size_t gpus = t.Gpus().size();  // the GPU machine has real ones
  t.pci_devices.push_back({"0000:3b:00.0", kNvidiaVendorId, 0x2330, 0x0302, "gpu", 1, ""});
  const std::string text = nlohmann::json(t).dump(2);
  auto back = TopologyFromJson(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(nlohmann::json(*back), nlohmann::json(t));
  ASSERT_EQ(back->Gpus().size(), gpus + 1);
  EXPECT_EQ(back->Gpus().back()->numa_node, 1);
  auto bad = TopologyFromJson(R"({"packages": 1})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("numa_nodes"), std::string::npos);
}

// A fake sysfs tree: what the kernel shows for a GPU and an RDMA NIC behind a bridge, a host
// bridge and an audio device (not kept), and the class links that name their OS devices.
class FakeSysfs {
 public:
  FakeSysfs()
      : root_(std::filesystem::temp_directory_path() /
              ("zenith-sysfs-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(root_);
  }
  ~FakeSysfs() { std::filesystem::remove_all(root_); }
  void Device(const std::string& bus_id, const std::string& cls, const std::string& vendor,
              const std::string& device, const std::string& numa) {
    const auto dir = root_ / "bus/pci/devices" / bus_id;
    std::filesystem::create_directories(dir);
    Write(dir / "class", cls + "\n");
    Write(dir / "vendor", vendor + "\n");
    Write(dir / "device", device + "\n");
    Write(dir / "numa_node", numa + "\n");
  }
  // /sys/class/<cls>/<name> -> ../../devices/<path>
  void Link(const std::string& cls, const std::string& name, const std::string& path,
            bool partition = false) {
    const auto dir = root_ / "class" / cls;
    std::filesystem::create_directories(dir);
    std::filesystem::create_directory_symlink("../../devices/" + path, dir / name);
    if (partition) {
      std::filesystem::create_directories(root_ / "devices" / path);
      Write(root_ / "devices" / path / "partition", "1\n");
    }
  }
  void File(const std::string& path, const std::string& text) {
    std::filesystem::create_directories((root_ / path).parent_path());
    Write(root_ / path, text);
  }
  std::string root() const { return root_.string(); }

 private:
  static void Write(const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p) << text;
  }
  std::filesystem::path root_;
};

TEST(TopologyTest, PciDevicesFromSysfs) {
  FakeSysfs sys;
  sys.Device("0000:3b:00.0", "0x030200", "0x10de", "0x2330", "1");
  sys.Device("0000:5e:00.0", "0x020000", "0x15b3", "0x101d", "-1");
  sys.Device("0000:5d:00.0", "0x060400", "0x8086", "0x347a", "1");  // the NIC's bridge
  sys.Device("0000:00:00.0", "0x060000", "0x8086", "0x09a2", "-1");
  sys.Device("0000:00:1f.3", "0x040300", "0x8086", "0xa1f0", "-1");
  sys.Link("net", "ens1f0", "pci0000:5d/0000:5d:00.0/0000:5e:00.0/net/ens1f0");
  sys.Link("net", "lo", "virtual/net/lo");
  sys.Link("infiniband", "mlx5_0", "pci0000:5d/0000:5d:00.0/0000:5e:00.0/infiniband/mlx5_0");
  sys.Link("drm", "card1", "pci0000:3a/0000:3a:00.0/0000:3b:00.0/drm/card1");
  sys.Link("drm", "card1-DP-1", "pci0000:3a/0000:3a:00.0/0000:3b:00.0/drm/card1/card1-DP-1");
  sys.Link("drm", "renderD128", "pci0000:3a/0000:3a:00.0/0000:3b:00.0/drm/renderD128");
  sys.Link("block", "sda1", "pci0000:00/0000:00:1f.3/block/sda/sda1", /*partition=*/true);

  auto t = DiscoverTopology({.io_devices = true, .synthetic = "", .sysfs_root = sys.root()});
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->pci_devices.size(), 2u) << nlohmann::json(*t)["pci_devices"].dump();
  const auto& gpu = t->pci_devices[0];
  EXPECT_EQ(gpu.bus_id, "0000:3b:00.0");
  EXPECT_EQ(gpu.vendor_id, kNvidiaVendorId);
  EXPECT_EQ(gpu.device_id, 0x2330);
  EXPECT_EQ(gpu.class_id, 0x0302);
  EXPECT_EQ(gpu.kind, "gpu");
  EXPECT_EQ(gpu.numa_node, 1);
  EXPECT_EQ(gpu.name, "card1,renderD128");
  const auto& nic = t->pci_devices[1];
  EXPECT_EQ(nic.bus_id, "0000:5e:00.0");
  EXPECT_EQ(nic.kind, "nic");
  EXPECT_EQ(nic.name, "ens1f0,mlx5_0");
  // No affinity from the kernel: node 0 when there is only one, unknown among several.
  EXPECT_EQ(nic.numa_node, t->numa_nodes.size() == 1 ? 0 : -1);

  auto none = DiscoverTopology({.io_devices = false, .synthetic = "", .sysfs_root = sys.root()});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->pci_devices.empty());
}

#ifdef ZENITH_HAVE_HWLOC
// The sysfs reader finds what hwloc's own PCI discovery (KEEP_IMPORTANT) finds on this machine.
TEST(TopologyTest, PciDevicesMatchHwlocOnThisMachine) {
  hwloc_topology_t topo;
  ASSERT_EQ(hwloc_topology_init(&topo), 0);
  hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  ASSERT_EQ(hwloc_topology_load(topo), 0);
  std::map<std::string, Topology::PciDevice> want;
  for (hwloc_obj_t d = hwloc_get_next_pcidev(topo, nullptr); d != nullptr;
       d = hwloc_get_next_pcidev(topo, d)) {
    Topology::PciDevice dev;
    char bus[32];
    std::snprintf(bus, sizeof(bus), "%04x:%02x:%02x.%x", d->attr->pcidev.domain,
                  d->attr->pcidev.bus, d->attr->pcidev.dev, d->attr->pcidev.func);
    dev.bus_id = bus;
    dev.vendor_id = d->attr->pcidev.vendor_id;
    dev.device_id = d->attr->pcidev.device_id;
    dev.class_id = d->attr->pcidev.class_id;
    std::set<std::string> names;
    for (hwloc_obj_t os = d->io_first_child; os != nullptr; os = os->next_sibling) {
      // hwloc's plugins (CUDA, NVML, OpenCL) add names sysfs does not have.
      if (os->type != HWLOC_OBJ_OS_DEVICE || os->name == nullptr) continue;
      const std::string name = os->name;
      if (os->attr->osdev.type == HWLOC_OBJ_OSDEV_COPROC || name.rfind("nvml", 0) == 0 ||
          name.rfind("rsmi", 0) == 0) {
        continue;
      }
      names.insert(name);
    }
    for (const auto& n : names) dev.name += (dev.name.empty() ? "" : ",") + n;
    // Attached below one NUMA node: that node; below several: hwloc does not know.
    hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(topo, d);
    dev.numa_node =
        anc != nullptr && anc->nodeset != nullptr && hwloc_bitmap_weight(anc->nodeset) == 1
            ? hwloc_bitmap_first(anc->nodeset)
            : -1;
    want[dev.bus_id] = dev;
  }
  hwloc_topology_destroy(topo);

  auto t = DiscoverTopology();
  ASSERT_TRUE(t.ok()) << t.status();
  std::set<std::string> got_ids;
  for (const auto& dev : t->pci_devices) {
    got_ids.insert(dev.bus_id);
    auto it = want.find(dev.bus_id);
    ASSERT_NE(it, want.end()) << dev.bus_id << " is not in hwloc's list";
    EXPECT_EQ(dev.vendor_id, it->second.vendor_id) << dev.bus_id;
    EXPECT_EQ(dev.device_id, it->second.device_id) << dev.bus_id;
    EXPECT_EQ(dev.class_id, it->second.class_id) << dev.bus_id;
    EXPECT_EQ(dev.name, it->second.name) << dev.bus_id;
    if (it->second.numa_node >= 0) {
      EXPECT_EQ(dev.numa_node, it->second.numa_node) << dev.bus_id;
    }
  }
  for (const auto& [id, dev] : want) EXPECT_TRUE(got_ids.contains(id)) << id << " missed";
}
#endif

// The cache answers from memory while nothing moved, and discovers again when a CPU goes
// offline, a PCI device appears or an interface is renamed.
TEST(TopologyCacheTest, RediscoversWhenTheMachineChanges) {
  FakeSysfs sys;
  sys.File("devices/system/cpu/online", "0-1\n");
  sys.Device("0000:3b:00.0", "0x030200", "0x10de", "0x2330", "0");
  sys.Link("net", "eth0", "virtual/net/eth0");
  TopologyCache cache({.io_devices = true, .synthetic = "", .sysfs_root = sys.root()});
  auto first = cache.Get();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->pci_devices.size(), 1u);
  auto again = cache.Get();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(cache.discoveries(), 1);
  EXPECT_EQ(nlohmann::json(*again), nlohmann::json(*first));

  sys.Device("0000:5e:00.0", "0x020000", "0x15b3", "0x101d", "0");
  auto added = cache.Get();
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(cache.discoveries(), 2);
  EXPECT_EQ(added->pci_devices.size(), 2u);

  sys.File("devices/system/cpu/online", "0\n");
  ASSERT_TRUE(cache.Get().ok());
  EXPECT_EQ(cache.discoveries(), 3);

  std::filesystem::rename(std::filesystem::path(sys.root()) / "class/net/eth0",
                          std::filesystem::path(sys.root()) / "class/net/ens3");
  ASSERT_TRUE(cache.Get().ok());
  ASSERT_TRUE(cache.Get().ok());
  EXPECT_EQ(cache.discoveries(), 4);
}

TEST(TopologyTest, SyntheticTwoNodeMachine) {
  auto t = DiscoverTopology({.io_devices = false, .synthetic = "package:2 numa:1 core:2 pu:2"});
  if (!t.ok() && t.status().code() == StatusCode::kUnimplemented) GTEST_SKIP() << t.status();
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->packages, 2);
  ASSERT_EQ(t->numa_nodes.size(), 2u);
  EXPECT_EQ(t->cores.size(), 4u);
  EXPECT_EQ(t->pus.size(), 8u);
  EXPECT_EQ(t->CpusOfNode(1), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(t->cores[3].numa_node, 1);
}

TEST(NumaAllocatorTest, AllocatesOnEveryNodeAndDegradesOnOne) {
  auto alloc = NumaAllocator::Create();
  ASSERT_TRUE(alloc.ok()) << alloc.status();
  for (int node = 0; node < (*alloc)->node_count(); ++node) {
    auto buf = (*alloc)->Allocate(3 * 4096 + 5, node);
    ASSERT_TRUE(buf.ok()) << buf.status();
    EXPECT_EQ(buf->size(), 4u * 4096);
    EXPECT_EQ(buf->node(), node);
    if ((*alloc)->node_count() == 1) {
      EXPECT_FALSE(buf->bound());
    }
    buf->data()[buf->size() - 1] = std::byte{7};
  }
  EXPECT_FALSE((*alloc)->Allocate(0, 0).ok());
}

}  // namespace
}  // namespace zenith::runtime
