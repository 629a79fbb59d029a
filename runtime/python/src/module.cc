// zenith._zenith: the Python face of the data plane. Consumer attaches to a sidecar's segment;
// Loader runs the same C++ engine in-process over an anonymous segment. A Batch lends its
// buffer: every NumPy array it returns is a view into shared memory whose base keeps the Batch
// alive, and the buffer goes back to the producer when the last of them is gone.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "zenith/common/config.h"
#include "zenith/runtime/channel_consumer.h"
#include "zenith/runtime/options.h"
#include "zenith/runtime/producer_engine.h"
#include "zenith/runtime/record_reader.h"

namespace py = pybind11;
using zenith::runtime::BatchHeader;
using zenith::runtime::BatchIndexEntry;
using zenith::runtime::BatchKey;
using zenith::runtime::ChannelConsumer;

namespace {

PyObject* g_error = nullptr;  // zenith.ZenithError

[[noreturn]] void Raise(const std::string& message) {
  PyErr_SetString(g_error, message.c_str());
  throw py::error_already_set();
}

// The consumer and, for a Loader, the engine behind it; batches share ownership so neither
// goes away while an array still points into the segment.
struct Source {
  std::unique_ptr<zenith::runtime::TelemetryRegistry> telemetry;
  std::unique_ptr<zenith::runtime::ProducerEngine> engine;
  std::unique_ptr<ChannelConsumer> consumer;
  ~Source() {
    consumer.reset();  // detach first, then stop the producer
    if (engine) engine->Stop();
  }
};

class Batch {
 public:
  Batch(std::shared_ptr<Source> source, ChannelConsumer::Batch b)
      : source_(std::move(source)), b_(b), h_(b.header()) {}
  ~Batch() { source_->consumer->Release(b_); }

  const BatchHeader& header() const { return h_; }
  const std::byte* data() const { return b_.data; }

  std::vector<std::string> fields() const {
    std::vector<std::string> out;
    for (uint32_t f = 0; f < h_.num_fields; ++f) {
      const char* name = reinterpret_cast<const char*>(b_.data + h_.names_offset +
                                                       f * zenith::runtime::kBatchFieldNameBytes);
      out.emplace_back(name, strnlen(name, zenith::runtime::kBatchFieldNameBytes));
    }
    return out;
  }
  BatchIndexEntry Entry(uint32_t field, uint32_t sample) const {
    BatchIndexEntry e;
    std::memcpy(&e,
                b_.data + h_.index_offset + (uint64_t{field} * h_.num_samples + sample) * sizeof e,
                sizeof e);
    return e;
  }

