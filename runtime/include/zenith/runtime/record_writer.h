// Writers for the formats Zenith reads, byte-for-byte what TensorFlow, tar and NumPy produce:
// tests, fuzz seed corpora and the benchmark's data generator build their files with these.
// Not used on the data path.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace zenith::runtime {

// Appends one TFRecord frame (length, masked CRCs) holding `data` to `out`.
void AppendTfRecord(std::string& out, std::string_view data);

// A complete .npy v1.0 file: header for `descr` and `shape` (C order), then `data`.
std::string NpyFile(std::string_view descr, std::span<const int64_t> shape, std::string_view data);

// Appends one ustar entry (header + padded body) to `out`; a name longer than 100 bytes is
// written with a pax 'x' header in front, as GNU tar --format=pax does.
void AppendTarEntry(std::string& out, std::string_view name, std::string_view data);
// The two zero blocks that end an archive.
void AppendTarEnd(std::string& out);

}  // namespace zenith::runtime
