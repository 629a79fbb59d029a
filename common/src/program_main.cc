#include "zenith/common/program_main.h"

#include <csignal>
#include <cstdio>

#include "zenith/common/log.h"
#include "zenith/common/program.h"

namespace zenith::common {

std::string ProgramUsage(const ProgramSpec& spec) {
  std::string out = spec.name + ": " + spec.summary + "\n\nusage: " + spec.name +
                    " [--config FILE] [--key=value ...]\n\n"
                    "Each key may also be set in the YAML file (nested by its dots) or in the\n"
                    "environment as ZENITH_<KEY> (dots and dashes as underscores).\n\nkeys:\n";
  auto add = [&](const std::string& key, const std::string& help) {
    char line[256];
    std::snprintf(line, sizeof line, "  --%-28s %s\n", key.c_str(), help.c_str());
    out += line;
  };
  add("config", "YAML config file");
  add("log.level", "debug, info, warn or error (default info)");
  add("log.format", "logfmt or json (default logfmt)");
  add("metrics.address", "address of /metrics, /healthz, /readyz (default 0.0.0.0)");
  add("metrics.port", "port of /metrics, /healthz, /readyz (default " +
                          std::to_string(spec.default_metrics_port) + ")");
  add("http.io-threads", "threads of the HTTP clients' and servers' I/O pool (default 4)");
  for (const auto& k : spec.keys) add(k.key, k.help);
  return out;
}

int ProgramMain(int argc, char** argv, const ProgramSpec& spec) {
  BlockTerminationSignals();
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(ProgramUsage(spec).c_str(), stdout);
      return 0;
    }
  }
  auto fail = [&](const Status& s, int code) {
    std::fprintf(stderr, "%s: %s\n", spec.name.c_str(), s.message().c_str());
    return code;
  };
  auto config = Config::Load(argc, argv);
  if (!config.ok()) return fail(config.status(), 2);
  std::vector<std::string> known = CommonConfigKeys();
  for (const auto& k : spec.keys) known.push_back(k.key);
  if (Status s = config->CheckKnownKeys(known); !s.ok()) {
    return fail(Status(s.code(), s.message() + " (run with --help for the known keys)"), 2);
  }
  if (!config->positional().empty()) {
    return fail(InvalidArgumentError("unexpected argument '" + config->positional().front() +
                                     "' (flags are spelled --key=value)"),
                2);
  }
  auto basics = LoadProgramBasics(*config, spec.default_metrics_port);
  if (!basics.ok()) return fail(basics.status(), 2);
  ConfigureLogging(*basics, spec.name);
  if (Status s = SetHttpIoThreads(basics->http_io_threads); !s.ok())
    log::Warn("HTTP I/O pool left as it is", {{"error", s}});

  MetricsRegistry metrics;
  metrics
      .Gauge("zenith_build_info", "Always 1; labels say which program and version is running.",
             {{"program", spec.name}, {"version", ZENITH_VERSION}})
      .Set(1);
  metrics.Gauge("zenith_start_time_seconds", "When the program started, in Unix seconds.")
      .SetToCurrentTime();
  AdminServer admin({basics->metrics_address, basics->metrics_port}, metrics);
  if (Status s = admin.Start(); !s.ok()) return fail(s, 1);
  auto stop = spec.start(*config, metrics, admin);
  if (!stop.ok()) {
    log::Error("start failed", {{"error", stop.status()}});
    return fail(stop.status(), stop.status().code() == StatusCode::kInvalidArgument ? 2 : 1);
  }
  log::Info("started", {{"config", config->file()}});
  int sig = WaitForTerminationSignal();
  log::Info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*stop)();
  admin.Stop();
  log::Info("stopped");
  return 0;
}

}  // namespace zenith::common
