// The API's job request → ZenithJob translation, its field-naming errors, and the HTTP status
// of each error kind (no server).
#include "zenith/operator/api/submit.h"

#include <gtest/gtest.h>

#include "zenith/operator/api/job_service.h"

namespace zenith::operator_::api {
namespace {

Json Valid() {
  return {{"name", "llm"},         {"namespace", "team-a"},
          {"user", "alice"},       {"project", "nlp"},
          {"image", "trainer:1"},  {"command", {"python", "train.py"}},
          {"args", {"--lr=3e-4"}}, {"env", {{"EPOCHS", "3"}}},
          {"replicas", 4},         {"gpus", 8},
          {"queue", "research"},   {"priority", 5}};
}

TEST(ZenithJobFromRequest, BuildsTheJob) {
  auto job = ZenithJobFromRequest(Valid());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ((*job)["kind"], "ZenithJob");
  EXPECT_EQ((*job)["metadata"]["name"], "llm");
  EXPECT_EQ((*job)["metadata"]["namespace"], "team-a");
  EXPECT_EQ((*job)["metadata"]["labels"]["zenith.ai/user"], "alice");
  EXPECT_EQ((*job)["metadata"]["labels"]["zenith.ai/project"], "nlp");
  EXPECT_EQ((*job)["spec"]["replicas"], 4);
  EXPECT_EQ((*job)["spec"]["gpusPerReplica"], 8);
  EXPECT_EQ((*job)["spec"]["scheduling"]["queue"], "research");
  EXPECT_EQ((*job)["spec"]["scheduling"]["priority"], 5);
  const Json& c = (*job)["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["image"], "trainer:1");
  EXPECT_EQ(c["command"], Json({"python", "train.py"}));
  EXPECT_EQ(c["args"], Json({"--lr=3e-4"}));
  EXPECT_EQ(c["env"][0], Json({{"name", "EPOCHS"}, {"value", "3"}}));
}

TEST(ZenithJobFromRequest, Defaults) {
  auto job = ZenithJobFromRequest({{"name", "a"}, {"image", "i"}, {"replicas", 1}});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ((*job)["metadata"]["namespace"], "default");
  EXPECT_EQ((*job)["spec"]["gpusPerReplica"], 0);
  EXPECT_FALSE((*job)["spec"].contains("scheduling"));
  EXPECT_FALSE((*job)["metadata"].contains("labels"));
}

void ExpectError(Json request, const std::string& field) {
  auto job = ZenithJobFromRequest(request);
  ASSERT_FALSE(job.ok()) << request.dump();
  EXPECT_EQ(job.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(job.status().message().rfind(field, 0), 0u) << job.status();
  EXPECT_EQ(HttpStatusFor(job.status()), 400);
}

TEST(ZenithJobFromRequest, ErrorsNameTheField) {
  Json r = Valid();
  r.erase("name");
  ExpectError(r, "name: required");
  r = Valid();
  r["name"] = "Bad_Name";
  ExpectError(r, "name:");
  r = Valid();
  r["name"] = std::string(60, 'a');
  ExpectError(r, "name:");
  r = Valid();
  r["replicas"] = 0;
  ExpectError(r, "replicas:");
  r = Valid();
  r["replicas"] = "4";
  ExpectError(r, "replicas: must be an integer");
  r = Valid();
  r["gpus"] = 65;
  ExpectError(r, "gpus:");
  r = Valid();
  r.erase("image");
  ExpectError(r, "image: required");
  r = Valid();
  r["command"] = {"python", 3};
  ExpectError(r, "command[1]");
  r = Valid();
  r["env"] = {{"A", 1}};
  ExpectError(r, "env.A");
  r = Valid();
  r["gpu"] = 8;
  ExpectError(r, "gpu: unknown field");
  r = Valid();
  r["user"] = "system:serviceaccount:x:y";
  ExpectError(r, "user:");
  ExpectError(Json::array(), "request body");
}

TEST(JobSummary, ReadsStatusAndDefaults) {
  auto job = ZenithJobFromRequest(Valid());
  ASSERT_TRUE(job.ok());
  Json s = JobSummary(*job);
  EXPECT_EQ(s["id"], "team-a/llm");
  EXPECT_EQ(s["phase"], "Pending");
  EXPECT_EQ(s["ready"], "0/4");
  EXPECT_EQ(s["gpus"], 32);
  (*job)["status"] = {{"phase", "Running"}, {"ready", "4/4"}, {"gpus", 32}, {"retries", 1}};
  s = JobSummary(*job);
  EXPECT_EQ(s["phase"], "Running");
  EXPECT_EQ(s["ready"], "4/4");
  EXPECT_EQ(s["retries"], 1);
}

TEST(ParseJobId, NamespaceAndName) {
  auto id = ParseJobId("team-a/llm");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->ns, "team-a");
  EXPECT_EQ(id->name, "llm");
  id = ParseJobId("llm");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->ns, "default");
  EXPECT_FALSE(ParseJobId("a/B").ok());
  EXPECT_FALSE(ParseJobId("/x").ok());
}

TEST(HttpStatusFor, EachKind) {
  EXPECT_EQ(HttpStatusFor(UnauthenticatedError("x")), 401);
  EXPECT_EQ(HttpStatusFor(PermissionDeniedError("x")), 403);
  EXPECT_EQ(HttpStatusFor(NotFoundError("x")), 404);
  EXPECT_EQ(HttpStatusFor(AlreadyExistsError("x")), 409);
  EXPECT_EQ(HttpStatusFor(AbortedError("x")), 409);
  EXPECT_EQ(HttpStatusFor(UnavailableError("x")), 503);
  EXPECT_EQ(HttpStatusFor(InternalError("x")), 500);
}

}  // namespace
}  // namespace zenith::operator_::api
