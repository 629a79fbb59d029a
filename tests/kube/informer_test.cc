// The informer over a scripted server: a re-list after 410 reconciles the cache and delivers
// the deletions the watch never saw.
#include "zenith/kube/informer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <optional>
#include <thread>

namespace zenith::kube {
namespace {

using namespace std::chrono_literals;

// Lists and watch streams served in order; once the script runs out, a watch parks until
// cancelled, like an idle server.
class ScriptedServer final : public Transport {
 public:
  void AddList(std::string body) {
    std::lock_guard l(mu_);
    lists_.push_back(std::move(body));
  }
  // A watch stream: these lines, then `end` (OK: the server closed the stream).
  void AddWatch(std::vector<std::string> lines, Status end = Status::Ok()) {
    std::lock_guard l(mu_);
    watches_.push_back({std::move(lines), std::move(end), 200, ""});
  }
  // A watch request answered with an HTTP error and this body instead of a stream.
  void AddWatchRefusal(int status, std::string body) {
    std::lock_guard l(mu_);
    watches_.push_back({{}, Status::Ok(), status, std::move(body)});
  }
  std::vector<std::string> paths() {
    std::lock_guard l(mu_);
    return paths_;
  }

  Result<HttpResponse> Send(const HttpRequest& request, Cancellation*) override {
    std::lock_guard l(mu_);
    paths_.push_back(request.path_and_query);
    if (lists_.empty()) return UnavailableError("no list scripted");
    HttpResponse r;
    r.status = 200;
    r.body = lists_.front();
    lists_.pop_front();
    return r;
  }

  Result<HttpResponse> Stream(const HttpRequest& request,
                              const std::function<bool(std::string_view)>& on_line,
                              Cancellation* cancel) override {
    std::optional<Script> script;
    {
      std::lock_guard l(mu_);
      paths_.push_back(request.path_and_query);
      if (!watches_.empty()) {
        script = std::move(watches_.front());
        watches_.pop_front();
      }
    }
    HttpResponse r;
    r.status = 200;
    if (script) {
      r.status = script->status;
      r.body = script->body;
      if (r.status != 200) return r;
      for (const auto& line : script->lines) {
        if (!on_line(line)) break;
      }
      if (!script->end.ok()) return script->end;
      return r;
    }
    while (!cancel->cancelled()) std::this_thread::sleep_for(1ms);
    return CancelledError("cancelled");
  }

 private:
  std::mutex mu_;
  std::deque<std::string> lists_;
  struct Script {
    std::vector<std::string> lines;
    Status end;
    int status;
    std::string body;
  };
  std::deque<Script> watches_;
  std::vector<std::string> paths_;
};

// A client without a rate limit over the scripted server, and an informer on namespace d's
// ConfigMaps that lists with LIST requests, or with streamed lists when asked.
struct Rig {
  explicit Rig(std::unique_ptr<ScriptedServer> server, bool stream_lists = false)
      : client(std::move(server), Unlimited()),
        inf(client, resources::ConfigMaps(), InD(stream_lists)) {}
  static ClientOptions Unlimited() {
    ClientOptions o;
    o.qps = 0;
    return o;
  }
  static ResumableWatchOptions InD(bool stream_lists) {
    ResumableWatchOptions wo;
    wo.namespace_ = "d";
    wo.stream_lists = stream_lists;
    return wo;
  }
  Client client;
  Informer inf;
};

std::string Cm(const std::string& name, const std::string& rv) {
  return R"({"metadata":{"name":")" + name + R"(","namespace":"d","resourceVersion":")" + rv +
         R"("}})";
}

TEST(InformerTest, RelistAfterGoneDeliversMissedDeletes) {
  auto server = std::make_unique<ScriptedServer>();
  ScriptedServer* s = server.get();
  s->AddList(R"({"metadata":{"resourceVersion":"10"},"items":[)" + Cm("a", "5") + "," +
             Cm("b", "6") + "]}");
  s->AddWatch(
      {R"({"type":"MODIFIED","object":)" + Cm("b", "11") + "}",
       R"J({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version: 11 (40)"}})J"});
  // While away, a was deleted, b changed and c was created.
  s->AddList(R"({"metadata":{"resourceVersion":"40"},"items":[)" + Cm("b", "30") + "," +
             Cm("c", "31") + "]}");
  Rig rig(std::move(server));
  Informer& inf = rig.inf;
  std::mutex mu;
  std::vector<std::string> log;
  inf.AddHandlers({[&](const Json& x) {
                     std::lock_guard l(mu);
                     log.push_back("add " + ObjectKey(x));
                   },
                   [&](const Json&, const Json& n) {
                     std::lock_guard l(mu);
                     log.push_back("update " + ObjectKey(n) + "@" + ResourceVersionOf(n));
                   },
                   [&](const Json& x) {
                     std::lock_guard l(mu);
                     log.push_back("delete " + ObjectKey(x));
                   }});
  inf.Start();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline && inf.relists() < 1)
    std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  inf.Stop();
  EXPECT_TRUE(inf.HasSynced());
  EXPECT_EQ(inf.relists(), 1u);
  EXPECT_EQ(inf.Keys(), (std::vector<std::string>{"d/b", "d/c"}));
  std::lock_guard l(mu);
  EXPECT_EQ(log, (std::vector<std::string>{"add d/a", "add d/b", "update d/b@11", "delete d/a",
                                           "add d/c", "update d/b@30"}));
  auto paths = s->paths();
  ASSERT_GE(paths.size(), 4u);
  EXPECT_NE(paths[1].find("watch=1&allowWatchBookmarks=true&resourceVersion=10"),
            std::string::npos);
  EXPECT_NE(paths[3].find("resourceVersion=40"), std::string::npos);  // resumed from the re-list
}

