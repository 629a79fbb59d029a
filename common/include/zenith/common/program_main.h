// The body of every Zenith main(): load the config (file, environment, flags), reject unknown
// keys, set up logging, serve /metrics, /healthz and /readyz, start the program's parts, wait
// for SIGTERM, stop them. A program supplies only its name, its keys and its Start function.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "zenith/common/admin_server.h"
#include "zenith/common/config.h"
#include "zenith/common/metrics.h"
#include "zenith/common/status.h"

namespace zenith::common {

struct ProgramSpec {
  std::string name;  // "zenith-operator"
  std::string summary;
  uint16_t default_metrics_port = 9090;
  std::vector<ConfigKey> keys;  // the program's own; the common ones are added
  // Starts the program's parts and returns how to stop them (called once, after SIGTERM).
  std::function<Result<std::function<void()>>(const Config&, MetricsRegistry&, AdminServer&)> start;
};

// Returns the process exit code: 0 after a clean shutdown, 2 for bad configuration, 1 for a
// failure to start.
int ProgramMain(int argc, char** argv, const ProgramSpec& spec);

// The --help text: summary, usage and every key with its help.
std::string ProgramUsage(const ProgramSpec& spec);

}  // namespace zenith::common
