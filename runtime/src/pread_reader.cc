// The fallback backend: each of a few threads loops over its share of the batch with pread.
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "file_reader_backends.h"
#include "zenith/runtime/thread_pool.h"

namespace zenith::runtime::internal {
namespace {

class PreadReader final : public FileReader {
 public:
  PreadReader(const FileReaderOptions& options, TelemetryRegistry& telemetry)
      : FileReader(options, telemetry, "pread"),
        threads_(std::max(
            1, std::min<int>(options.pread_threads, static_cast<int>(options.queue_depth)))),
        pool_(ThreadPoolOptions{.threads = threads_, .cpus = {}, .name = "pread-reader"}) {}

 protected:
  Status ReadBatch(std::span<ReadRequest> requests) override {
    const int parts = std::min<int>(threads_, static_cast<int>(requests.size()));
    if (parts <= 1) return ReadRange(requests, 0, 1);
    std::vector<TaskHandle<void>> handles;
    for (int p = 0; p < parts; ++p) {
      handles.push_back(
          pool_.Submit([this, requests, p, parts] { return ReadRange(requests, p, parts); }));
    }
    Status first = Status::Ok();
    for (auto& h : handles) {
      Status st = h.Wait();
      if (first.ok() && !st.ok()) first = st;
    }
    return first;
  }

 private:
  // Requests p, p + stride, ...; stops at the first error.
  Status ReadRange(std::span<ReadRequest> requests, std::size_t p, std::size_t stride) {
    for (std::size_t i = p; i < requests.size(); i += stride) {
      ReadRequest& r = requests[i];
      const int fd = files_[r.file].fd;
      std::size_t done = 0;
      while (done < r.buffer.size()) {
        const ssize_t n = pread(fd, r.buffer.data() + done, r.buffer.size() - done,
                                static_cast<off_t>(r.offset + done));
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN) {
            std::this_thread::yield();
            continue;
          }
          return ErrorAt(r, done, errno);
        }
        if (n == 0) break;  // end of file
        done += static_cast<std::size_t>(n);
        // O_DIRECT returns a short, unaligned count only at end of file.
        if (options_.direct && done % kDirectAlignment != 0) break;
      }
      r.bytes_read = done;
    }
    return Status::Ok();
  }

  const int threads_;
  ThreadPool pool_;
};

}  // namespace

std::unique_ptr<FileReader> MakePreadReader(const FileReaderOptions& options,
                                            TelemetryRegistry& telemetry) {
  return std::make_unique<PreadReader>(options, telemetry);
}

#ifndef ZENITH_HAVE_URING
bool UringCompiledIn() { return false; }
Result<std::unique_ptr<FileReader>> MakeUringReader(const FileReaderOptions&, TelemetryRegistry&,
                                                    int* init_error) {
  *init_error = -ENOSYS;
  return UnimplementedError("built without liburing");
}
#endif

}  // namespace zenith::runtime::internal