TEST(InformerTest, ResumesFromTheLastSeenVersionAfterADroppedStream) {
  auto server = std::make_unique<ScriptedServer>();
  ScriptedServer* s = server.get();
  s->AddList(R"({"metadata":{"resourceVersion":"10"},"items":[]})");
  s->AddWatch({R"({"type":"ADDED","object":)" + Cm("a", "12") + "}",
               R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"15"}}})"});
  Rig rig(std::move(server));
  Informer& inf = rig.inf;
  inf.Start();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline && s->paths().size() < 3)
    std::this_thread::sleep_for(1ms);
  inf.Stop();
  auto paths = s->paths();
  ASSERT_GE(paths.size(), 3u);
  EXPECT_NE(paths[2].find("resourceVersion=15"), std::string::npos) << paths[2];
  EXPECT_EQ(inf.relists(), 0u);
  EXPECT_EQ(inf.Keys(), (std::vector<std::string>{"d/a"}));
}

TEST(InformerTest, TransformTrimsObjectsBeforeTheyAreStoredAndShared) {
  auto server = std::make_unique<ScriptedServer>();
  ScriptedServer* s = server.get();
  auto with_fields = [](const std::string& name, const std::string& rv) {
    return R"({"metadata":{"name":")" + name + R"(","namespace":"d","resourceVersion":")" + rv +
           R"(","managedFields":[{"manager":"kubectl"}]},"data":{"k":"v"}})";
  };
  s->AddList(R"({"metadata":{"resourceVersion":"10"},"items":[)" + with_fields("a", "5") + "]}");
  s->AddWatch({R"({"type":"ADDED","object":)" + with_fields("b", "12") + "}"});
  Rig rig(std::move(server));
  Informer& inf = rig.inf;
  inf.SetTransform([](Json& obj) { obj["metadata"].erase("managedFields"); });
  std::mutex mu;
  std::vector<Json> seen;
  inf.AddHandlers({[&](const Json& x) {
                     std::lock_guard l(mu);
                     seen.push_back(x);
                   },
                   nullptr, nullptr});
  inf.Start();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline && inf.Size() < 2)
    std::this_thread::sleep_for(1ms);
  inf.Stop();
  ASSERT_EQ(inf.Size(), 2u);
  for (const SharedObject& obj : inf.ListShared()) {
    EXPECT_FALSE((*obj)["metadata"].contains("managedFields")) << obj->dump();
    EXPECT_EQ((*obj)["data"]["k"], "v");
  }
  // The cache hands out the object it holds, not a copy.
  EXPECT_EQ(inf.GetShared("d/a").get(), inf.GetShared("d/a").get());
  EXPECT_EQ(inf.GetShared("d/missing"), nullptr);
  std::lock_guard l(mu);
  ASSERT_EQ(seen.size(), 2u);
  for (const Json& x : seen) EXPECT_FALSE(x["metadata"].contains("managedFields"));
}

std::string Added(const std::string& name, const std::string& rv) {
  return R"({"type":"ADDED","object":)" + Cm(name, rv) + "}";
}
std::string EndOfList(const std::string& rv) {
  return R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":")" + rv +
         R"(","annotations":{"k8s.io/initial-events-end":"true"}}}})";
}

template <typename Done>
void WaitFor(Done done) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline && !done()) std::this_thread::sleep_for(1ms);
}

