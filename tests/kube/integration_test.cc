// Integration tests against a real kube-apiserver (label kube): CRUD, conflicts, watch order,
// 410 → re-list, informer, leader election, and a service-account token without rights.
#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>

#include "integration_env.h"
#include "zenith/kube/informer.h"
#include "zenith/kube/leader_election.h"
#include "zenith/kube/watch.h"

namespace zenith::kube {
namespace {

using namespace std::chrono_literals;
using testing::ConfigMap;
using testing::KubeTest;
using testing::WaitFor;

TEST_F(KubeTest, ConfigMapCrud) {
  auto cms = resources::ConfigMaps();
  auto created = client_->Create(cms, ns_, ConfigMap("a", "1"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(ResourceVersionOf(*created).empty());

  auto dup = client_->Create(cms, ns_, ConfigMap("a", "1"));
  EXPECT_TRUE(IsAlreadyExists(dup.status())) << dup.status();
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);

  auto got = client_->Get(cms, ns_, "a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["data"]["v"], "1");

  Json updated_obj = *got;
  updated_obj["data"]["v"] = "2";
  auto updated = client_->Update(cms, ns_, updated_obj);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ((*updated)["data"]["v"], "2");

  auto merged = client_->Patch(cms, ns_, "a", PatchType::kMerge, {{"data", {{"m", "x"}}}});
  ASSERT_TRUE(merged.ok()) << merged.status();
  auto strategic = client_->Patch(cms, ns_, "a", PatchType::kStrategicMerge,
                                  {{"metadata", {{"labels", {{"s", "y"}}}}}});
  ASSERT_TRUE(strategic.ok()) << strategic.status();
  auto jp = client_->Patch(cms, ns_, "a", PatchType::kJson,
                           Json::array({{{"op", "replace"}, {"path", "/data/v"}, {"value", "3"}}}));
  ASSERT_TRUE(jp.ok()) << jp.status();
  EXPECT_EQ((*jp)["data"]["v"], "3");
  EXPECT_EQ((*jp)["data"]["m"], "x");
  EXPECT_EQ((*jp)["metadata"]["labels"]["s"], "y");

  Json applied = {{"apiVersion", "v1"},
                  {"kind", "ConfigMap"},
                  {"metadata", {{"name", "b"}, {"namespace", ns_}}},
                  {"data", {{"owner", "zenith"}}}};
  auto ap = client_->Apply(cms, "", applied, "zenith-test");
  ASSERT_TRUE(ap.ok()) << ap.status();
  EXPECT_EQ((*ap)["data"]["owner"], "zenith");
  applied["data"]["owner"] = "other";
  auto conflict = client_->Apply(cms, "", applied, "someone-else");
  EXPECT_TRUE(IsConflict(conflict.status())) << conflict.status();  // field owned by zenith-test
  auto forced = client_->Apply(cms, "", applied, "someone-else", /*force=*/true);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ((*forced)["data"]["owner"], "other");

  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client_->Create(cms, ns_, ConfigMap("page-" + std::to_string(i), "p")).ok());
  }
  ListOptions lo;
  lo.limit = 2;
  auto page = client_->List(cms, ns_, lo);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ((*page)["items"].size(), 2u);
  EXPECT_FALSE((*page)["metadata"].value("continue", "").empty());
  auto all = client_->ListAll(cms, ns_, lo);
  ASSERT_TRUE(all.ok()) << all.status();
  lo.label_selector = "app=zk";
  auto labelled = client_->ListAll(cms, ns_, lo);
  ASSERT_TRUE(labelled.ok());
  EXPECT_EQ((*labelled)["items"].size(), 6u);  // a + 5 pages; b has no label
  ListOptions by_field;
  by_field.field_selector = "metadata.name=b";
  auto fielded = client_->List(cms, ns_, by_field);
  ASSERT_TRUE(fielded.ok());
  EXPECT_EQ((*fielded)["items"].size(), 1u);

  DeleteOptions stale;
  stale.precondition_resource_version = "1";
  auto refused = client_->Delete(cms, ns_, "a", stale);
  EXPECT_TRUE(IsConflict(refused.status())) << refused.status();
  DeleteOptions d;
  d.propagation_policy = "Background";
  ASSERT_TRUE(client_->Delete(cms, ns_, "a", d).ok());
  auto gone = client_->Get(cms, ns_, "a");
  EXPECT_TRUE(IsNotFound(gone.status())) << gone.status();
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ApiReason(gone.status()), "NotFound");
}

TEST_F(KubeTest, InvalidObjectNamesTheField) {
  auto bad = client_->Create(resources::ConfigMaps(), ns_, ConfigMap("Not_Valid", "x"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ApiReason(bad.status()), "Invalid");
  EXPECT_EQ(ApiHttpCode(bad.status()), 422);
  EXPECT_NE(bad.status().message().find("field metadata.name"), std::string::npos) << bad.status();
}

TEST_F(KubeTest, StaleResourceVersionIsAConflict) {
  auto cms = resources::ConfigMaps();
  auto v1 = client_->Create(cms, ns_, ConfigMap("c", "1"));
  ASSERT_TRUE(v1.ok()) << v1.status();
  Json first = *v1;
  first["data"]["v"] = "2";
  ASSERT_TRUE(client_->Update(cms, ns_, first).ok());
  Json stale = *v1;  // still carries the first resourceVersion
  stale["data"]["v"] = "3";
  auto r = client_->Update(cms, ns_, stale);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsConflict(r.status())) << r.status();
  EXPECT_EQ(r.status().code(), StatusCode::kAborted);
  EXPECT_EQ(ApiHttpCode(r.status()), 409);
  EXPECT_NE(r.status().message().find("modified"), std::string::npos) << r.status();
}

Json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return Json::parse(ss.str());
}

