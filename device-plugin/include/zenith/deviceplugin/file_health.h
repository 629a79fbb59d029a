// Health from a file: every device ID listed in it is Unhealthy, every other device keeps the
// health its other checkers give it. The fixture backend's way to flip health from outside (the
// conformance test, the demo); works with any backend. The file is re-read every interval.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "zenith/deviceplugin/health_checker.h"
#include "zenith/deviceplugin/resource_manager.h"

namespace zenith::deviceplugin {

// Format: one device ID per line, optionally followed by a reason ("GPU-… XID 79"); blank lines
// and lines starting with '#' are ignored. A missing file lists nothing.
class FileHealthChecker final : public HealthChecker {
 public:
  FileHealthChecker(std::string path, std::vector<ResourceManager*> managers,
                    std::chrono::nanoseconds interval = std::chrono::milliseconds(100));
  ~FileHealthChecker() override { Stop(); }

  Status Start() override;
  void Stop() override { thread_.Stop(); }

  // Reads the file once and applies what changed since the last read. Returns how many
  // devices changed health. IDs no manager knows are logged once and skipped.
  Result<int> CheckOnce();

 private:
  std::string path_;
  std::vector<ResourceManager*> managers_;
  std::chrono::nanoseconds interval_;
  std::map<std::string, std::string> listed_;  // ID → reason, as of the last read
  std::map<std::string, bool> warned_;
  CheckerThread thread_;
};

}  // namespace zenith::deviceplugin
