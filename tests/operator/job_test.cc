#include "zenith/operator/job.h"

#include <gtest/gtest.h>

#include "job_fixtures.h"

namespace zenith::operator_ {
namespace {

using testing::LlmJob;
using testing::SmallJob;

TEST(ZenithJobTest, ParsesSpecWithDefaults) {
  auto job = ParseZenithJob(SmallJob());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->Key(), "team-a/mnist");
  EXPECT_EQ(job->spec.replicas, 2);
  EXPECT_EQ(job->spec.min_available, 2);  // defaults to replicas
  EXPECT_EQ(job->spec.gpus_per_replica, 1);
  EXPECT_EQ(job->spec.run_policy.max_retries, 2);
  EXPECT_EQ(job->spec.run_policy.backoff_seconds, 1);
  EXPECT_EQ(job->spec.scheduling.queue, "default");
  EXPECT_EQ(job->spec.topology.nvlink, "Preferred");
  EXPECT_FALSE(job->spec.data_plane.has_value());
  EXPECT_EQ(job->TotalGpus(), 2);
  EXPECT_EQ(job->annotations.at("zenith.ai/simulate-failure-rank"), "1");
}

TEST(ZenithJobTest, ParsesDataPlaneAndTopology) {
  auto job = ParseZenithJob(LlmJob());
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(job->spec.data_plane.has_value());
  EXPECT_EQ(job->spec.data_plane->format, "tfrecord");
  EXPECT_EQ(job->spec.data_plane->batch_size, 512);
  EXPECT_EQ(job->spec.data_plane->shm_size, "8Gi");
  EXPECT_EQ(job->spec.topology.nvlink, "Required");
  EXPECT_EQ(job->TotalGpus(), 32);
}

struct BadCase {
  std::string patch;     // a JSON patch applied to SmallJob()
  std::string expected;  // text the error must contain
};

TEST(ZenithJobTest, ErrorsNameTheField) {
  std::vector<BadCase> cases = {
      {R"([{"op":"replace","path":"/spec/replicas","value":0}])",
       "spec.replicas: must be at least 1"},
      {R"([{"op":"remove","path":"/spec/replicas"}])", "spec.replicas: is required"},
      {R"([{"op":"add","path":"/spec/minAvailable","value":3}])",
       "spec.minAvailable: must not exceed"},
      {R"([{"op":"replace","path":"/spec/gpusPerReplica","value":"x"}])",
       "spec.gpusPerReplica: must be an integer"},
      {R"([{"op":"replace","path":"/spec/template/spec/containers","value":[]}])",
       "spec.template.spec.containers"},
      {R"([{"op":"remove","path":"/spec/template/spec/containers/0/image"}])",
       "spec.template.spec.containers[0].image: is required"},
      {R"([{"op":"add","path":"/spec/topology","value":{"placement":"Scatter"}}])",
       "spec.topology.placement: unknown value \"Scatter\""},
      {R"([{"op":"add","path":"/spec/topology","value":{"nvlink":"Required"}}])",
       "spec.topology.nvlink"},
      {R"([{"op":"add","path":"/spec/dataPlane","value":{"format":"raw"}}])",
       "spec.dataPlane.source: is required"},
      {R"([{"op":"add","path":"/spec/runPolicy/cleanPodPolicy","value":"Some"}])",
       "spec.runPolicy.cleanPodPolicy"},
      {R"([{"op":"remove","path":"/spec/template"}])", "spec.template: is required"},
  };
  for (const auto& c : cases) {
    auto job = ParseZenithJob(SmallJob().patch(Json::parse(c.patch)));
    ASSERT_FALSE(job.ok()) << c.patch;
    EXPECT_NE(job.status().message().find(c.expected), std::string::npos)
        << c.patch << " -> " << job.status().message();
    EXPECT_NE(job.status().message().find("zenithjob team-a/mnist"), std::string::npos);
  }
}

}  // namespace
}  // namespace zenith::operator_
