#include "zenith/runtime/record_writer.h"

#include <cstdio>
#include <cstring>

#include "zenith/runtime/crc32c.h"
#include "zenith/runtime/record_reader.h"

namespace zenith::runtime {
namespace {
std::span<const std::byte> Bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
template <typename T>
void AppendLe(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}
void Octal(char* field, std::size_t width, uint64_t v) {
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(v));
}
void AppendHeader(std::string& out, std::string_view name, uint64_t size, char type) {
  char h[512] = {};
  std::memcpy(h, name.data(), std::min<std::size_t>(name.size(), 100));
  Octal(h + 100, 8, 0644);
  Octal(h + 108, 8, 0);
  Octal(h + 116, 8, 0);
  Octal(h + 124, 12, size);
  Octal(h + 136, 12, 0);
  h[156] = type;
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  out.append(h, 512);
}
void AppendPadded(std::string& out, std::string_view data) {
  out.append(data);
  out.append((512 - data.size() % 512) % 512, '\0');
}
}  // namespace

void AppendTfRecord(std::string& out, std::string_view data) {
  std::string len;
  AppendLe<uint64_t>(len, data.size());
  out += len;
  AppendLe<uint32_t>(out, MaskCrc32c(Crc32c(Bytes(len))));
  out.append(data);
  AppendLe<uint32_t>(out, MaskCrc32c(Crc32c(Bytes(data))));
}

std::string NpyFile(std::string_view descr, std::span<const int64_t> shape, std::string_view data) {
  std::string dict = "{'descr': '" + std::string(descr) +
                     "', 'fortran_order': False, 'shape': " + ShapeString(shape) + ", }";
  // NumPy pads the header with spaces so the data starts on a 64-byte boundary.
  const std::size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  AppendLe<uint16_t>(out, static_cast<uint16_t>(dict.size()));
  out += dict;
  out.append(data);
  return out;
}

void AppendTarEntry(std::string& out, std::string_view name, std::string_view data) {
  if (name.size() > 100) {
    std::string rec = " path=" + std::string(name) + "\n";
    const std::size_t base = rec.size();
    std::size_t len = base + std::to_string(base).size();
    len = base + std::to_string(len).size();  // again, in case the length gained a digit
    rec = std::to_string(len) + rec;
    AppendHeader(out, "PaxHeaders/entry", rec.size(), 'x');
    AppendPadded(out, rec);
  }
  AppendHeader(out, name.substr(0, 100), data.size(), '0');
  AppendPadded(out, data);
}

void AppendTarEnd(std::string& out) { out.append(1024, '\0'); }

}  // namespace zenith::runtime
