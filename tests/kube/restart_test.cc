// The informer's watch across a kube-apiserver restart: writes made while it was away are not
// missed; the cache ends equal to a fresh list. Runs alone (RUN_SERIAL): it restarts the shared
// API server.
#include <cpprest/http_client.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <set>

#include "integration_env.h"
#include "zenith/kube/informer.h"
#include "zenith/kube/watch.h"

namespace zenith::kube {
namespace {

using namespace std::chrono_literals;
using testing::ConfigMap;
using testing::KubeTest;
using testing::WaitFor;

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Stops the shared cluster's kube-apiserver and starts it again with the same flags and port.
bool RestartApiServer() {
  const std::string script = std::string(ZENITH_SOURCE_DIR) + "/e2e/cluster.sh";
  return std::system((ShellQuote(script) + " --dir " + ShellQuote(testing::ClusterDir()) +
                      " restart-apiserver")
                         .c_str()) == 0;
}

TEST_F(KubeTest, InformerMissesNothingAcrossAnApiServerRestart) {
  auto cms = resources::ConfigMaps();
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(client_->Create(cms, ns_, ConfigMap("before-" + std::to_string(i), "1")).ok());
  ResumableWatchOptions o;
  o.namespace_ = ns_;
  o.timeout_seconds = 120;
  Informer inf(*client_, cms, o);
  std::mutex mu;
  std::set<std::string> deleted;
  inf.AddHandlers({nullptr, nullptr, [&](const Json& obj) {
                     std::lock_guard l(mu);
                     deleted.insert(ObjectKey(obj));
                   }});
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(10s));
  ASSERT_TRUE(client_->Create(cms, ns_, ConfigMap("live", "1")).ok());
  ASSERT_TRUE(WaitFor([&] { return inf.Get(ns_ + "/live").has_value(); }, 5s));

  ASSERT_TRUE(RestartApiServer());
  // The client retries through the restart; these writes race the watch's reconnect.
  for (int i = 0; i < 5; ++i) {
    auto r = client_->Create(cms, ns_, ConfigMap("after-" + std::to_string(i), "1"));
    ASSERT_TRUE(r.ok() || IsAlreadyExists(r.status())) << r.status();
  }
  ASSERT_TRUE(
      client_->Patch(cms, ns_, "before-0", PatchType::kMerge, {{"data", {{"v", "changed"}}}}).ok());
  ASSERT_TRUE(client_->Delete(cms, ns_, "before-1").ok());
  ASSERT_TRUE(client_->Delete(cms, ns_, "live").ok());

  auto fresh_state = [&] {
    std::map<std::string, std::string> m;
    auto list = client_->ListAll(cms, ns_);
    if (!list.ok()) return m;
    for (const auto& item : (*list)["items"]) m[ObjectKey(item)] = ResourceVersionOf(item);
    return m;
  };
  auto cached_state = [&] {
    std::map<std::string, std::string> m;
    for (const auto& item : inf.List()) m[ObjectKey(item)] = ResourceVersionOf(item);
    return m;
  };
  const auto want = fresh_state();
  ASSERT_EQ(want.size(), 9u);  // before-0,2,3,4 and after-0..4
  EXPECT_TRUE(WaitFor([&] { return cached_state() == want; }, 20s))
      << "informer cache never matched a fresh list";
  EXPECT_GE(inf.reconnects(), 1u);
  EXPECT_EQ((*inf.Get(ns_ + "/before-0"))["data"]["v"], "changed");
  std::lock_guard l(mu);
  EXPECT_TRUE(deleted.count(ns_ + "/before-1"));
  EXPECT_TRUE(deleted.count(ns_ + "/live"));
  inf.Stop();
}

// Compacts etcd up to its current revision through its HTTP gateway; false if unreachable.
bool CompactEtcd() {
  std::ifstream env(testing::ClusterDir() + "/cluster.env");
  std::string line, port;
  while (std::getline(env, line)) {
    if (line.rfind("ZENITH_ETCD_CLIENT_PORT=", 0) == 0) port = line.substr(24);
  }
  if (port.empty()) return false;
  try {
    web::http::client::http_client etcd("http://127.0.0.1:" + port);
    auto status =
        etcd.request("POST", "/v3/maintenance/status", std::string("{}"), "application/json").get();
    Json st = Json::parse(status.extract_utf8string(true).get());
    std::string rev = st["header"]["revision"].get<std::string>();
    auto r = etcd.request("POST", "/v3/kv/compaction",
                          Json({{"revision", rev}, {"physical", true}}).dump(), "application/json")
                 .get();
    return r.status_code() == 200;
  } catch (const std::exception&) {
    return false;
  }
}

// The API server keeps a window of recent events in its watch cache; on a young cluster that
// window reaches back to the start, so an old resourceVersion only expires once etcd is
// compacted and the cache restarts. This test does both, then watches from before them.
TEST_F(KubeTest, ExpiredResourceVersionLeadsToARelist) {
  auto cms = resources::ConfigMaps();
  auto before = client_->Create(cms, ns_, ConfigMap("old", "1"));
  ASSERT_TRUE(before.ok());
  const std::string old_rv = ResourceVersionOf(*before);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        client_->Patch(cms, ns_, "old", PatchType::kMerge, {{"data", {{"v", std::to_string(i)}}}})
            .ok());
  }
  ASSERT_TRUE(client_->Delete(cms, ns_, "old").ok());
  ASSERT_TRUE(client_->Create(cms, ns_, ConfigMap("new", "1")).ok());
  ASSERT_TRUE(CompactEtcd());
  ASSERT_TRUE(RestartApiServer());
  ASSERT_TRUE(WaitFor([&] { return client_->Raw("GET", "/readyz").ok(); }, 30s));

  // The plain watch from a version older than the API server's window is 410 Gone.
  WatchOptions wo;
  wo.resource_version = old_rv;
  wo.timeout_seconds = 5;
  Status s = client_->Watch(cms, ns_, wo, [](const WatchEvent&) { return true; });
  EXPECT_TRUE(IsGone(s)) << s;
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);

  // The resumable watch turns it into a relist with the current state.
  std::mutex mu;
  std::vector<std::string> relisted;
  std::atomic<int> relists{0};
  ResumableWatchOptions o;
  o.namespace_ = ns_;
  o.start_resource_version = old_rv;
  ResumableWatchHandler h;
  h.on_relist = [&](std::vector<Json>& items, const std::string&, bool) {
    std::lock_guard lock(mu);
    for (auto& i : items) relisted.push_back(i["metadata"]["name"]);
    ++relists;
  };
  ResumableWatch w(*client_, cms, o, h);
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return relists.load() > 0; }, 10s));
  w.Stop();
  EXPECT_EQ(w.relists(), 1u);
  EXPECT_EQ(relisted, (std::vector<std::string>{"new"}));
}

}  // namespace
}  // namespace zenith::kube