TEST_F(KubeTest, CustomResourceCrudWithStatus) {
  auto crds = resources::CustomResourceDefinitions();
  Json crd = ReadJson(std::string(ZENITH_KUBE_TESTDATA_DIR) + "/widgets-crd.json");
  auto created = client_->Create(crds, "", crd);
  ASSERT_TRUE(created.ok() || IsAlreadyExists(created.status())) << created.status();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto c = client_->Get(crds, "", "widgets.test.zenith.ai");
        if (!c.ok()) return false;
        for (const auto& cond :
             c->value("status", Json::object()).value("conditions", Json::array())) {
          if (cond.value("type", "") == "Established" && cond.value("status", "") == "True")
            return true;
        }
        return false;
      },
      20s))
      << "CRD never became Established";
  auto widgets = resources::Custom("test.zenith.ai", "v1", "widgets", true, "Widget");
  Json w = {{"apiVersion", "test.zenith.ai/v1"},
            {"kind", "Widget"},
            {"metadata", {{"name", "w1"}}},
            {"spec", {{"size", 3}, {"color", "red"}}}};
  // The new type may take a moment to be served.
  Result<Json> made = InternalError("not tried");
  ASSERT_TRUE(WaitFor(
      [&] {
        made = client_->Create(widgets, ns_, w);
        return made.ok() || !IsNotFound(made.status());
      },
      20s));
  ASSERT_TRUE(made.ok()) << made.status();
  auto invalid = client_->Patch(widgets, ns_, "w1", PatchType::kMerge, {{"spec", {{"size", -1}}}});
  EXPECT_EQ(ApiReason(invalid.status()), "Invalid") << invalid.status();
  EXPECT_NE(invalid.status().message().find("spec.size"), std::string::npos) << invalid.status();

  auto patched = client_->Patch(widgets, ns_, "w1", PatchType::kMerge, {{"spec", {{"size", 5}}}});
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ((*patched)["spec"]["size"], 5);
  auto smp = client_->Patch(widgets, ns_, "w1", PatchType::kStrategicMerge, Json::object());
  EXPECT_EQ(smp.status().code(), StatusCode::kInvalidArgument);

  Json with_status = *patched;
  with_status["status"] = {{"phase", "Ready"}};
  auto st = client_->UpdateStatus(widgets, ns_, with_status);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ((*st)["status"]["phase"], "Ready");
  auto st2 = client_->PatchStatus(widgets, ns_, "w1", PatchType::kMerge,
                                  {{"status", {{"phase", "Done"}}}});
  ASSERT_TRUE(st2.ok()) << st2.status();
  auto read = client_->GetStatus(widgets, ns_, "w1");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ((*read)["status"]["phase"], "Done");
  EXPECT_EQ((*read)["spec"]["size"], 5);

  Json stale = *made;
  stale["spec"]["color"] = "blue";
  EXPECT_TRUE(IsConflict(client_->Update(widgets, ns_, stale).status()));
  auto list = client_->List(widgets, ns_);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)["items"].size(), 1u);
  ASSERT_TRUE(client_->Delete(widgets, ns_, "w1").ok());
  EXPECT_TRUE(IsNotFound(client_->Get(widgets, ns_, "w1").status()));
}

