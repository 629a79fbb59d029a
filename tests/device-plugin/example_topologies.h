// The machine fixtures of examples/topologies/, loaded for tests. ZENITH_TOPOLOGY_DIR is set by
// tests/device-plugin/CMakeLists.txt.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "zenith/deviceplugin/fixture_discovery.h"

namespace zenith::deviceplugin::fixtures {

inline std::string TopologyPath(const std::string& name) {
  return std::string(ZENITH_TOPOLOGY_DIR) + "/" + name;
}

// The topology of examples/topologies/<name>; a failure to load fails the calling test.
inline NodeTopology LoadTopology(const std::string& name) {
  FixtureDiscovery d(TopologyPath(name));
  auto t = d.Discover();
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : NodeTopology();
}

}  // namespace zenith::deviceplugin::fixtures
