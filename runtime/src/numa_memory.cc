#include "zenith/runtime/numa_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "zenith/common/log.h"

#ifdef ZENITH_HAVE_HWLOC
#include <hwloc.h>
#endif

namespace zenith::runtime {

NumaBuffer::~NumaBuffer() {
  if (data_ != nullptr) munmap(data_, size_);
}

NumaBuffer::NumaBuffer(NumaBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      node_(other.node_),
      bound_(other.bound_) {}

NumaBuffer& NumaBuffer::operator=(NumaBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    node_ = other.node_;
    bound_ = other.bound_;
  }
  return *this;
}

struct NumaAllocator::Impl {
#ifdef ZENITH_HAVE_HWLOC
  hwloc_topology_t topo = nullptr;
  ~Impl() {
    if (topo) hwloc_topology_destroy(topo);
  }
#endif
  int nodes = 1;
};

NumaAllocator::NumaAllocator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NumaAllocator::~NumaAllocator() = default;

Result<std::unique_ptr<NumaAllocator>> NumaAllocator::Create() {
  auto impl = std::make_unique<Impl>();
#ifdef ZENITH_HAVE_HWLOC
  if (hwloc_topology_init(&impl->topo) != 0 || hwloc_topology_load(impl->topo) != 0) {
    return InternalError("NUMA allocator: hwloc topology load failed");
  }
  impl->nodes = std::max(1, hwloc_get_nbobjs_by_type(impl->topo, HWLOC_OBJ_NUMANODE));
#endif
  return std::unique_ptr<NumaAllocator>(new NumaAllocator(std::move(impl)));
}

int NumaAllocator::node_count() const { return impl_->nodes; }

Result<NumaBuffer> NumaAllocator::Allocate(std::size_t bytes, int node) {
  if (bytes == 0) return InvalidArgumentError("NUMA allocation of 0 bytes");
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t size = (bytes + page - 1) / page * page;
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    return ResourceExhaustedError("NUMA allocation of " + std::to_string(bytes) +
                                  " bytes on node " + std::to_string(node) + ": " +
                                  ErrnoMessage(errno));
  }
  NumaBuffer buf;
  buf.data_ = static_cast<std::byte*>(mem);
  buf.size_ = size;
  buf.node_ = node;
#ifdef ZENITH_HAVE_HWLOC
  if (impl_->nodes > 1) {
    hwloc_obj_t obj = nullptr;
    for (int i = 0; i < impl_->nodes; ++i) {
      hwloc_obj_t n = hwloc_get_obj_by_type(impl_->topo, HWLOC_OBJ_NUMANODE, i);
      if (n && static_cast<int>(n->os_index) == node) obj = n;
    }
    if (obj == nullptr) {
      return InvalidArgumentError("NUMA allocation: no node " + std::to_string(node));
    }
    if (hwloc_set_area_membind(impl_->topo, mem, size, obj->nodeset, HWLOC_MEMBIND_BIND,
                               HWLOC_MEMBIND_BYNODESET) == 0) {
      buf.bound_ = true;
    } else {
      common::log::Warn("NUMA binding refused; relying on first touch",
                        {{"node", node}, {"bytes", size}, {"error", ErrnoMessage(errno)}});
    }
  }
#endif
  // First touch: on an unbound buffer the pages land on the calling thread's node.
  for (std::size_t off = 0; off < size; off += page) buf.data_[off] = std::byte{0};
  return buf;
}

}  // namespace zenith::runtime