TEST_F(KubeTest, WatchSeesAddModifyDeleteInOrder) {
  auto cms = resources::ConfigMaps();
  auto list = client_->List(cms, ns_);
  ASSERT_TRUE(list.ok());
  std::mutex mu;
  std::vector<std::string> seen;
  Cancellation cancel;
  WatchOptions wo;
  wo.resource_version = ResourceVersionOf(*list);
  wo.timeout_seconds = 30;
  std::thread watcher([&] {
    Status s = client_->Watch(
        cms, ns_, wo,
        [&](const WatchEvent& ev) {
          if (ev.type == WatchEvent::Type::kBookmark) return true;
          std::lock_guard lock(mu);
          seen.push_back(std::string(WatchEventTypeName(ev.type)) + " " +
                         ev.object["metadata"].value("name", "") + " " +
                         ev.object.value("data", Json::object()).value("v", ""));
          return seen.size() < 3;
        },
        &cancel);
    EXPECT_TRUE(s.ok() || s.code() == StatusCode::kCancelled) << s;
  });
  ASSERT_TRUE(client_->Create(cms, ns_, ConfigMap("w", "1")).ok());
  ASSERT_TRUE(client_->Patch(cms, ns_, "w", PatchType::kMerge, {{"data", {{"v", "2"}}}}).ok());
  ASSERT_TRUE(client_->Delete(cms, ns_, "w").ok());
  bool all = WaitFor(
      [&] {
        std::lock_guard l(mu);
        return seen.size() >= 3;
      },
      10s);
  cancel.Cancel();
  watcher.join();
  ASSERT_TRUE(all);
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED w 1", "MODIFIED w 2", "DELETED w 2"}));
}

// The transport hands a streamed body to the callback from cpprestsdk's I/O thread; a callback
// that says stop must end the request at once, with no cancellation from outside.
TEST_F(KubeTest, WatchEndsWhenTheCallbackSaysStop) {
  auto cms = resources::ConfigMaps();
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(client_->Create(cms, ns_, ConfigMap("s" + std::to_string(i), "1")).ok());
  WatchOptions wo;
  wo.send_initial_events = true;  // the three ConfigMaps arrive as ADDED events
  wo.timeout_seconds = 300;
  int calls = 0;
  const auto t0 = std::chrono::steady_clock::now();
  Status s = client_->Watch(
      cms, ns_, wo,
      [&](const WatchEvent& ev) {
        ++calls;
        EXPECT_EQ(ev.type, WatchEvent::Type::kAdded);
        return false;
      },
      nullptr);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(calls, 1) << "no callback after the one that said stop";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

// A stream the server refuses comes back as an error carrying the server's own message.
TEST_F(KubeTest, RefusedWatchNamesTheServersReason) {
  WatchOptions wo;
  wo.field_selector = "metadata.nonexistent=x";
  wo.timeout_seconds = 5;
  bool called = false;
  Status s = client_->Watch(
      resources::ConfigMaps(), ns_, wo,
      [&](const WatchEvent&) {
        called = true;
        return true;
      },
      nullptr);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(called);
  EXPECT_NE(s.message().find("metadata.nonexistent"), std::string::npos) << s;
}

TEST_F(KubeTest, StopEndsAnIdleWatchPromptly) {
  ResumableWatchOptions o;
  o.namespace_ = ns_;
  o.timeout_seconds = 300;
  ResumableWatch w(*client_, resources::ConfigMaps(), o, {});
  w.Start();
  std::this_thread::sleep_for(500ms);  // listed and parked in the watch request
  auto t0 = std::chrono::steady_clock::now();
  w.Stop();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 1s);
}

