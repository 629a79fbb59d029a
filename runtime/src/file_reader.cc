#include "zenith/runtime/file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "file_reader_backends.h"
#include "zenith/common/log.h"

namespace zenith::runtime {

namespace {
template <typename T>
T* MustAdd(Result<T*> r) {
  // Registration fails only when the shard words run out: a programming error, found at once.
  if (!r.ok()) common::log::Error("file reader telemetry", {{"error", r.status()}});
  return r.value();
}
}  // namespace

FileReader::FileReader(const FileReaderOptions& options, TelemetryRegistry& telemetry,
                       std::string_view backend)
    : options_(options),
      backend_(backend),
      reads_(MustAdd(telemetry.AddCounter("zenith_runtime_reader_reads_total",
                                          "Read requests completed", {{"backend", backend_}}))),
      bytes_(MustAdd(telemetry.AddCounter("zenith_runtime_reader_bytes_total", "Bytes read",
                                          {{"backend", backend_}}))),
      errors_(MustAdd(telemetry.AddCounter("zenith_runtime_reader_errors_total",
                                           "Read batches that failed", {{"backend", backend_}}))),
      batch_latency_(MustAdd(telemetry.AddHistogram("zenith_runtime_reader_batch_seconds",
                                                    "Time to complete one batch of reads",
                                                    {{"backend", backend_}}))) {}

FileReader::~FileReader() {
  for (const File& f : files_) {
    if (f.fd >= 0) close(f.fd);
  }
}

Status FileOpenError(int err, const std::string& what) {
  if (err == ENOENT) return NotFoundError(what);
  if (err == EACCES || err == EPERM) return PermissionDeniedError(what);
  return UnavailableError(what);
}

Result<int> FileReader::AddFile(const std::string& path) {
  int flags = O_RDONLY | O_CLOEXEC | (options_.direct ? O_DIRECT : 0);
  int fd;
  do {
    fd = open(path.c_str(), flags);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;
    const std::string what =
        "opening " + path + (options_.direct ? " with O_DIRECT" : "") + ": " + ErrnoMessage(err);
    if (err == EINVAL && options_.direct) {
      return FailedPreconditionError(what + " (the filesystem does not support direct I/O)");
    }
    return FileOpenError(err, what);
  }
  files_changed_ = true;
  // Reuse a closed slot so a reader that streams through many files keeps its table small.
  for (std::size_t i = 0; i < files_.size(); ++i) {
    if (files_[i].fd < 0) {
      files_[i] = {path, fd};
      return static_cast<int>(i);
    }
  }
  files_.push_back({path, fd});
  return static_cast<int>(files_.size() - 1);
}

Status FileReader::CloseFile(int file) {
  if (file < 0 || static_cast<std::size_t>(file) >= files_.size() || files_[file].fd < 0) {
    return InvalidArgumentError("closing file id " + std::to_string(file) + ": not open");
  }
  close(files_[file].fd);
  files_[file].fd = -1;
  files_changed_ = true;
  return Status::Ok();
}

Result<uint64_t> FileReader::FileSize(int file) const {
  if (file < 0 || static_cast<std::size_t>(file) >= files_.size() || files_[file].fd < 0) {
    return InvalidArgumentError("file id " + std::to_string(file) + " is not open");
  }
  struct stat st {};
  if (fstat(files_[file].fd, &st) != 0) {
    return UnavailableError("stat " + files_[file].path + ": " + ErrnoMessage(errno));
  }
  return static_cast<uint64_t>(st.st_size);
}

Status FileReader::RegisterBuffers(std::span<const std::span<std::byte>>) { return Status::Ok(); }

Status FileReader::ErrorAt(const ReadRequest& r, uint64_t done, int err) const {
  const std::string what = "reading " + files_[r.file].path + " at offset " +
                           std::to_string(r.offset + done) + ": " + ErrnoMessage(err);
  if (err == EINVAL && options_.direct) {
    return InvalidArgumentError(what +
                                " (O_DIRECT needs 4096-byte aligned offset, length and "
                                "buffer)");
  }
  return DataLossError(what);
}

Status FileReader::Read(std::span<ReadRequest> requests) {
  uint64_t bytes = 0;
  for (ReadRequest& r : requests) {
    if (r.file < 0 || static_cast<std::size_t>(r.file) >= files_.size() || files_[r.file].fd < 0) {
      return InvalidArgumentError("read request names file id " + std::to_string(r.file) +
                                  ", which is not open (" + std::to_string(files_.size()) +
                                  " ids handed out)");
    }
    if (options_.direct &&
        (r.offset % kDirectAlignment != 0 || r.buffer.size() % kDirectAlignment != 0 ||
         reinterpret_cast<uintptr_t>(r.buffer.data()) % kDirectAlignment != 0)) {
      return InvalidArgumentError("reading " + files_[r.file].path + " at offset " +
                                  std::to_string(r.offset) + " with O_DIRECT: offset, length (" +
                                  std::to_string(r.buffer.size()) + ") and buffer must be " +
                                  std::to_string(kDirectAlignment) + "-byte aligned");
    }
    r.bytes_read = 0;
  }
  const auto start = std::chrono::steady_clock::now();
  Status st = ReadBatch(requests);
  batch_latency_->Record(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count()));
  for (const ReadRequest& r : requests) bytes += r.bytes_read;
  reads_->Add(requests.size());
  bytes_->Add(bytes);
  if (!st.ok()) errors_->Add();
  return st;
}

Result<std::unique_ptr<FileReader>> FileReader::Create(const FileReaderOptions& options,
                                                       TelemetryRegistry& telemetry) {
  if (options.queue_depth == 0 || options.queue_depth > 4096) {
    return InvalidArgumentError("file reader: queue_depth " + std::to_string(options.queue_depth) +
                                " must be within 1..4096");
  }
  std::string reason;
  if (options.force_pread) {
    reason = "forced by option";
  } else if (!internal::UringCompiledIn()) {
    reason = "built without liburing";
  } else {
    int err = 0;
    auto uring = internal::MakeUringReader(options, telemetry, &err);
    if (uring.ok()) return uring;
    if (err == 0) return uring.status();  // not a refusal: a real error
    reason = std::string("io_uring_queue_init: ") + ErrnoMessage(-err);
  }
  // The fallback is worth a warning (and a metric) unless it was asked for.
  ZENITH_ASSIGN_OR_RETURN(Counter * fallbacks,
                          telemetry.AddCounter("zenith_runtime_reader_uring_fallback_total",
                                               "Readers that fell back from io_uring to pread"));
  fallbacks->Add();
  if (options.force_pread) {
    common::log::Info("file reader uses pread threads", {{"reason", reason}});
  } else {
    common::log::Warn("io_uring unavailable, file reader falls back to pread threads",
                      {{"reason", reason}});
  }
  return internal::MakePreadReader(options, telemetry);
}

}  // namespace zenith::runtime
