// Shared set-up for the integration tests: a client for the fixture's cluster, a namespace per
// test, and polling with a deadline. The cluster dir comes from ZENITH_KUBE_CLUSTER_DIR (set by
// CTest); without it the tests skip.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "zenith/kube/client.h"
#include "zenith/kube/config.h"

namespace zenith::kube::testing {

inline std::string ClusterDir() {
  const char* d = std::getenv("ZENITH_KUBE_CLUSTER_DIR");
  return d ? d : "";
}

inline std::string KubeconfigPath() { return ClusterDir() + "/kubeconfig"; }

inline RestConfig AdminConfig() {
  auto c = LoadKubeconfig(KubeconfigPath());
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : RestConfig{};
}

inline std::unique_ptr<Client> MakeClient(ClientOptions options = {}) {
  options.qps = options.qps == 50 ? 200 : options.qps;
  options.burst = std::max(options.burst, 400);
  auto client = Client::Create(AdminConfig(), options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? std::move(*client) : nullptr;
}

inline bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

// A fresh namespace named after the running test.
inline std::string MakeNamespace(Client& client) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string("zk-") + info->name();
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::isalnum(c) ? std::tolower(c) : '-'; });
  name = name.substr(0, 50) + "-" + std::to_string(::getpid());
  auto ns =
      client.Create(resources::Namespaces(), "",
                    {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
  EXPECT_TRUE(ns.ok()) << ns.status();
  return name;
}

inline Json ConfigMap(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", {{"app", "zk"}}}}},
          {"data", {{"v", value}}}};
}

class KubeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (ClusterDir().empty())
      GTEST_SKIP() << "ZENITH_KUBE_CLUSTER_DIR is not set (run via ctest -L kube)";
    client_ = MakeClient();
    ASSERT_NE(client_, nullptr);
    ns_ = MakeNamespace(*client_);
  }
  std::unique_ptr<Client> client_;
  std::string ns_;
};

}  // namespace zenith::kube::testing
