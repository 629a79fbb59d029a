#include "zenith/operator/executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>

#include "zenith/kube/transport.h"

namespace zenith::operator_ {
namespace {

// Answers by method and path, and records every request; the Executor sends some of them
// from several threads at once.
class RoutingTransport final : public kube::Transport {
 public:
  Result<kube::HttpResponse> Send(const kube::HttpRequest& request, kube::Cancellation*) override {
    std::lock_guard<std::mutex> l(mu);
    requests.push_back(request.method + " " + request.path_and_query);
    kube::HttpResponse r;
    const std::string& path = request.path_and_query;
    if (request.method == "POST" && path.find("/pods") != std::string::npos) {
      Json pod = Json::parse(request.body);
      std::string name = pod["metadata"]["name"];
      if (name == exists) {
        r.status = 409;
        r.body = Json{{"kind", "Status"},
                      {"status", "Failure"},
                      {"reason", "AlreadyExists"},
                      {"code", 409},
                      {"message", "pods \"" + name + "\" already exists"}}
                     .dump();
        return r;
      }
      pod["metadata"]["uid"] = "uid-" + name;
      r.status = 201;
      r.body = pod.dump();
      return r;
    }
    if (request.method == "PUT" || request.method == "POST") {
      Json obj = Json::parse(request.body);
      obj["metadata"]["resourceVersion"] = std::to_string(++version);
      r.status = request.method == "POST" ? 201 : 200;
      r.body = obj.dump();
      return r;
    }
    if (request.method == "DELETE") {
      deleted.push_back(path.substr(path.rfind('/') + 1) + " " + request.body);
      r.status = 200;
      r.body = R"({"kind":"Status","status":"Success"})";
      return r;
    }
    r.status = 404;
    r.body = R"({"kind":"Status","status":"Failure","reason":"NotFound","code":404})";
    return r;
  }
  Result<kube::HttpResponse> Stream(const kube::HttpRequest& request,
                                    const std::function<bool(std::string_view)>&,
                                    kube::Cancellation* c) override {
    return Send(request, c);
  }

  std::mutex mu;
  std::string exists;  // a pod name whose create answers 409 AlreadyExists
  int version = 100;
  std::vector<std::string> requests, deleted;
};

Json Job() {
  return {{"apiVersion", "zenith.ai/v1alpha1"},
          {"kind", "ZenithJob"},
          {"metadata",
           {{"name", "train"}, {"namespace", "ns"}, {"uid", "job-uid"}, {"resourceVersion", "7"}}},
          {"spec", {{"replicas", 3}}}};
}

Json Pod(int rank, const std::string& node = "") {
  Json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", "train-" + std::to_string(rank)}, {"namespace", "ns"}}},
            {"spec", {{"containers", Json::array()}}}};
  if (!node.empty()) p["spec"]["nodeName"] = node;
  return p;
}

struct Fixture {
  Fixture() {
    auto t = std::make_unique<RoutingTransport>();
    transport = t.get();
    kube::ClientOptions o;
    o.qps = 0;
    client = std::make_unique<kube::Client>(std::move(t), o);
    executor = std::make_unique<Executor>(*client, "test", "test-0", clock);
  }
  common::FakeClock clock;
  RoutingTransport* transport;
  std::unique_ptr<kube::Client> client;
  std::unique_ptr<Executor> executor;
};

TEST(ExecutorTest, FinalizerFirstThenStatusAndPodsTogether) {
  Fixture f;
  Plan plan;
  Json with = Job();
  with["metadata"]["finalizers"] = Json::array({kFinalizer});
  plan.update_job = with;
  plan.status = Json{{"phase", "Queued"}};
  for (int r = 0; r < 3; ++r) plan.create_pods.push_back(Pod(r));
  ExecuteResult result;
  ASSERT_TRUE(f.executor->Execute(Job(), {}, plan, &result).ok());
  ASSERT_EQ(f.transport->requests.size(), 5u);
  // Nothing of the job's may exist before its finalizer: the job's PUT is the first request.
  EXPECT_EQ(f.transport->requests[0],
            "PUT /apis/zenith.ai/v1alpha1/namespaces/ns/zenithjobs/train");
  EXPECT_EQ(std::count_if(f.transport->requests.begin(), f.transport->requests.end(),
                          [](const std::string& r) { return r.find("POST") == 0; }),
            3);
  // The status went onto the object the finalizer write returned (101), and came back as 102.
  EXPECT_EQ(result.job_version, "102");
  ASSERT_EQ(result.created.size(), 3u);
  EXPECT_EQ(result.created[1], (std::pair<std::string, std::string>{"ns/train-1", "uid-train-1"}));
}

TEST(ExecutorTest, GangCreatedBoundIsCreatedWholeOrRemoved) {
  Fixture f;
  f.transport->exists = "train-2";  // stale cache: a pod of that name is already there
  Plan plan;
  for (int r = 0; r < 3; ++r) plan.create_pods.push_back(Pod(r, "node-" + std::to_string(r)));
  plan.create_pods_bound = true;
  ExecuteResult result;
  Status s = f.executor->Execute(Job(), {}, plan, &result);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(kube::IsAlreadyExists(s)) << s;
  // The two pods this call created (and bound) are deleted again, each by its own uid.
  std::sort(f.transport->deleted.begin(), f.transport->deleted.end());
  ASSERT_EQ(f.transport->deleted.size(), 2u);
  EXPECT_NE(f.transport->deleted[0].find("train-0 "), std::string::npos);
  EXPECT_NE(f.transport->deleted[0].find("uid-train-0"), std::string::npos);
  EXPECT_NE(f.transport->deleted[1].find("uid-train-1"), std::string::npos);
  // Removed again: none of the gang is left to be counted.
  for (const auto& [pod, uid] : result.created) EXPECT_EQ(uid, "") << pod;
}

TEST(ExecutorTest, UnboundPodThatAlreadyExistsIsNoError) {
  Fixture f;
  f.transport->exists = "train-2";
  Plan plan;
  for (int r = 0; r < 3; ++r) plan.create_pods.push_back(Pod(r));
  ExecuteResult result;
  ASSERT_TRUE(f.executor->Execute(Job(), {}, plan, &result).ok());
  EXPECT_TRUE(f.transport->deleted.empty());
  EXPECT_EQ(result.created[2].second, "");  // not created by this call
}

}  // namespace
}  // namespace zenith::operator_
