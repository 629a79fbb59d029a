// The REST API against the real local kube-apiserver (label kube): real service-account tokens,
// one with rights on zenithjobs in the test namespace and one without, TokenReview and
// SubjectAccessReview done by the API server, jobs created and deleted there; HTTPS through
// curl with a generated certificate.
#include <arpa/inet.h>
#include <cpprest/http_client.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <vector>

#include "../../kube/integration_env.h"
#include "zenith/common/admin_server.h"
#include "zenith/operator/api/rest_server.h"
#ifdef ZENITH_OPERATOR_GRPC
#include <grpcpp/grpcpp.h>

#include "zenith/operator/api/grpc_server.h"
#include "zenith/v1alpha1/scheduler.grpc.pb.h"
#endif

namespace zenith::operator_::api {
namespace {

namespace http = web::http;
using kube::testing::KubeconfigPath;
using kube::testing::WaitFor;
using namespace std::chrono_literals;

const auto kJobs = kube::resources::Custom("zenith.ai", "v1alpha1", "zenithjobs");

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string Shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  ::pclose(p);
  return out;
}

struct Answer {
  int code = 0;
  Json body;
};

class ApiTest : public kube::testing::KubeTest {
 protected:
  void SetUp() override {
    KubeTest::SetUp();
    if (IsSkipped()) return;
    for (const char* crd : {"zenith.ai_zenithjobs.yaml", "zenith.ai_zenithnodes.yaml"}) {
      const std::string apply = "kubectl --kubeconfig=" + KubeconfigPath() + " apply -f " +
                                ZENITH_SOURCE_DIR "/crds/" + crd + " >/dev/null";
      ASSERT_EQ(std::system(apply.c_str()), 0) << apply;
    }
    ASSERT_TRUE(WaitFor([&] { return client_->List(kJobs, ns_).ok(); }, 30s));
    alice_ = TokenFor("alice");
    bob_ = TokenFor("bob");
    // alice may do anything with ZenithJobs in the test namespace and list ZenithNodes; bob
    // has a valid token and no rights.
    Create(kube::resources::Custom("rbac.authorization.k8s.io", "v1", "roles"), ns_,
           {{"apiVersion", "rbac.authorization.k8s.io/v1"},
            {"kind", "Role"},
            {"metadata", {{"name", "jobs"}}},
            {"rules",
             {{{"apiGroups", {"zenith.ai"}}, {"resources", {"zenithjobs"}}, {"verbs", {"*"}}}}}});
    Create(kube::resources::Custom("rbac.authorization.k8s.io", "v1", "rolebindings"), ns_,
           Binding("RoleBinding", "jobs", "Role", "jobs"));
    Create(
        kube::resources::Custom("rbac.authorization.k8s.io", "v1", "clusterroles", false), "",
        {{"apiVersion", "rbac.authorization.k8s.io/v1"},
         {"kind", "ClusterRole"},
         {"metadata", {{"name", ns_ + "-nodes"}}},
         {"rules",
          {{{"apiGroups", {"zenith.ai"}}, {"resources", {"zenithnodes"}}, {"verbs", {"list"}}}}}});
    Create(kube::resources::Custom("rbac.authorization.k8s.io", "v1", "clusterrolebindings", false),
           "", Binding("ClusterRoleBinding", ns_ + "-nodes", "ClusterRole", ns_ + "-nodes"));

    reviewer_ = std::make_unique<KubeAccessReviewer>(*client_);
    service_ = std::make_unique<JobService>(*client_, *reviewer_);
    server_ = std::make_unique<RestServer>(RestOptions{"127.0.0.1", FreePort(), "", ""}, *service_);
    ASSERT_TRUE(server_->Start().ok());
  }

