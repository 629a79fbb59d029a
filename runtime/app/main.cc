#include "zenith/common/program_main.h"
#include "zenith/runtime/options.h"
#include "zenith/runtime/sidecar.h"

int main(int argc, char** argv) {
  zenith::common::ProgramSpec spec;
  spec.name = "zenith-runtime";
  spec.summary = "streams this worker's shard of the dataset to the trainer through shared memory";
  spec.default_metrics_port = 9500;
  spec.keys = zenith::runtime::ConfigKeys();
  spec.start = zenith::runtime::StartSidecar;
  return zenith::common::ProgramMain(argc, argv, spec);
}