// Both ways of listing: a streamed list (the default; the API server here supports it, so no
// LIST request is made) and plain LIST requests.
TEST_F(KubeTest, InformerTracksAddsUpdatesAndDeletes) {
  auto cms = resources::ConfigMaps();
  for (bool stream : {true, false}) {
    SCOPED_TRACE(stream ? "streamed list" : "LIST");
    const std::string pre = stream ? "pre-s" : "pre-l", x = stream ? "x-s" : "x-l";
    ASSERT_TRUE(client_->Create(cms, ns_, ConfigMap(pre, "1")).ok());
    ResumableWatchOptions o;
    o.namespace_ = ns_;
    o.stream_lists = stream;
    Informer inf(*client_, cms, o);
    std::mutex mu;
    std::vector<std::string> log;
    inf.AddHandlers({[&](const Json& o) {
                       std::lock_guard l(mu);
                       log.push_back("add " + ObjectKey(o));
                     },
                     [&](const Json&, const Json& n) {
                       std::lock_guard l(mu);
                       log.push_back("update " + ObjectKey(n));
                     },
                     [&](const Json& o) {
                       std::lock_guard l(mu);
                       log.push_back("delete " + ObjectKey(o));
                     }});
    inf.Start();
    ASSERT_TRUE(inf.WaitForSync(10s));
    EXPECT_TRUE(inf.HasSynced());
    EXPECT_TRUE(inf.Get(ns_ + "/" + pre).has_value());
    EXPECT_EQ(inf.list_requests(), stream ? 0u : 1u);
    ASSERT_TRUE(client_->Create(cms, ns_, ConfigMap(x, "1")).ok());
    ASSERT_TRUE(client_->Patch(cms, ns_, x, PatchType::kMerge, {{"data", {{"v", "2"}}}}).ok());
    ASSERT_TRUE(client_->Delete(cms, ns_, pre).ok());
    ASSERT_TRUE(WaitFor(
        [&] {
          std::lock_guard l(mu);
          return log.size() >= 4;
        },
        10s));
    inf.Stop();
    std::lock_guard l(mu);
    EXPECT_EQ(log,
              (std::vector<std::string>{"add " + ns_ + "/" + pre, "add " + ns_ + "/" + x,
                                        "update " + ns_ + "/" + x, "delete " + ns_ + "/" + pre}));
    EXPECT_EQ(inf.Size(), 1u);
    EXPECT_EQ((*inf.Get(ns_ + "/" + x))["data"]["v"], "2");
    ASSERT_TRUE(client_->Delete(cms, ns_, x).ok());
  }
}

TEST_F(KubeTest, LeaderElectionHandsOverWithinTheLeaseDuration) {
  const auto lease_duration = 3s;
  std::atomic<int> leaders{0};
  std::atomic<int> max_leaders{0};
  std::atomic<int> starts{0};
  std::mutex mu;
  std::string current;
  std::chrono::steady_clock::time_point lost_at, taken_at;

  auto make = [&](const std::string& id, bool release) {
    LeaderElectionConfig c;
    c.identity = id;
    c.lease_duration = lease_duration;
    c.renew_deadline = 2s;
    c.retry_period = 250ms;
    c.release_on_stop = release;
    c.on_started_leading = [&, id] {
      int n = ++leaders;
      int m = max_leaders.load();
      while (n > m && !max_leaders.compare_exchange_weak(m, n)) {
      }
      ++starts;
      std::lock_guard l(mu);
      current = id;
      taken_at = std::chrono::steady_clock::now();
    };
    c.on_stopped_leading = [&] { --leaders; };
    return std::make_unique<LeaderElector>(MakeLeaseLock(*client_, ns_, "zenith-leader"), c,
                                           common::SystemClock::Get());
  };
  auto a = make("candidate-a", /*release=*/false);
  auto b = make("candidate-b", /*release=*/false);
  ASSERT_TRUE(a->Validate().ok());
  a->Start();
  b->Start();
  ASSERT_TRUE(WaitFor([&] { return starts.load() == 1; }, 10s));
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(starts.load(), 1);  // the other one waits
  std::string first;
  {
    std::lock_guard l(mu);
    first = current;
  }
  LeaderElector* leader = first == "candidate-a" ? a.get() : b.get();
  LeaderElector* follower = leader == a.get() ? b.get() : a.get();
  EXPECT_TRUE(leader->IsLeader());
  EXPECT_FALSE(follower->IsLeader());
  // The leader stops renewing without releasing (as if it crashed).
  {
    auto lease = client_->Get(resources::Leases(), ns_, "zenith-leader");
    ASSERT_TRUE(lease.ok());
  }
  lost_at = std::chrono::steady_clock::now();
  leader->Stop();
  ASSERT_TRUE(WaitFor([&] { return starts.load() == 2; }, 10s));
  auto took = taken_at - lost_at;
  // Not before the lease ran out (the old leader might still act), and not much after.
  EXPECT_GT(took, lease_duration - 1s);
  EXPECT_LT(took, lease_duration + 2s)
      << "takeover took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
      << "ms";
  EXPECT_TRUE(follower->IsLeader());
  EXPECT_EQ(max_leaders.load(), 1) << "two candidates led at once";
  auto lease = client_->Get(resources::Leases(), ns_, "zenith-leader");
  ASSERT_TRUE(lease.ok());
  EXPECT_NE((*lease)["spec"].value("holderIdentity", ""), first);
  a.reset();
  b.reset();
}

