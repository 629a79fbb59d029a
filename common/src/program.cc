#include "zenith/common/program.h"

#include <csignal>

namespace zenith::common {

const std::vector<std::string>& CommonConfigKeys() {
  static const std::vector<std::string> keys = {"log.level", "log.format", "metrics.address",
                                                "metrics.port", "http.io-threads"};
  return keys;
}

Result<ProgramBasics> LoadProgramBasics(const Config& config, uint16_t default_metrics_port) {
  ProgramBasics b;
  ZENITH_ASSIGN_OR_RETURN(std::string level,
                          config.Enum("log.level", "info", {"debug", "info", "warn", "error"}));
  b.log_level = log::ParseLevel(level).value();
  ZENITH_ASSIGN_OR_RETURN(std::string format,
                          config.Enum("log.format", "logfmt", {"logfmt", "json"}));
  b.log_format = log::ParseFormat(format).value();
  ZENITH_ASSIGN_OR_RETURN(b.metrics_address, config.String("metrics.address", "0.0.0.0"));
  ZENITH_ASSIGN_OR_RETURN(int64_t port, config.Int("metrics.port", default_metrics_port, 0, 65535));
  b.metrics_port = static_cast<uint16_t>(port);
  ZENITH_ASSIGN_OR_RETURN(int64_t io_threads,
                          config.Int("http.io-threads", b.http_io_threads, 2, 256));
  b.http_io_threads = static_cast<int>(io_threads);
  return b;
}

void ConfigureLogging(const ProgramBasics& basics, std::string component) {
  log::Options options;
  options.level = basics.log_level;
  options.format = basics.log_format;
  options.component = std::move(component);
  log::Configure(std::move(options));
}

namespace {
sigset_t TerminationSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}
}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set = TerminationSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

}  // namespace zenith::common
