// Start-up shared by Zenith's programs, so each main stays a few lines: the config keys every
// program has (log.level, log.format, metrics.address, metrics.port, http.io-threads), and
// waiting for SIGTERM.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "zenith/common/config.h"
#include "zenith/common/log.h"
#include "zenith/common/status.h"

namespace zenith::common {

struct ProgramBasics {
  log::Level log_level = log::Level::kInfo;
  log::Format log_format = log::Format::kLogfmt;
  std::string metrics_address = "0.0.0.0";
  uint16_t metrics_port = 0;
  int http_io_threads = 4;  // cpprestsdk's shared pool (SetHttpIoThreads)
};

// The keys ProgramBasics reads; programs add their own before Config::CheckKnownKeys.
const std::vector<std::string>& CommonConfigKeys();

Result<ProgramBasics> LoadProgramBasics(const Config& config, uint16_t default_metrics_port);

// Applies the log settings, naming the component in every line.
void ConfigureLogging(const ProgramBasics& basics, std::string component);

// Blocks SIGTERM and SIGINT in the calling thread; call first in main so every thread started
// later inherits the mask and the signal is taken only by WaitForTerminationSignal.
void BlockTerminationSignals();
// Waits for SIGTERM or SIGINT and returns its number.
int WaitForTerminationSignal();

}  // namespace zenith::common
