#include "zenith/common/log.h"
#include "zenith/common/program_main.h"
#include "zenith/operator/options.h"

int main(int argc, char** argv) {
  using namespace zenith;
  common::ProgramSpec spec;
  spec.name = "zenith-operator";
  spec.summary = "runs ZenithJobs: gang-schedules their workers onto the best-connected GPUs";
  spec.default_metrics_port = 8080;
  spec.keys = operator_::ConfigKeys();
  spec.start = [](const common::Config& config, common::MetricsRegistry&,
                  common::AdminServer&) -> Result<std::function<void()>> {
    ZENITH_ASSIGN_OR_RETURN(auto options, operator_::LoadOptions(config));
    common::log::Info("operator configured", {{"namespace", options.watch_namespace},
                                              {"scheduler", options.scheduler_name},
                                              {"workers", options.workers}});
    return std::function<void()>([] {});
  };
  return common::ProgramMain(argc, argv, spec);
}
