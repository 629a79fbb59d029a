// zenith-operator's start-up, kept out of main so main stays a few lines: builds the API client
// from the options, the binder, the controller, and (when enabled) the leader election that
// runs the controller only while this replica holds the Lease. Losing the Lease ends the
// process, as controller-runtime does: a fresh start is simpler than un-starting informers.
#pragma once

#include <functional>

#include "zenith/common/admin_server.h"
#include "zenith/common/config.h"
#include "zenith/common/metrics.h"
#include "zenith/common/status.h"

namespace zenith::operator_ {

// ProgramSpec::start for zenith-operator: returns how to stop it.
Result<std::function<void()>> StartOperator(const common::Config& config,
                                            common::MetricsRegistry& metrics,
                                            common::AdminServer& admin);

}  // namespace zenith::operator_