// The informer over `server` (a streamed list that fails, then a LIST at version 10) syncs
// with `keys` after exactly one LIST and then watches from version 10.
void ExpectStreamThenListThenWatchFrom10(std::unique_ptr<ScriptedServer> server,
                                         const std::vector<std::string>& keys) {
  ScriptedServer* s = server.get();
  Rig rig(std::move(server), /*stream_lists=*/true);
  Informer& inf = rig.inf;
  inf.Start();
  WaitFor([&] { return s->paths().size() >= 3; });
  inf.Stop();
  EXPECT_TRUE(inf.HasSynced());
  EXPECT_EQ(inf.Keys(), keys);
  EXPECT_EQ(inf.list_requests(), 1u);
  auto paths = s->paths();
  ASSERT_GE(paths.size(), 3u);
  EXPECT_NE(paths[0].find("sendInitialEvents=true"), std::string::npos) << paths[0];
  EXPECT_EQ(paths[1].find("watch=1"), std::string::npos) << paths[1];  // the LIST
  EXPECT_NE(paths[2].find("resourceVersion=10"), std::string::npos) << paths[2];
  EXPECT_EQ(paths[2].find("sendInitialEvents"), std::string::npos) << paths[2];
}

TEST(InformerTest, StreamedListFillsTheCacheThenTheSameStreamCarriesChanges) {
  auto server = std::make_unique<ScriptedServer>();
  ScriptedServer* s = server.get();
  s->AddWatch({Added("a", "5"), Added("b", "7"), EndOfList("20"),
               R"({"type":"MODIFIED","object":)" + Cm("a", "21") + "}"});
  Rig rig(std::move(server), /*stream_lists=*/true);
  Informer& inf = rig.inf;
  std::mutex mu;
  std::vector<std::string> log;
  bool synced_at_first_update = false;
  inf.AddHandlers({[&](const Json& x) {
                     std::lock_guard l(mu);
                     log.push_back("add " + ObjectKey(x));
                   },
                   [&](const Json&, const Json& n) {
                     std::lock_guard l(mu);
                     synced_at_first_update = inf.HasSynced();
                     log.push_back("update " + ObjectKey(n) + "@" + ResourceVersionOf(n));
                   },
                   nullptr});
  inf.Start();
  WaitFor([&] { return s->paths().size() >= 2; });
  inf.Stop();
  EXPECT_TRUE(inf.HasSynced());
  EXPECT_TRUE(synced_at_first_update);
  EXPECT_EQ(inf.relists(), 0u);
  EXPECT_EQ(inf.list_requests(), 0u);
  EXPECT_EQ(inf.Keys(), (std::vector<std::string>{"d/a", "d/b"}));
  EXPECT_EQ(ResourceVersionOf(*inf.GetShared("d/a")), "21");
  std::lock_guard l(mu);
  EXPECT_EQ(log, (std::vector<std::string>{"add d/a", "add d/b", "update d/a@21"}));
  auto paths = s->paths();
  ASSERT_GE(paths.size(), 2u);
  // No LIST at all: the first request is the streamed list, from now (no resourceVersion).
  EXPECT_NE(paths[0].find("watch=1&allowWatchBookmarks=true&"), std::string::npos) << paths[0];
  EXPECT_NE(paths[0].find("sendInitialEvents=true&resourceVersionMatch=NotOlderThan"),
            std::string::npos)
      << paths[0];
  EXPECT_EQ(paths[0].find("resourceVersion="), std::string::npos) << paths[0];
  // The next stream is a plain watch from the last change.
  EXPECT_NE(paths[1].find("resourceVersion=21"), std::string::npos) << paths[1];
  EXPECT_EQ(paths[1].find("sendInitialEvents"), std::string::npos) << paths[1];
}

// A controller indexes objects in its handlers and starts its workers after WaitForSync: the
// wait must cover the handlers' calls for the first list, or a worker finds the index half
// built (a new leader then took a just-created worker pod for lost and spent a retry).
TEST(InformerTest, SyncedOnlyAfterEveryHandlerSawTheFirstList) {
  auto server = std::make_unique<ScriptedServer>();
  std::vector<std::string> lines;
  for (int i = 0; i < 5; ++i) lines.push_back(Added("cm-" + std::to_string(i), "5"));
  lines.push_back(EndOfList("20"));
  server->AddWatch(std::move(lines));
  Rig rig(std::move(server), /*stream_lists=*/true);
  std::atomic<int> indexed{0};
  rig.inf.AddHandlers({[&](const Json&) {
                         std::this_thread::sleep_for(20ms);  // a slow index
                         ++indexed;
                       },
                       nullptr, nullptr});
  rig.inf.Start();
  ASSERT_TRUE(rig.inf.WaitForSync(5000ms));
  EXPECT_EQ(indexed.load(), 5);
  rig.inf.Stop();
}

