#include "zenith/runtime/sidecar.h"

#include <memory>

#include "zenith/common/log.h"
#include "zenith/runtime/options.h"
#include "zenith/runtime/producer_engine.h"
#include "zenith/runtime/telemetry_prometheus.h"

namespace zenith::runtime {

Result<std::function<void()>> StartSidecar(const common::Config& config,
                                           common::MetricsRegistry& metrics,
                                           common::AdminServer& admin) {
  ZENITH_ASSIGN_OR_RETURN(Options options, LoadOptions(config));
  ZENITH_ASSIGN_OR_RETURN(EngineOptions engine_options, ToEngineOptions(options));
  common::log::Info("data plane configured",
                    {{"source", options.source},
                     {"files", engine_options.dataset.files.size()},
                     {"format", options.format},
                     {"batch_size", options.batch_size},
                     {"rank", engine_options.dataset.shard.rank},
                     {"world_size", engine_options.dataset.shard.world_size},
                     {"shm_dir", options.shm_dir}});
  // The telemetry, its exporter and the engine live until the stop function runs.
  struct Parts {
    TelemetryRegistry telemetry;
    std::shared_ptr<TelemetryCollectable> exported;
    std::unique_ptr<ProducerEngine> engine;
  };
  auto parts = std::make_shared<Parts>();
  parts->exported = ExportTelemetry(parts->telemetry, metrics);
  parts->engine = std::make_unique<ProducerEngine>(std::move(engine_options), parts->telemetry);
  ZENITH_RETURN_IF_ERROR(parts->engine->Start());
  std::weak_ptr<Parts> weak = parts;
  admin.AddReadinessCheck("data-plane", [weak]() -> Status {
    auto p = weak.lock();
    if (!p) return UnavailableError("stopped");
    Status st = p->engine->status();
    if (!st.ok()) return st;
    if (!p->engine->ready()) return UnavailableError("reading the first batch");
    return Status::Ok();
  });
  return std::function<void()>([parts]() mutable {
    parts->engine->Stop();  // consumers see "the producer stopped"; the segment is removed
    parts.reset();
  });
}

}  // namespace zenith::runtime