  void TearDown() override {
    if (server_) server_->Stop();
    if (client_) {
      (void)client_->Delete(
          kube::resources::Custom("rbac.authorization.k8s.io", "v1", "clusterrolebindings", false),
          "", ns_ + "-nodes");
      (void)client_->Delete(
          kube::resources::Custom("rbac.authorization.k8s.io", "v1", "clusterroles", false), "",
          ns_ + "-nodes");
    }
  }

  void Create(const kube::GroupVersionResource& type, const std::string& ns, const Json& object) {
    auto r = client_->Create(type, ns, object);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  Json Binding(const std::string& kind, const std::string& name, const std::string& role_kind,
               const std::string& role) {
    return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
            {"kind", kind},
            {"metadata", {{"name", name}}},
            {"subjects", {{{"kind", "ServiceAccount"}, {"name", "alice"}, {"namespace", ns_}}}},
            {"roleRef",
             {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", role_kind}, {"name", role}}}};
  }

  std::string TokenFor(const std::string& sa) {
    auto created = client_->Create(
        kube::resources::ServiceAccounts(), ns_,
        {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", sa}}}});
    EXPECT_TRUE(created.ok()) << created.status();
    auto token = client_->CreateSubresource(kube::resources::ServiceAccounts(), ns_, sa, "token",
                                            {{"apiVersion", "authentication.k8s.io/v1"},
                                             {"kind", "TokenRequest"},
                                             {"spec", {{"expirationSeconds", 3600}}}});
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? (*token)["status"]["token"].get<std::string>() : "";
  }

  Answer Call(const http::method& method, const std::string& path, const std::string& token,
              const std::string& body = "") {
    http::client::http_client client(server_->url());
    http::http_request request(method);
    request.set_request_uri(path);
    if (!token.empty()) request.headers().add("Authorization", "Bearer " + token);
    if (!body.empty()) request.set_body(body, "application/json");
    auto response = client.request(request).get();
    Answer a;
    a.code = response.status_code();
    a.body = Json::parse(response.extract_utf8string(true).get(), nullptr, false);
    return a;
  }

  std::string JobBody(const std::string& name) {
    return Json{{"name", name},   {"namespace", ns_}, {"user", "alice"}, {"project", "nlp"},
                {"image", "t:1"}, {"replicas", 2},    {"gpus", 4}}
        .dump();
  }

  std::string alice_, bob_;
  std::unique_ptr<KubeAccessReviewer> reviewer_;
  std::unique_ptr<JobService> service_;
  std::unique_ptr<RestServer> server_;
};

TEST_F(ApiTest, SubmitGetListCancel) {
  Answer a = Call(http::methods::POST, "/api/v1/jobs", alice_, JobBody("train"));
  ASSERT_EQ(a.code, 201) << a.body.dump();
  EXPECT_EQ(a.body["id"], ns_ + "/train");
  EXPECT_EQ(a.body["gpus"], 8);
  auto stored = client_->Get(kJobs, ns_, "train");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ((*stored)["metadata"]["labels"]["zenith.ai/user"], "alice");
  EXPECT_EQ((*stored)["spec"]["scheduling"]["queue"], "default");  // the CRD's default

  a = Call(http::methods::POST, "/api/v1/jobs", alice_, JobBody("train"));
  EXPECT_EQ(a.code, 409) << a.body.dump();

  a = Call(http::methods::GET, "/api/v1/jobs/" + ns_ + "/train", alice_);
  ASSERT_EQ(a.code, 200) << a.body.dump();
  EXPECT_EQ(a.body["phase"], "Pending");
  EXPECT_EQ(a.body["ready"], "0/2");

  ASSERT_EQ(Call(http::methods::POST, "/api/v1/jobs", alice_, JobBody("eval")).code, 201);
  a = Call(http::methods::GET, "/api/v1/jobs?namespace=" + ns_ + "&project=nlp", alice_);
  ASSERT_EQ(a.code, 200) << a.body.dump();
  ASSERT_EQ(a.body["jobs"].size(), 2u);
  EXPECT_EQ(a.body["jobs"][0]["name"], "eval");

  a = Call(http::methods::DEL, "/api/v1/jobs/" + ns_ + "/train", alice_);
  ASSERT_EQ(a.code, 200) << a.body.dump();
  EXPECT_EQ(a.body["phase"], "Cancelled");
  EXPECT_TRUE(
      WaitFor([&] { return kube::IsNotFound(client_->Get(kJobs, ns_, "train").status()); }, 10s));
  a = Call(http::methods::GET, "/api/v1/jobs/" + ns_ + "/train", alice_);
  EXPECT_EQ(a.code, 404) << a.body.dump();
  EXPECT_EQ(Call(http::methods::DEL, "/api/v1/jobs/" + ns_ + "/train", alice_).code, 404);
}

// The REST API on the smallest cpprestsdk pool (2 threads): every request's body is read, and
// every JobService call reaches the API server, through those threads. Handlers that waited on
// the pool would deadlock as soon as two POSTs overlap.
class ApiOnSmallIoPoolTest : public ApiTest {
 protected:
  void SetUp() override {
    // Before anything starts the pool; ctest runs each test in a process of its own.
    Status sized = common::SetHttpIoThreads(2);
    if (!sized.ok()) GTEST_SKIP() << "needs a process of its own: " << sized;
    ApiTest::SetUp();
  }
};

TEST_F(ApiOnSmallIoPoolTest, ConcurrentSubmissionsAreAllAnswered) {
  constexpr int kJobsToSubmit = 12;
  std::vector<std::future<Answer>> answers;
  for (int i = 0; i < kJobsToSubmit; ++i) {
    answers.push_back(std::async(std::launch::async, [this, i] {
      return Call(http::methods::POST, "/api/v1/jobs", alice_, JobBody("j" + std::to_string(i)));
    }));
  }
  for (int i = 0; i < kJobsToSubmit; ++i) {
    if (answers[i].wait_for(60s) != std::future_status::ready) {
      ADD_FAILURE() << "submission " << i << " unanswered after 60 s: the pool is deadlocked";
      std::_Exit(1);  // its threads never return; do not wait for them at exit
    }
    Answer a = answers[i].get();
    EXPECT_EQ(a.code, 201) << a.body.dump();
  }
  Answer list = Call(http::methods::GET, "/api/v1/jobs?namespace=" + ns_, alice_);
  ASSERT_EQ(list.code, 200) << list.body.dump();
  EXPECT_EQ(list.body["jobs"].size(), static_cast<size_t>(kJobsToSubmit));
}

TEST_F(ApiTest, AuthenticationAndAuthorization) {
  Answer a = Call(http::methods::POST, "/api/v1/jobs", "", JobBody("x"));
  EXPECT_EQ(a.code, 401) << a.body.dump();
  EXPECT_EQ(a.body["error"]["status"], "UNAUTHENTICATED");
  a = Call(http::methods::GET, "/api/v1/jobs", "not-a-token");
  EXPECT_EQ(a.code, 401) << a.body.dump();

  a = Call(http::methods::POST, "/api/v1/jobs", bob_, JobBody("x"));
  EXPECT_EQ(a.code, 403) << a.body.dump();
  const std::string message = a.body["error"]["message"];
  EXPECT_NE(message.find("create zenithjobs.zenith.ai in namespace " + ns_), std::string::npos)
      << message;
  EXPECT_NE(message.find("system:serviceaccount:" + ns_ + ":bob"), std::string::npos) << message;
  EXPECT_TRUE(kube::IsNotFound(client_->Get(kJobs, ns_, "x").status()));

  // alice's rights end at her namespace.
  a = Call(http::methods::GET, "/api/v1/jobs", alice_);
  EXPECT_EQ(a.code, 403) << a.body.dump();
  a = Call(http::methods::GET, "/api/v1/cluster/status", bob_);
  EXPECT_EQ(a.code, 403) << a.body.dump();
}

TEST_F(ApiTest, BadRequestsNameTheProblem) {
  Answer a = Call(http::methods::POST, "/api/v1/jobs", alice_, R"({"name": "x", "replicas": })");
  EXPECT_EQ(a.code, 400);
  EXPECT_NE(a.body["error"]["message"].get<std::string>().find("byte"), std::string::npos)
      << a.body.dump();
  a = Call(http::methods::POST, "/api/v1/jobs", alice_,
           Json{{"name", "x"}, {"namespace", ns_}, {"image", "i"}, {"replicas", 0}}.dump());
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(a.body["error"]["message"].get<std::string>().rfind("replicas:", 0), 0u)
      << a.body.dump();
  EXPECT_EQ(Call(http::methods::GET, "/api/v1/nothing", alice_).code, 404);
  EXPECT_EQ(Call(http::methods::PUT, "/api/v1/jobs", alice_).code, 400);
  EXPECT_EQ(Call(http::methods::GET, "/health", "").code, 200);
}

TEST_F(ApiTest, ClusterStatusCountsNodesGpusAndJobs) {
  const std::string node = ns_ + "-gpu";
  Create(kube::resources::Nodes(), "",
         {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", node}}}});
  auto status =
      client_->PatchStatus(kube::resources::Nodes(), "", node, kube::PatchType::kMerge,
                           {{"status",
                             {{"capacity", {{"zenith.ai/gpu", "8"}}},
                              {"allocatable", {{"zenith.ai/gpu", "8"}}},
                              {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}});
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(Call(http::methods::POST, "/api/v1/jobs", alice_, JobBody("s")).code, 201);

  Answer a = Call(http::methods::GET, "/api/v1/cluster/status", alice_);
  ASSERT_EQ(a.code, 200) << a.body.dump();
  EXPECT_GE(a.body["gpus"]["total"].get<int>(), 8);
  EXPECT_GE(a.body["jobs"]["Pending"].get<int>(), 1);
  a = Call(http::methods::GET, "/api/v1/nodes", alice_);
  ASSERT_EQ(a.code, 200) << a.body.dump();
  bool found = false;
  for (const auto& n : a.body["nodes"]) {
    if (n["name"] != node) continue;
    found = true;
    EXPECT_EQ(n["gpus"], 8);
    EXPECT_EQ(n["free"], 8);
    EXPECT_EQ(n["ready"], true);
  }
  EXPECT_TRUE(found) << a.body.dump();
  (void)client_->Delete(kube::resources::Nodes(), "", node);
}

TEST_F(ApiTest, HttpsWithCurl) {
  const auto dir = std::filesystem::temp_directory_path() / ("zenith-api-tls-" + ns_);
  std::filesystem::create_directories(dir);
  const std::string cert = (dir / "tls.crt").string(), key = (dir / "tls.key").string();
  ASSERT_EQ(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                         "-addext subjectAltName=IP:127.0.0.1 -keyout " +
                         key + " -out " + cert + " 2>/dev/null")
                            .c_str()),
            0);
  RestServer tls(RestOptions{"127.0.0.1", FreePort(), cert, key}, *service_);
  ASSERT_TRUE(tls.Start().ok());
  EXPECT_EQ(tls.url().rfind("https://", 0), 0u);
  const std::string curl = "curl -sS --cacert " + cert + " -w ' %{http_code}' ";
  std::string out = Shell(curl + tls.url() + "/health");
  EXPECT_NE(out.find("200"), std::string::npos) << out;
  out = Shell(curl + "-X POST -H 'Authorization: Bearer " + alice_ +
              "' -H 'Content-Type: application/json' -d '" + JobBody("viacurl") + "' " + tls.url() +
              "/api/v1/jobs");
  EXPECT_NE(out.find(" 201"), std::string::npos) << out;
  EXPECT_TRUE(client_->Get(kJobs, ns_, "viacurl").ok());
  out = Shell(curl + "-H 'Authorization: Bearer " + bob_ + "' " + tls.url() + "/api/v1/jobs/" +
              ns_ + "/viacurl");
  EXPECT_NE(out.find(" 403"), std::string::npos) << out;
  tls.Stop();

  RestServer missing(RestOptions{"127.0.0.1", FreePort(), cert + ".absent", key}, *service_);
  Status s = missing.Start();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(".absent"), std::string::npos) << s;
  std::filesystem::remove_all(dir);
}

#ifdef ZENITH_OPERATOR_GRPC
// The gRPC API from a real gRPC client, with the same tokens.
TEST_F(ApiTest, GrpcClient) {
  GrpcServer server(GrpcOptions{"127.0.0.1", 0, "", ""}, *service_);
  ASSERT_TRUE(server.Start().ok());
  auto channel = grpc::CreateChannel(server.target(), grpc::InsecureChannelCredentials());
  auto stub = ::zenith::v1alpha1::SchedulerService::NewStub(channel);
  auto call = [&](const std::string& token) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    context->set_deadline(std::chrono::system_clock::now() + 20s);
    return context;
  };

  ::zenith::v1alpha1::SubmitJobRequest submit;
  submit.set_name("rpc");
  submit.set_namespace_(ns_);
  submit.set_image("t:1");
  submit.set_replicas(3);
  submit.set_gpus(2);
  (*submit.mutable_env())["EPOCHS"] = "1";
  ::zenith::v1alpha1::Job job;
  grpc::Status s = stub->SubmitJob(call(alice_).get(), submit, &job);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(job.id(), ns_ + "/rpc");
  EXPECT_EQ(job.gpus(), 6);
  auto stored = client_->Get(kJobs, ns_, "rpc");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ((*stored)["spec"]["template"]["spec"]["containers"][0]["env"][0]["name"], "EPOCHS");

  s = stub->SubmitJob(call(alice_).get(), submit, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  s = stub->SubmitJob(call("").get(), submit, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  s = stub->SubmitJob(call(bob_).get(), submit, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("create zenithjobs.zenith.ai"), std::string::npos);
  submit.set_replicas(0);
  submit.set_name("rpc-bad");
  s = stub->SubmitJob(call(alice_).get(), submit, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(s.error_message().rfind("replicas:", 0), 0u) << s.error_message();

  ::zenith::v1alpha1::GetJobStatusRequest get;
  get.set_id(ns_ + "/rpc");
  s = stub->GetJobStatus(call(alice_).get(), get, &job);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(job.phase(), "Pending");
  EXPECT_EQ(job.ready(), "0/3");

  ::zenith::v1alpha1::ListJobsRequest list;
  list.set_namespace_(ns_);
  ::zenith::v1alpha1::ListJobsResponse jobs;
  s = stub->ListJobs(call(alice_).get(), list, &jobs);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(jobs.jobs_size(), 1);
  EXPECT_EQ(jobs.jobs(0).name(), "rpc");

  ::zenith::v1alpha1::ClusterStatus cluster;
  s = stub->GetClusterStatus(call(alice_).get(), {}, &cluster);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GE(cluster.jobs_by_phase().at("Pending"), 1);

  ::zenith::v1alpha1::CancelJobRequest cancel;
  cancel.set_id(ns_ + "/rpc");
  s = stub->CancelJob(call(alice_).get(), cancel, &job);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(job.phase(), "Cancelled");
  s = stub->GetJobStatus(call(alice_).get(), get, &job);
  EXPECT_TRUE(s.error_code() == grpc::StatusCode::NOT_FOUND || s.ok()) << s.error_message();
  EXPECT_TRUE(
      WaitFor([&] { return kube::IsNotFound(client_->Get(kJobs, ns_, "rpc").status()); }, 10s));
  server.Stop();
}
#endif

}  // namespace
}  // namespace zenith::operator_::api
