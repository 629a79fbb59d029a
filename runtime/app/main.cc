#include "zenith/common/log.h"
#include "zenith/common/program_main.h"
#include "zenith/runtime/options.h"

int main(int argc, char** argv) {
  using namespace zenith;
  common::ProgramSpec spec;
  spec.name = "zenith-runtime";
  spec.summary = "streams this worker's shard of the dataset to the trainer through shared memory";
  spec.default_metrics_port = 9500;
  spec.keys = runtime::ConfigKeys();
  spec.start = [](const common::Config& config, common::MetricsRegistry&,
                  common::AdminServer&) -> Result<std::function<void()>> {
    ZENITH_ASSIGN_OR_RETURN(auto options, runtime::LoadOptions(config));
    common::log::Info("runtime configured", {{"source", options.source},
                                             {"format", options.format},
                                             {"batch_size", options.batch_size}});
    return std::function<void()>([] {});
  };
  return common::ProgramMain(argc, argv, spec);
}
