#include "zenith/common/program_main.h"
#include "zenith/operator/app.h"
#include "zenith/operator/options.h"

int main(int argc, char** argv) {
  zenith::common::ProgramSpec spec;
  spec.name = "zenith-operator";
  spec.summary = "runs ZenithJobs: gang-schedules their workers onto the best-connected GPUs";
  spec.default_metrics_port = 8080;
  spec.keys = zenith::operator_::ConfigKeys();
  spec.start = zenith::operator_::StartOperator;
  return zenith::common::ProgramMain(argc, argv, spec);
}