 private:
  std::shared_ptr<Source> source_;
  ChannelConsumer::Batch b_;
  BatchHeader h_;
};

py::object Wrap(std::shared_ptr<Source> source, const ChannelConsumer::Batch& b) {
  return py::cast(std::make_unique<Batch>(std::move(source), b));
}

// Next batch or StopIteration; the GIL is released while waiting (not when one is ready).
py::object NextBatch(const std::shared_ptr<Source>& source, double timeout_s) {
  ChannelConsumer::Batch b;
  ChannelConsumer::Error err;
  if (!source->consumer->TryNext(&b, &err)) {
    py::gil_scoped_release release;
    err =
        source->consumer->Next(&b, std::chrono::nanoseconds(static_cast<int64_t>(timeout_s * 1e9)));
  }
  if (err.code == ChannelConsumer::Code::kEndOfData) throw py::stop_iteration();
  if (!err.ok()) Raise(err.message);
  return Wrap(source, b);
}

std::shared_ptr<Source> AttachTo(const std::string& path, double attach_timeout_s) {
  auto source = std::make_shared<Source>();
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::nanoseconds(static_cast<int64_t>(attach_timeout_s * 1e9));
  ChannelConsumer::Error err;
  for (;;) {
    {
      py::gil_scoped_release release;
      source->consumer = ChannelConsumer::Attach(path, &err);
    }
    if (source->consumer) return source;
    // The sidecar may still be starting: wait for its segment to appear.
    if (err.code != ChannelConsumer::Code::kSystem || std::chrono::steady_clock::now() > deadline) {
      Raise(err.message);
    }
    {
      py::gil_scoped_release release;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

class Consumer {
 public:
  Consumer(const std::string& path, double timeout, double attach_timeout)
      : source_(AttachTo(path, attach_timeout)), timeout_(timeout) {}
  py::object Next() { return NextBatch(source_, timeout_); }
  int seat() const { return source_->consumer->seat(); }
  std::size_t segment_bytes() const { return source_->consumer->segment().size(); }
  // Where this process maps the segment, so a GPU client can page-lock it once (every batch's
  // bytes lie inside it).
  std::uintptr_t segment_address() const {
    return reinterpret_cast<std::uintptr_t>(source_->consumer->segment().data());
  }

 private:
  std::shared_ptr<Source> source_;
  double timeout_;
};

// key=value options as the sidecar's flags, so both parse (and reject) them the same way.
class Loader {
 public:
  Loader(const std::map<std::string, std::string>& options, double timeout) : timeout_(timeout) {
    zenith::common::ConfigSources sources;
    for (const auto& [k, v] : options) sources.args.push_back("--" + k + "=" + v);
    sources.getenv = [](const std::string& name) -> std::optional<std::string> {
      // Only RANK and WORLD_SIZE come from the environment; no ZENITH_* surprises.
      if (name != "RANK" && name != "WORLD_SIZE") return std::nullopt;
      const char* v = std::getenv(name.c_str());
      return v ? std::optional<std::string>(v) : std::nullopt;
    };
    auto config = zenith::common::Config::Load(sources);
    if (!config.ok()) Raise(config.status().message());
    std::vector<std::string> known;
    for (const auto& k : zenith::runtime::ConfigKeys()) known.push_back(k.key);
    auto known_ok = config->CheckKnownKeys(known);
    if (!known_ok.ok()) Raise(known_ok.message());
    auto parsed = zenith::runtime::LoadOptions(*config);
    if (!parsed.ok()) Raise(parsed.status().message());
    if (!config->Has("shm-dir")) parsed->shm_dir = "memfd";  // private to this process
    if (!config->Has("channel-name")) parsed->channel_name = "zenith-loader";
    auto engine_options = zenith::runtime::ToEngineOptions(*parsed);
    if (!engine_options.ok()) Raise(engine_options.status().message());
    source_ = std::make_shared<Source>();
    source_->telemetry = std::make_unique<zenith::runtime::TelemetryRegistry>();
    source_->engine = std::make_unique<zenith::runtime::ProducerEngine>(std::move(*engine_options),
                                                                        *source_->telemetry);
    if (auto st = source_->engine->Start(); !st.ok()) Raise(st.message());
    {
      py::gil_scoped_release release;
      while (!source_->engine->ready() && !source_->engine->done()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    if (!source_->engine->ready()) Raise(source_->engine->status().message());
    ChannelConsumer::Error err;
    source_->consumer = ChannelConsumer::Attach(source_->engine->channel_path(), &err);
    if (!source_->consumer) Raise(err.message);
  }
  py::object Next() { return NextBatch(source_, timeout_); }
  std::size_t segment_bytes() const { return source_->consumer->segment().size(); }
  std::uintptr_t segment_address() const {
    return reinterpret_cast<std::uintptr_t>(source_->consumer->segment().data());
  }
  // Counters of the in-process engine (samples, bytes, waits), for tests and benchmarks.
  std::map<std::string, uint64_t> Stats() const {
    std::map<std::string, uint64_t> out;
    for (const auto& s : source_->telemetry->Scrape()) {
      if (s.kind == zenith::runtime::TelemetryRegistry::Kind::kCounter) out[s.name] += s.counter;
    }
    return out;
  }

 private:
  std::shared_ptr<Source> source_;
  double timeout_;
};

py::array View(py::handle owner, const py::dtype& dtype, std::size_t itemsize,
               std::vector<py::ssize_t> shape, const std::byte* ptr) {
  // C-order strides computed here: pybind11 before 2.12 reads the item size from NumPy's
  // descriptor struct, whose layout NumPy 2 changed.
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t stride = static_cast<py::ssize_t>(itemsize);
  for (std::size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= shape[d];
  }
  py::array a(dtype, std::move(shape), std::move(strides), ptr, owner);
  // Read-only: the bytes belong to the producer's buffer, reused after this batch is gone.
  // (NumPy's PyArray_CLEARFLAGS; a Python attribute call costs more than the rest of a view.)
  py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return a;
}

}  // namespace

PYBIND11_MODULE(_zenith, m) {
  m.doc() = "Zenith data plane: zero-copy batches from shared memory";
  g_error = PyErr_NewException("zenith.ZenithError", PyExc_RuntimeError, nullptr);
  m.attr("ZenithError") = py::handle(g_error);

  py::class_<Batch>(m, "Batch")
      .def_property_readonly("epoch", [](const Batch& b) { return b.header().epoch; })
      .def_property_readonly("step", [](const Batch& b) { return b.header().step; })
      .def_property_readonly("num_samples", [](const Batch& b) { return b.header().num_samples; })
      .def_property_readonly("real_samples", [](const Batch& b) { return b.header().real_samples; })
      .def_property_readonly("is_tensor", [](const Batch& b) { return b.header().is_tensor != 0; })
      .def_property_readonly("fields", &Batch::fields)
      .def_property_readonly("nbytes", [](const Batch& b) { return b.header().data_bytes; })
      .def(
          "tensor",
          [](py::object self) {
            const Batch& b = self.cast<const Batch&>();
            const BatchHeader& h = b.header();
            if (!h.is_tensor) Raise("batch is not a tensor batch (variable-length samples)");
            std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(h.num_samples)};
            for (uint32_t d = 0; d < h.ndim; ++d) shape.push_back(h.shape[d]);
            const std::string descr(h.dtype, strnlen(h.dtype, sizeof h.dtype));
            auto itemsize = zenith::runtime::DtypeItemSize(descr);
            if (!itemsize.ok()) Raise(itemsize.status().message());
            return View(self, py::dtype(descr), static_cast<std::size_t>(*itemsize), shape,
                        b.data() + h.data_offset);
          },
          "The [batch, ...] array of a fixed-shape batch (raw, npy), a view into shared memory")
      .def(
          "data",
          [](py::object self) {
            const Batch& b = self.cast<const Batch&>();
            return View(self, py::dtype::of<uint8_t>(), 1,
                        {static_cast<py::ssize_t>(b.header().data_bytes)},
                        b.data() + b.header().data_offset);
          },
          "Every sample's bytes, packed (field by field), as one uint8 view")
      .def(
          "index",
          [](py::object self) {
            const Batch& b = self.cast<const Batch&>();
            const BatchHeader& h = b.header();
            return View(self, py::dtype::of<uint64_t>(), 8,
                        {static_cast<py::ssize_t>(h.num_fields),
                         static_cast<py::ssize_t>(h.num_samples), 2},
                        b.data() + h.index_offset);
          },
          "[field, sample] -> (offset into data(), length); offset 2**64-1 where missing")
      .def(
          "keys",
          [](py::object self) {
            const Batch& b = self.cast<const Batch&>();
            return View(self, py::dtype::of<uint64_t>(), 8,
                        {static_cast<py::ssize_t>(b.header().num_samples), 2},
                        b.data() + b.header().keys_offset);
          },
          "(file index, byte offset) of each sample")
      .def(
          "field",
          [](py::object self, py::object which) {
            const Batch& b = self.cast<const Batch&>();
            const BatchHeader& h = b.header();
            uint32_t f = 0;
            if (py::isinstance<py::int_>(which)) {
              f = which.cast<uint32_t>();
            } else {
              const auto names = b.fields();
              const std::string name = which.cast<std::string>();
              f = static_cast<uint32_t>(std::find(names.begin(), names.end(), name) -
                                        names.begin());
              if (f >= names.size()) throw py::key_error(name);
            }
            if (f >= h.num_fields) throw py::index_error("field " + std::to_string(f));
            py::list out;
            for (uint32_t i = 0; i < h.num_samples; ++i) {
              const BatchIndexEntry e = b.Entry(f, i);
              if (e.offset == BatchIndexEntry::kMissing) {
                out.append(py::none());
              } else {
                out.append(View(self, py::dtype::of<uint8_t>(), 1,
                                {static_cast<py::ssize_t>(e.length)},
                                b.data() + h.data_offset + e.offset));
              }
            }
            return out;
          },
          py::arg("field") = 0,
          "Each sample's bytes of one field (by index or WebDataset extension) as uint8 views; "
          "None where a sample lacks it");

  py::class_<Consumer>(m, "Consumer")
      .def(py::init<const std::string&, double, double>(), py::arg("path"),
           py::arg("timeout") = 300.0, py::arg("attach_timeout") = 60.0)
      .def("next", &Consumer::Next)
      .def_property_readonly("seat", &Consumer::seat)
      .def_property_readonly("segment_bytes", &Consumer::segment_bytes)
      .def_property_readonly("segment_address", &Consumer::segment_address);

  py::class_<Loader>(m, "Loader")
      .def(py::init<const std::map<std::string, std::string>&, double>(), py::arg("options"),
           py::arg("timeout") = 300.0)
      .def("next", &Loader::Next)
      .def("stats", &Loader::Stats)
      .def_property_readonly("segment_bytes", &Loader::segment_bytes)
      .def_property_readonly("segment_address", &Loader::segment_address);
}
