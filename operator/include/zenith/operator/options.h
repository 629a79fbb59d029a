// zenith-operator's settings, read from the shared Config (file, environment, flags). Only
// parsing and validation live here; the controller and the scheduler take the parsed struct.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "zenith/common/config.h"
#include "zenith/common/status.h"

namespace zenith::operator_ {

struct Options {
  std::string kubeconfig;       // empty: in-cluster config
  std::string watch_namespace;  // empty: all namespaces
  std::string scheduler_name = "zenith";
  bool leader_election = true;
  std::string leader_election_namespace = "zenith-system";
  std::chrono::nanoseconds lease_duration = std::chrono::seconds(15);
  int workers = 4;  // concurrent reconciles
};

const std::vector<common::ConfigKey>& ConfigKeys();
Result<Options> LoadOptions(const common::Config& config);

}  // namespace zenith::operator_
