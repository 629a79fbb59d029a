// The zenith-runtime program's parts, wired: options from the config, the producer engine,
// its telemetry exported on /metrics, a readiness check that passes once the shared-memory
// segment exists (and fails with the reason if the data plane failed). main() stays tiny.
#pragma once

#include <functional>

#include "zenith/common/admin_server.h"
#include "zenith/common/config.h"
#include "zenith/common/metrics.h"
#include "zenith/common/status.h"

namespace zenith::runtime {

// ProgramSpec::start for zenith-runtime: starts the engine and returns how to stop it.
Result<std::function<void()>> StartSidecar(const common::Config& config,
                                           common::MetricsRegistry& metrics,
                                           common::AdminServer& admin);

}  // namespace zenith::runtime
