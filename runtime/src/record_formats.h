// The format readers behind MakeRecordReader, one source file each.
#pragma once

#include <memory>

#include "zenith/runtime/record_reader.h"

namespace zenith::runtime::internal {

Result<std::unique_ptr<RecordReader>> MakeRawReader(std::unique_ptr<ByteSource> source,
                                                    const FormatOptions& options);
Result<std::unique_ptr<RecordReader>> MakeTfRecordReader(std::unique_ptr<ByteSource> source);
Result<std::unique_ptr<RecordReader>> MakeTarReader(std::unique_ptr<ByteSource> source);
Result<std::unique_ptr<RecordReader>> MakeNpyReader(std::unique_ptr<ByteSource> source);

}  // namespace zenith::runtime::internal
