#include "zenith/runtime/batcher.h"

#include <algorithm>
#include <cstring>

namespace zenith::runtime {

Batcher::Batcher(DatasetOptions dataset, BatchingOptions batching, FileReader& reader,
                 DatasetStats& stats)
    : dataset_(std::move(dataset)),
      batching_(batching),
      reader_(reader),
      stats_(stats),
      epoch_(batching.start_epoch) {}

Result<bool> Batcher::Next(BatchPlan& out) {
  const std::size_t bs = batching_.batch_size;
  for (;;) {
    if (end_of_epoch_) {
      // Reset only now: the batch returned last time still pointed into the old stream.
      stream_.reset();
      end_of_epoch_ = false;
      ++epoch_;
    }
    if (batching_.epochs != 0 && epoch_ >= batching_.epochs) return false;
    if (!stream_) {
      stream_ = std::make_unique<SampleStream>(dataset_, epoch_, reader_, stats_);
      step_ = 0;
      if (epoch_ == batching_.start_epoch && !resumed_) {
        resumed_ = true;
        Sample scratch;
        // The order is a pure function of (seed, epoch, rank): replaying it and dropping the
        // delivered samples puts a restarted worker exactly where it stopped.
        for (uint64_t i = 0; i < batching_.start_step * bs; ++i) {
          ZENITH_ASSIGN_OR_RETURN(bool got, stream_->Next(scratch));
          if (!got) break;
        }
        step_ = batching_.start_step;
      }
    }
    if (out.samples.size() < bs) out.samples.resize(bs);
    std::size_t n = 0;
    while (n < bs) {
      ZENITH_ASSIGN_OR_RETURN(bool got, stream_->Next(out.samples[n]));
      if (!got) break;
      ++n;
    }
    if (n < bs) end_of_epoch_ = true;
    if (n == 0 || (n < bs && batching_.last == LastBatch::kDrop)) continue;
    if (n < bs && batching_.last == LastBatch::kPad) {
      for (std::size_t i = n; i < bs; ++i) out.samples[i] = out.samples[i % n];
      out.samples.resize(bs);
    } else {
      out.samples.resize(n);
    }
    out.real = n;
    out.epoch = epoch_;
    out.step = step_++;
    return true;
  }
}

namespace {
constexpr uint64_t Align(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

struct Layout {
  std::vector<std::string_view> names;
  uint64_t names_offset, keys_offset, index_offset, data_offset, data_bytes, total;
};

Layout Plan(const BatchPlan& plan) {
  Layout l;
  for (const Sample& s : plan.samples) {
    for (const auto& f : s.fields) {
      // Most batches have one field name throughout: the last one found matches first.
      if (!l.names.empty() && l.names.back() == f.first) continue;
      if (std::find(l.names.begin(), l.names.end(), f.first) == l.names.end()) {
        l.names.push_back(f.first);
      }
    }
  }
  const uint64_t n = plan.samples.size();
  l.names_offset = Align(sizeof(BatchHeader), 8);
  l.keys_offset = Align(l.names_offset + l.names.size() * kBatchFieldNameBytes, 8);
  l.index_offset = l.keys_offset + n * sizeof(BatchKey);
  l.data_offset = Align(l.index_offset + n * l.names.size() * sizeof(BatchIndexEntry), 64);
  l.data_bytes = 0;
  for (const Sample& s : plan.samples) l.data_bytes += s.bytes.size();
  l.total = l.data_offset + l.data_bytes;
  return l;
}
}  // namespace

uint64_t PackedBatchBytes(const BatchPlan& plan) { return Plan(plan).total; }

Result<uint64_t> PackBatch(const BatchPlan& plan, const std::vector<std::string>& files,
                           std::span<std::byte> dest) {
  const Layout l = Plan(plan);
  if (l.total > dest.size()) {
    return ResourceExhaustedError("batch " + std::to_string(plan.step) + " of epoch " +
                                  std::to_string(plan.epoch) + " needs " + std::to_string(l.total) +
                                  " bytes, the buffer holds " + std::to_string(dest.size()) +
                                  " (raise slot-bytes)");
  }
  auto where = [&](const Sample& s) {
    return (s.file < files.size() ? files[s.file] : "?") + " at byte offset " +
           std::to_string(s.offset);
  };
  BatchHeader h{};
  h.magic = BatchHeader::kMagic;
  h.version = BatchHeader::kVersion;
  h.bytes = l.total;
  h.epoch = plan.epoch;
  h.step = plan.step;
  h.num_samples = static_cast<uint32_t>(plan.samples.size());
  h.real_samples = static_cast<uint32_t>(plan.real);
  h.num_fields = static_cast<uint32_t>(l.names.size());
  const TensorSpec* spec = plan.samples.empty() ? nullptr : plan.samples[0].spec;
  if (spec != nullptr && l.names.size() == 1) {
    for (const Sample& s : plan.samples) {
      if (s.spec == nullptr || !(*s.spec == *spec)) {
        return InvalidArgumentError(
            "sample from " + where(s) + " is " +
            (s.spec ? s.spec->dtype + " " + ShapeString(s.spec->shape) : "not a tensor") +
            " but the batch's first sample from " + where(plan.samples[0]) + " is " + spec->dtype +
            " " + ShapeString(spec->shape));
      }
    }
    if (spec->shape.size() > kBatchMaxDims || spec->dtype.size() >= sizeof(h.dtype)) {
      return InvalidArgumentError("sample from " + where(plan.samples[0]) +
                                  " has more than 8 dimensions");
    }
    h.is_tensor = 1;
    std::memcpy(h.dtype, spec->dtype.data(), spec->dtype.size());
    h.ndim = static_cast<uint32_t>(spec->shape.size());
    for (std::size_t d = 0; d < spec->shape.size(); ++d) h.shape[d] = spec->shape[d];
  }
  h.names_offset = l.names_offset;
  h.keys_offset = l.keys_offset;
  h.index_offset = l.index_offset;
  h.data_offset = l.data_offset;
  h.data_bytes = l.data_bytes;

  std::byte* base = dest.data();
  std::memset(base, 0, l.data_offset);
  std::memcpy(base, &h, sizeof h);
  for (std::size_t f = 0; f < l.names.size(); ++f) {
    if (l.names[f].size() >= kBatchFieldNameBytes) {
      return InvalidArgumentError("field name '" + std::string(l.names[f]) + "' is longer than " +
                                  std::to_string(kBatchFieldNameBytes - 1) + " bytes");
    }
    std::memcpy(base + l.names_offset + f * kBatchFieldNameBytes, l.names[f].data(),
                l.names[f].size());
  }
  const std::size_t n = plan.samples.size();
  for (std::size_t i = 0; i < n; ++i) {
    const BatchKey key{plan.samples[i].file, plan.samples[i].offset};
    std::memcpy(base + l.keys_offset + i * sizeof key, &key, sizeof key);
  }
  uint64_t cursor = 0;
  if (l.names.size() == 1) {
    // One field name: a sample's first field starts its bytes (as the loop below finds it).
    for (std::size_t i = 0; i < n; ++i) {
      const Sample& s = plan.samples[i];
      BatchIndexEntry e{BatchIndexEntry::kMissing, 0};
      if (!s.fields.empty()) {
        const uint64_t length = s.fields.front().second;
        e = {cursor, length};
        std::memcpy(base + l.data_offset + cursor, s.bytes.data(), length);
        cursor += length;
      }
      std::memcpy(base + l.index_offset + i * sizeof e, &e, sizeof e);
    }
    return l.total;
  }
  for (std::size_t f = 0; f < l.names.size(); ++f) {
    for (std::size_t i = 0; i < n; ++i) {
      const Sample& s = plan.samples[i];
      BatchIndexEntry e{BatchIndexEntry::kMissing, 0};
      uint64_t begin = 0;
      for (const auto& [name, end] : s.fields) {
        if (name == l.names[f]) {
          e = {cursor, end - begin};
          std::memcpy(base + l.data_offset + cursor, s.bytes.data() + begin, end - begin);
          cursor += end - begin;
          break;
        }
        begin = end;
      }
      std::memcpy(base + l.index_offset + (f * n + i) * sizeof e, &e, sizeof e);
    }
  }
  return l.total;
}

}  // namespace zenith::runtime
