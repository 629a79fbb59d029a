// Reads byte ranges of dataset files in batches: with io_uring (queue depth, registered files
// and buffers, optional O_DIRECT) where the kernel allows it, else with a pool of threads
// calling pread. Which one is chosen at start-up, logged and counted. A read returns exactly
// the bytes read(2) would, retries short reads and EINTR/EAGAIN, and names the file and offset
// of any error. It never reads past a request's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "zenith/common/status.h"
#include "zenith/runtime/telemetry.h"

namespace zenith::runtime {

// O_DIRECT needs offsets, lengths and buffer addresses aligned to this (the largest logical
// block size in use).
inline constexpr std::size_t kDirectAlignment = 4096;

// The status for a failed open(2) of a dataset file: NOT_FOUND, PERMISSION_DENIED, else
// UNAVAILABLE; `what` names the file and says what was tried.
Status FileOpenError(int err, const std::string& what);

struct FileReaderOptions {
  unsigned queue_depth = 32;  // reads in flight
  bool direct = false;        // open files with O_DIRECT (bypass the page cache)
  bool force_pread = false;   // skip the io_uring probe: the fallback, on purpose
  int pread_threads = 4;      // fallback threads (at most queue_depth)
  bool register_files = true;
  // io_uring only, buffered only: try preadv2(RWF_NOWAIT) first, so page-cache hits complete
  // in the caller instead of going through the ring. Off by default: since Linux 5.9 the ring
  // itself copies page-cache hits inline at submission, 32 reads per system call, and only
  // misses go to io-wq workers, so the extra preadv2 per read made warm random 4 KiB reads
  // slower (0.5-0.8x on kernel 6.18). Worth turning on only where the kernel punts every
  // buffered read to io-wq.
  bool cached_fast_path = false;
  // io_uring only, buffered only: reads of at least this many bytes go to io_uring's worker
  // threads (IOSQE_ASYNC) instead of being copied inline by the submitting thread, so the
  // copies out of the page cache run on several cores. It pays where many large reads are in
  // flight and cores are idle: 128 warm 1 MiB reads per call went from 5.0-5.2 GB/s inline to
  // 7.1-8.3 on 2 cores. It costs where the cores are busy anyway: the data plane on 2 cores
  // (the engine and a trainer) read 1 MiB npy rows 8 % slower with it at 256 KiB. 0 (the
  // default): every read inline.
  std::size_t async_min_bytes = 0;
};

struct ReadRequest {
  int file = 0;  // id from AddFile
  uint64_t offset = 0;
  std::span<std::byte> buffer;  // reads up to buffer.size() bytes
  std::size_t bytes_read = 0;   // out: less than buffer.size() only at end of file
};

class FileReader {
 public:
  // Probes io_uring (unless forced off) and falls back to pread when it is refused.
  static Result<std::unique_ptr<FileReader>> Create(const FileReaderOptions& options,
                                                    TelemetryRegistry& telemetry);
  virtual ~FileReader();

  std::string_view backend() const { return backend_; }  // "io_uring" or "pread"
  // Opens a file for reading; returns its id for ReadRequest::file.
  Result<int> AddFile(const std::string& path);
  // Closes a file AddFile opened; its id may be handed out again by a later AddFile.
  Status CloseFile(int file);
  // The file's size in bytes now (fstat).
  Result<uint64_t> FileSize(int file) const;
  // The path a file id was opened from (for error messages).
  const std::string& PathOf(int file) const { return files_[file].path; }
  // Buffers that many reads will use, pinned once (io_uring fixed buffers); optional.
  virtual Status RegisterBuffers(std::span<const std::span<std::byte>> buffers);
  // Performs every request; on error returns the first one, after all in flight finished.
  Status Read(std::span<ReadRequest> requests);

 protected:
  struct File {
    std::string path;
    int fd = -1;
  };
  FileReader(const FileReaderOptions& options, TelemetryRegistry& telemetry,
             std::string_view backend);
  virtual Status ReadBatch(std::span<ReadRequest> requests) = 0;
  Status ErrorAt(const ReadRequest& r, uint64_t done, int err) const;

  const FileReaderOptions options_;
  std::vector<File> files_;
  bool files_changed_ = false;

 private:
  std::string backend_;
  Counter* reads_;
  Counter* bytes_;
  Counter* errors_;
  LatencyHistogram* batch_latency_;
};

}  // namespace zenith::runtime
