// A forward-only window over one file's bytes that the format parsers pull from: it reads
// ahead in large chunks (several requests in flight through the FileReader) and lets a parser
// peek at the next n bytes without copying them. MemorySource serves tests and fuzzers.
// Errors name the file and the byte offset; a file that shrinks while read is an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

#include "zenith/common/status.h"
#include "zenith/runtime/aligned_buffer.h"
#include "zenith/runtime/file_reader.h"

namespace zenith::runtime {

class MappingCache;

class ByteSource {
 public:
  virtual ~ByteSource() = default;

  const std::string& name() const { return name_; }
  uint64_t size() const { return size_; }
  uint64_t position() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  // The bytes from position(): at least min(n, remaining()) of them, perhaps more. Valid until
  // the next Peek, Consume or Skip.
  Result<std::span<const std::byte>> Peek(std::size_t n);
  // Moves position() forward by n bytes (n <= remaining()).
  Status Skip(uint64_t n);

  // "<file>: <what> at byte offset <offset>", the shape of every format error.
  Status ErrorAt(uint64_t offset, const std::string& what) const;

 protected:
  ByteSource(std::string name, uint64_t size, std::size_t chunk_bytes);
  // The whole file is in memory at `whole` (size() bytes, outliving the source): Peek hands out
  // spans of it and never calls Fill.
  void ServeFrom(std::span<const std::byte> whole) { whole_ = whole; }
  // Fills `dst` with the file's bytes from `offset` (dst never reaches past size()); returns
  // how many were read, fewer only when the file shrank.
  virtual Result<std::size_t> Fill(uint64_t offset, std::span<std::byte> dst) = 0;

 private:
  std::string name_;
  uint64_t size_;
  uint64_t pos_ = 0;
  AlignedBuffer buffer_;
  std::size_t begin_ = 0;  // buffer_[begin_, end_) holds the file's [pos_, pos_ + end_ - begin_)
  std::size_t end_ = 0;
  std::span<const std::byte> whole_;  // set by ServeFrom
};

// Bytes already in memory (tests, fuzzers); the span must outlive the source.
class MemorySource : public ByteSource {
 public:
  MemorySource(std::string name, std::span<const std::byte> data, std::size_t chunk_bytes = 4096)
      : ByteSource(std::move(name), data.size(), chunk_bytes), data_(data) {}

 protected:
  Result<std::size_t> Fill(uint64_t offset, std::span<std::byte> dst) override;

 private:
  std::span<const std::byte> data_;
};

// One file through a FileReader (io_uring or pread); closes the file when destroyed.
class FileSource : public ByteSource {
 public:
  struct Options {
    std::size_t chunk_bytes = 1 << 20;      // the window's starting size (grows for big records)
    std::size_t request_bytes = 256 << 10;  // a refill is split into requests of this size
    // Map the file (MappedFileSource) instead of reading it through the FileReader.
    bool map = false;
    // Mapped files: keep their mappings here for the next epoch (null: unmap after reading).
    std::shared_ptr<MappingCache> map_cache;
  };
  static Result<std::unique_ptr<FileSource>> Open(FileReader& reader, const std::string& path,
                                                  const Options& options);
  static Result<std::unique_ptr<FileSource>> Open(FileReader& reader, const std::string& path) {
    return Open(reader, path, Options{});
  }
  ~FileSource() override;

 protected:
  Result<std::size_t> Fill(uint64_t offset, std::span<std::byte> dst) override;

 private:
  FileSource(FileReader& reader, int file, const std::string& path, uint64_t size,
             const Options& options)
      : ByteSource(path, size, options.chunk_bytes),
        reader_(reader),
        file_(file),
        request_bytes_(options.request_bytes) {}

  FileReader& reader_;
  int file_;
  std::size_t request_bytes_;
};

// One file's bytes mapped read-only; unmapped when the last holder lets go.
class FileMapping {
 public:
  FileMapping(void* data, uint64_t size) : data_(data), size_(size) {}
  ~FileMapping();
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;
  std::span<const std::byte> bytes() const { return {static_cast<const std::byte*>(data_), size_}; }

 private:
  void* data_;  // null for an empty file
  uint64_t size_;
};

// Mappings kept from one epoch to the next, so a dataset that fits in memory is mapped once.
// Mapping a file and unmapping it can cost the kernel as much as copying it out of the page
// cache (0.4-0.9 us per 4 KiB page on the benchmark VM for a file held in 4 KiB pages: page-table
// entries, reverse maps and memory-cgroup counters, both ways; 0.07-0.08 us in large folios), so
// a mapping made again every epoch can lose most of what reading in place saved. A file is mapped
// afresh when its identity (device, inode, size, modification time) changed. Beyond `budget_bytes`
// the least recently used mappings are dropped; a source still reading one keeps it alive until it
// is done. Thread-safe.
class MappingCache {
 public:
  explicit MappingCache(uint64_t budget_bytes) : budget_(budget_bytes) {}
  uint64_t kept_bytes() const;
  std::size_t kept_files() const;

 private:
  friend class MappedFileSource;
  struct Identity {
    uint64_t device = 0, inode = 0, size = 0;
    int64_t mtime_ns = 0;
    friend bool operator==(const Identity&, const Identity&) = default;
  };
  struct Entry {
    std::string path;
    Identity id;
    std::shared_ptr<const FileMapping> mapping;
  };
  // The kept mapping of `path` if its identity is still `id` (and marks it recently used).
  std::shared_ptr<const FileMapping> Find(const std::string& path, const Identity& id);
  void Keep(const std::string& path, const Identity& id,
            std::shared_ptr<const FileMapping> mapping);

  void Drop(std::list<Entry>::iterator it);  // with mu_ held

  const uint64_t budget_;
  mutable std::mutex mu_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> by_path_;
  uint64_t kept_ = 0;
};

// One file mapped into memory: the parsers read the page cache itself, so a sample is copied
// once (into its batch) where a read copies it twice (page cache to window, window to batch).
// For datasets that fit in memory and are read many epochs. The file's size is taken at open;
// a file truncated while mapped kills the process with SIGBUS, so datasets that may change
// under the reader should be read (FileSource).
class MappedFileSource : public ByteSource {
 public:
  // With a cache, the mapping is taken from it (or made and left in it for the next epoch).
  static Result<std::unique_ptr<MappedFileSource>> Open(const std::string& path,
                                                        MappingCache* cache = nullptr);
  MappedFileSource(const MappedFileSource&) = delete;
  MappedFileSource& operator=(const MappedFileSource&) = delete;

 protected:
  Result<std::size_t> Fill(uint64_t offset, std::span<std::byte> dst) override;

 private:
  MappedFileSource(const std::string& path, std::shared_ptr<const FileMapping> mapping);
  std::shared_ptr<const FileMapping> mapping_;
};

// A FileSource, or a MappedFileSource when options.map.
Result<std::unique_ptr<ByteSource>> OpenSource(FileReader& reader, const std::string& path,
                                               const FileSource::Options& options);

}  // namespace zenith::runtime