TEST_F(KubeTest, ServiceAccountWithoutRightsIsForbidden) {
  auto sa = client_->Create(
      resources::ServiceAccounts(), ns_,
      {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "nobody"}}}});
  ASSERT_TRUE(sa.ok()) << sa.status();
  Json request = {{"apiVersion", "authentication.k8s.io/v1"},
                  {"kind", "TokenRequest"},
                  {"spec", {{"expirationSeconds", 600}}}};
  auto tr =
      client_->CreateSubresource(resources::ServiceAccounts(), ns_, "nobody", "token", request);
  ASSERT_TRUE(tr.ok()) << tr.status();
  std::string token = (*tr)["status"].value("token", "");
  ASSERT_FALSE(token.empty());

  RestConfig config = testing::AdminConfig();
  config.client_cert_pem.clear();
  config.client_key_pem.clear();
  config.token = token;
  auto as_sa = Client::Create(config);
  ASSERT_TRUE(as_sa.ok()) << as_sa.status();
  auto r = (*as_sa)->List(resources::ConfigMaps(), ns_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status();
  EXPECT_TRUE(IsForbidden(r.status()));
  EXPECT_EQ(ApiReason(r.status()), "Forbidden");
  EXPECT_NE(r.status().message().find("system:serviceaccount:" + ns_ + ":nobody"),
            std::string::npos)
      << r.status();
  // And a token that is not a token at all is 401.
  config.token = "garbage";
  auto anon = Client::Create(config);
  ASSERT_TRUE(anon.ok());
  auto u = (*anon)->Get(resources::ConfigMaps(), ns_, "x");
  EXPECT_EQ(u.status().code(), StatusCode::kUnauthenticated) << u.status();
}

TEST_F(KubeTest, BindingAPodSetsItsNode) {
  // No controller-manager here, so the namespace's default ServiceAccount is ours to create.
  ASSERT_TRUE(client_
                  ->Create(resources::ServiceAccounts(), ns_,
                           {{"apiVersion", "v1"},
                            {"kind", "ServiceAccount"},
                            {"metadata", {{"name", "default"}}}})
                  .ok());
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "worker-0"}}},
              {"spec",
               {{"schedulerName", "zenith"},
                {"automountServiceAccountToken", false},
                {"containers", Json::array({{{"name", "main"}, {"image", "busybox"}}})}}}};
  auto created = client_->Create(resources::Pods(), ns_, pod);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(client_->Bind(ns_, "worker-0", "node-7", (*created)["metadata"]["uid"]).ok());
  auto bound = client_->Get(resources::Pods(), ns_, "worker-0");
  ASSERT_TRUE(bound.ok());
  EXPECT_EQ((*bound)["spec"]["nodeName"], "node-7");
  Status again = client_->Bind(ns_, "worker-0", "node-8");
  EXPECT_TRUE(IsConflict(again) || again.code() == StatusCode::kAborted) << again;
}

TEST_F(KubeTest, TlsIsVerifiedAgainstTheClusterCa) {
  RestConfig config = testing::AdminConfig();
  // A CA that did not sign the server's certificate: the handshake must fail.
  config.ca_pem = config.client_cert_pem;  // the admin cert is not a CA for the serving cert
  ClientOptions o;
  o.retry.max_attempts = 1;
  auto c = Client::Create(config, o);
  ASSERT_TRUE(c.ok()) << c.status();
  auto r = (*c)->Get(resources::Namespaces(), "", "default");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status();
}

}  // namespace
}  // namespace zenith::kube
