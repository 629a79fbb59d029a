// The two FileReader backends, private to the runtime library.
#pragma once

#include <memory>

#include "zenith/runtime/file_reader.h"

namespace zenith::runtime::internal {

// Sets *init_error to -errno of io_uring_queue_init when the kernel refuses the ring.
Result<std::unique_ptr<FileReader>> MakeUringReader(const FileReaderOptions& options,
                                                    TelemetryRegistry& telemetry, int* init_error);
std::unique_ptr<FileReader> MakePreadReader(const FileReaderOptions& options,
                                            TelemetryRegistry& telemetry);
bool UringCompiledIn();

}  // namespace zenith::runtime::internal