// A field mask reaches listed, streamed and watched objects alike, and leaves the streamed
// list's end marker (a bookmark whose annotations the mask leaves out) whole.
TEST(InformerTest, FieldsLeaveOutWhatTheMaskDoesNotReach) {
  auto with_fields = [](const std::string& name, const std::string& rv) {
    return R"({"metadata":{"name":")" + name + R"(","namespace":"d","resourceVersion":")" + rv +
           R"(","annotations":{"a":"b"},"managedFields":[{"manager":"kubectl"}]},)" +
           R"("data":{"k":"v","big":"x"}})";
  };
  auto mask = std::make_shared<const FieldMask>(FieldMask::Only(
      {"metadata.name", "metadata.namespace", "metadata.resourceVersion", "data.k"}));
  for (bool stream : {false, true}) {
    auto server = std::make_unique<ScriptedServer>();
    ScriptedServer* s = server.get();
    if (stream) {
      s->AddWatch({R"({"type":"ADDED","object":)" + with_fields("a", "5") + "}", EndOfList("10"),
                   R"({"type":"ADDED","object":)" + with_fields("b", "12") + "}"});
    } else {
      s->AddList(R"({"metadata":{"resourceVersion":"10"},"items":[)" + with_fields("a", "5") +
                 "]}");
      s->AddWatch({R"({"type":"ADDED","object":)" + with_fields("b", "12") + "}"});
    }
    Rig rig(std::move(server), stream);
    rig.inf.SetFields(mask);
    rig.inf.Start();
    WaitFor([&] { return rig.inf.Size() >= 2; });
    rig.inf.Stop();
    ASSERT_EQ(rig.inf.Keys(), (std::vector<std::string>{"d/a", "d/b"})) << "stream " << stream;
    EXPECT_EQ(rig.inf.list_requests(), stream ? 0u : 1u);
    for (const auto& [name, rv] : {std::pair{"a", "5"}, std::pair{"b", "12"}}) {
      const std::string want = R"({"metadata":{"name":")" + std::string(name) +
                               R"(","namespace":"d","resourceVersion":")" + rv +
                               R"("},"data":{"k":"v"}})";
      EXPECT_EQ(*rig.inf.GetShared(std::string("d/") + name), Json::parse(want));
    }
  }
}

TEST(InformerTest, ServerThatRefusesStreamedListsIsListed) {
  auto server = std::make_unique<ScriptedServer>();
  ScriptedServer* s = server.get();
  s->AddWatchRefusal(
      422,
      R"J({"kind":"Status","code":422,"reason":"Invalid","message":"sendInitialEvents is forbidden"}})J");
  s->AddList(R"({"metadata":{"resourceVersion":"10"},"items":[)" + Cm("a", "5") + "]}");
  ExpectStreamThenListThenWatchFrom10(std::move(server), {"d/a"});
}

TEST(InformerTest, StreamWithoutTheEndOfListBookmarkFallsBackToAList) {
  // A server that ignores sendInitialEvents: its ADDED events are not a complete list, so the
  // informer must not call itself synced on them.
  auto server = std::make_unique<ScriptedServer>();
  ScriptedServer* s = server.get();
  s->AddWatch(
      {Added("a", "5"), R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}})"});
  s->AddList(R"({"metadata":{"resourceVersion":"10"},"items":[)" + Cm("a", "5") + "," +
             Cm("b", "6") + "]}");
  ExpectStreamThenListThenWatchFrom10(std::move(server), {"d/a", "d/b"});
}

TEST(InformerTest, InterruptedStreamedListIsRetriedNeverHalfSynced) {
  auto server = std::make_unique<ScriptedServer>();
  ScriptedServer* s = server.get();
  s->AddWatch({Added("a", "5")}, UnavailableError("connection reset"));
  s->AddWatch({Added("a", "5"), Added("b", "6"), EndOfList("12")});
  Rig rig(std::move(server), /*stream_lists=*/true);
  Informer& inf = rig.inf;
  std::atomic<int> adds{0};
  std::atomic<bool> synced_with_one{false};
  inf.AddHandlers({[&](const Json&) {
                     ++adds;
                     if (inf.Size() == 1) synced_with_one = true;
                   },
                   nullptr, nullptr});
  inf.Start();
  WaitFor([&] { return s->paths().size() >= 3; });
  inf.Stop();
  EXPECT_TRUE(inf.HasSynced());
  EXPECT_FALSE(synced_with_one.load());
  EXPECT_EQ(adds.load(), 2);
  EXPECT_EQ(inf.Keys(), (std::vector<std::string>{"d/a", "d/b"}));
  auto paths = s->paths();
  ASSERT_GE(paths.size(), 3u);
  EXPECT_NE(paths[1].find("sendInitialEvents=true"), std::string::npos) << paths[1];
  EXPECT_NE(paths[2].find("resourceVersion=12"), std::string::npos) << paths[2];
}

}  // namespace
}  // namespace zenith::kube
