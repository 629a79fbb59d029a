// The client's logic over a fake transport: retries and their waits, error mapping, request
// shapes, watch parsing. No server.
#include "zenith/kube/client.h"

#include <gtest/gtest.h>

#include <deque>

namespace zenith::kube {
namespace {

using namespace std::chrono_literals;

class FakeTransport final : public Transport {
 public:
  struct Reply {
    Status error;  // non-OK: no HTTP answer
    HttpResponse response;
    std::vector<std::string> lines;  // for Stream
  };
  std::deque<Reply> replies;
  std::vector<HttpRequest> requests;

  static Reply Http(int code, std::string body, std::map<std::string, std::string> headers = {}) {
    Reply r;
    r.response.status = code;
    r.response.body = std::move(body);
    r.response.headers = std::move(headers);
    return r;
  }

  Result<HttpResponse> Send(const HttpRequest& request, Cancellation*) override {
    requests.push_back(request);
    if (replies.empty()) return InternalError("no reply scripted");
    Reply r = replies.front();
    replies.pop_front();
    if (!r.error.ok()) return r.error;
    return r.response;
  }

  Result<HttpResponse> Stream(const HttpRequest& request,
                              const std::function<bool(std::string_view)>& on_line,
                              Cancellation*) override {
    requests.push_back(request);
    if (replies.empty()) return InternalError("no reply scripted");
    Reply r = replies.front();
    replies.pop_front();
    if (!r.error.ok()) return r.error;
    if (r.response.status == 200) {
      for (const auto& l : r.lines) {
        if (!on_line(l)) break;
      }
    }
    return r.response;
  }
};

struct Fixture {
  common::FakeClock clock;
  FakeTransport* transport;
  std::unique_ptr<Client> client;
  Fixture() {
    auto t = std::make_unique<FakeTransport>();
    transport = t.get();
    ClientOptions o;
    o.clock = &clock;
    o.qps = 0;
    o.retry.jitter = 0;
    client = std::make_unique<Client>(std::move(t), o);
  }
};

const char kCm[] =
    R"({"kind":"ConfigMap","metadata":{"name":"x","namespace":"d","resourceVersion":"5"}})";

TEST(ClientTest, GetBuildsThePathAndParsesTheObject) {
  Fixture f;
  f.transport->replies.push_back(FakeTransport::Http(200, kCm));
  auto cm = f.client->Get(resources::ConfigMaps(), "d", "x");
  ASSERT_TRUE(cm.ok()) << cm.status();
  EXPECT_EQ(ResourceVersionOf(*cm), "5");
  EXPECT_EQ(ObjectKey(*cm), "d/x");
  EXPECT_EQ(f.transport->requests[0].method, "GET");
  EXPECT_EQ(f.transport->requests[0].path_and_query, "/api/v1/namespaces/d/configmaps/x");
}

TEST(ClientTest, RetriesTooManyRequestsHonouringRetryAfter) {
  Fixture f;
  f.transport->replies.push_back(FakeTransport::Http(
      429, R"({"kind":"Status","reason":"TooManyRequests","message":"slow","code":429})",
      {{"retry-after", "3"}}));
  f.transport->replies.push_back(FakeTransport::Http(200, kCm));
  auto cm = f.client->Get(resources::ConfigMaps(), "d", "x");
  ASSERT_TRUE(cm.ok()) << cm.status();
  EXPECT_EQ(f.transport->requests.size(), 2u);
  EXPECT_EQ(f.clock.Elapsed(), 3s);
}

TEST(ClientTest, RetriesDroppedConnectionsAndServerErrorsWithBackoff) {
  Fixture f;
  FakeTransport::Reply refused;
  refused.error = UnavailableError("connection refused");
  f.transport->replies.push_back(refused);
  f.transport->replies.push_back(FakeTransport::Http(503, "unavailable"));
  f.transport->replies.push_back(FakeTransport::Http(200, kCm));
  auto cm = f.client->Get(resources::ConfigMaps(), "d", "x");
  ASSERT_TRUE(cm.ok()) << cm.status();
  EXPECT_EQ(f.transport->requests.size(), 3u);
  EXPECT_EQ(f.clock.Elapsed(), 250ms + 500ms);
}

TEST(ClientTest, ConflictIsNotRetriedAndKeepsTheReason) {
  Fixture f;
  f.transport->replies.push_back(FakeTransport::Http(
      409,
      R"({"kind":"Status","reason":"Conflict","message":"the object has been modified","code":409})"));
  auto r = f.client->Update(resources::ConfigMaps(), "", Json::parse(kCm));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsConflict(r.status()));
  EXPECT_EQ(r.status().code(), StatusCode::kAborted);
  EXPECT_NE(r.status().message().find("update configmaps d/x"), std::string::npos) << r.status();
  EXPECT_EQ(f.transport->requests.size(), 1u);
  EXPECT_EQ(f.transport->requests[0].method, "PUT");
  EXPECT_EQ(f.transport->requests[0].path_and_query, "/api/v1/namespaces/d/configmaps/x");
}

TEST(ClientTest, RetriesAreBounded) {
  Fixture f;
  for (int i = 0; i < 10; ++i) f.transport->replies.push_back(FakeTransport::Http(503, "busy"));
  auto r = f.client->Get(resources::ConfigMaps(), "d", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(f.transport->requests.size(), 6u);
  EXPECT_EQ(ApiHttpCode(r.status()), 503);
}

TEST(ClientTest, CreatePostsToTheCollectionAndNamesTheObject) {
  Fixture f;
  f.transport->replies.push_back(FakeTransport::Http(
      409,
      R"({"kind":"Status","reason":"AlreadyExists","message":"configmaps \"x\" already exists","code":409})"));
  auto r = f.client->Create(resources::ConfigMaps(), "", Json::parse(kCm));
  EXPECT_TRUE(IsAlreadyExists(r.status()));
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(r.status().message().find("create configmaps d/x"), std::string::npos) << r.status();
  EXPECT_EQ(f.transport->requests[0].method, "POST");
  EXPECT_EQ(f.transport->requests[0].path_and_query, "/api/v1/namespaces/d/configmaps");
}

TEST(ClientTest, PatchKindsAndApply) {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.transport->replies.push_back(FakeTransport::Http(200, kCm));
  auto crd = resources::Custom("zenith.ai", "v1alpha1", "zenithjobs");
  EXPECT_TRUE(f.client
                  ->Patch(resources::ConfigMaps(), "d", "x", PatchType::kStrategicMerge,
                          {{"data", {{"a", "1"}}}})
                  .ok());
  EXPECT_EQ(f.transport->requests[0].content_type, "application/strategic-merge-patch+json");
  auto bad = f.client->Patch(crd, "d", "j", PatchType::kStrategicMerge, Json::object());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  Json obj = Json::parse(kCm);
  EXPECT_TRUE(f.client->Apply(resources::ConfigMaps(), "", obj, "zenith", true).ok());
  EXPECT_EQ(f.transport->requests[1].content_type, "application/apply-patch+yaml");
  EXPECT_EQ(f.transport->requests[1].path_and_query,
            "/api/v1/namespaces/d/configmaps/x?fieldManager=zenith&force=true");
  EXPECT_TRUE(f.client->PatchStatus(crd, "d", "j", PatchType::kMerge, {{"status", {}}}).ok());
  EXPECT_EQ(f.transport->requests[2].path_and_query,
            "/apis/zenith.ai/v1alpha1/namespaces/d/zenithjobs/j/status");
}

TEST(ClientTest, DeleteCarriesPreconditionsAndPropagation) {
  Fixture f;
  f.transport->replies.push_back(
      FakeTransport::Http(200, R"({"kind":"Status","status":"Success"})"));
  DeleteOptions o;
  o.propagation_policy = "Foreground";
  o.precondition_resource_version = "7";
  ASSERT_TRUE(f.client->Delete(resources::Pods(), "d", "p", o).ok());
  Json body = Json::parse(f.transport->requests[0].body);
  EXPECT_EQ(body["propagationPolicy"], "Foreground");
  EXPECT_EQ(body["preconditions"]["resourceVersion"], "7");
  EXPECT_EQ(f.transport->requests[0].method, "DELETE");
}

TEST(ClientTest, BindPostsABinding) {
  Fixture f;
  f.transport->replies.push_back(
      FakeTransport::Http(201, R"({"kind":"Status","status":"Success"})"));
  ASSERT_TRUE(f.client->Bind("d", "p", "node-1").ok());
  EXPECT_EQ(f.transport->requests[0].path_and_query, "/api/v1/namespaces/d/pods/p/binding");
  Json body = Json::parse(f.transport->requests[0].body);
  EXPECT_EQ(body["target"]["name"], "node-1");
  EXPECT_EQ(body["kind"], "Binding");
}

TEST(ClientTest, ListAllFollowsContinueTokens) {
  Fixture f;
  f.transport->replies.push_back(FakeTransport::Http(
      200,
      R"({"metadata":{"resourceVersion":"10","continue":"c1"},"items":[{"metadata":{"name":"a"}}]})"));
  f.transport->replies.push_back(FakeTransport::Http(
      200, R"({"metadata":{"resourceVersion":"10"},"items":[{"metadata":{"name":"b"}}]})"));
  ListOptions o;
  o.limit = 1;
  auto all = f.client->ListAll(resources::ConfigMaps(), "d", o);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ((*all)["items"].size(), 2u);
  EXPECT_EQ(ResourceVersionOf(*all), "10");
  EXPECT_EQ(f.transport->requests[1].path_and_query,
            "/api/v1/namespaces/d/configmaps?limit=1&continue=c1");
}

TEST(ClientTest, WatchDeliversEventsAndTurnsAnErrorEventIntoGone) {
  Fixture f;
  FakeTransport::Reply r = FakeTransport::Http(200, "");
  r.lines = {
      R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"11"}}})",
      R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12"}}})",
      R"J({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version: 1 (12)"}})J"};
  f.transport->replies.push_back(r);
  std::vector<std::string> seen;
  WatchOptions o;
  o.resource_version = "1";
  Status s = f.client->Watch(resources::ConfigMaps(), "d", o, [&](const WatchEvent& ev) {
    seen.push_back(std::string(WatchEventTypeName(ev.type)) + ":" + ResourceVersionOf(ev.object));
    return true;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED:11", "BOOKMARK:12"}));
  EXPECT_TRUE(IsGone(s)) << s;
  EXPECT_NE(s.message().find("too old resource version"), std::string::npos);
  EXPECT_NE(f.transport->requests[0].path_and_query.find("watch=1&allowWatchBookmarks=true"),
            std::string::npos);
}

TEST(ClientTest, BadWatchLineIsDataLoss) {
  EXPECT_EQ(ParseWatchEvent("not json").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(ParseWatchEvent(R"({"type":"WEIRD"})").status().code(), StatusCode::kDataLoss);
  auto ok = ParseWatchEvent(R"({"type":"DELETED","object":{}})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->type, WatchEvent::Type::kDeleted);
}

TEST(ClientTest, CircuitOpensAfterRepeatedFailuresAndFailsFast) {
  Fixture f;
  FakeTransport::Reply refused;
  refused.error = UnavailableError("connection refused");
  for (int i = 0; i < 20; ++i) f.transport->replies.push_back(refused);
  auto r1 = f.client->Get(resources::ConfigMaps(), "d", "x");  // 6 failures
  auto r2 = f.client->Get(resources::ConfigMaps(), "d", "x");  // 4 more: opens
  EXPECT_EQ(f.client->breaker().state(), common::CircuitBreaker::State::kOpen);
  size_t sent = f.transport->requests.size();
  auto r3 = f.client->Get(resources::ConfigMaps(), "d", "x");
  EXPECT_EQ(f.transport->requests.size(), sent);  // failed fast
  EXPECT_NE(r3.status().message().find("circuit"), std::string::npos) << r3.status();
}

}  // namespace
}  // namespace zenith::kube
