// Memory placed on a chosen NUMA node, so a buffer sits next to the GPU or NIC that reads it.
// With hwloc and more than one node the pages are bound (hwloc membind); otherwise, and when
// binding is refused, the pages are still allocated and first-touched by the caller, and the
// buffer says it is not bound. It never fails just because the machine has one node.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "zenith/common/status.h"

namespace zenith::runtime {

class NumaBuffer {
 public:
  NumaBuffer() = default;
  ~NumaBuffer();
  NumaBuffer(NumaBuffer&& other) noexcept;
  NumaBuffer& operator=(NumaBuffer&& other) noexcept;

  std::span<std::byte> bytes() const { return {data_, size_}; }
  std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  int node() const { return node_; }
  bool bound() const { return bound_; }  // true when the kernel was told to keep it on node()

 private:
  friend class NumaAllocator;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  int node_ = -1;
  bool bound_ = false;
};

class NumaAllocator {
 public:
  static Result<std::unique_ptr<NumaAllocator>> Create();
  ~NumaAllocator();

  int node_count() const;
  // Page-aligned, zero-filled memory of `bytes` on `node` (OS index); every page is touched.
  Result<NumaBuffer> Allocate(std::size_t bytes, int node);

 private:
  struct Impl;
  explicit NumaAllocator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zenith::runtime
