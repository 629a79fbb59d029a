#include "zenith/operator/workers.h"

#include <gtest/gtest.h>

#include "job_fixtures.h"

namespace zenith::operator_ {
namespace {

std::string Env(const Json& container, const std::string& name) {
  for (const auto& e : container["env"])
    if (e["name"] == name) return e["value"];
  return "<unset>";
}

TEST(WorkersTest, WorkerPodCarriesRankIdentityAndTemplate) {
  auto job = ParseZenithJob(testing::SmallJob()).value();
  BuildOptions opts;
  opts.scheduler_name = "zenith-test";
  Json pod = BuildWorkerPod(job, 1, 3, opts);
  EXPECT_EQ(pod["metadata"]["name"], "mnist-1");
  EXPECT_EQ(pod["metadata"]["namespace"], "team-a");
  EXPECT_EQ(pod["metadata"]["labels"]["zenith.ai/job"], "mnist");
  EXPECT_EQ(pod["metadata"]["labels"]["zenith.ai/rank"], "1");
  EXPECT_EQ(pod["metadata"]["labels"]["zenith.ai/attempt"], "3");
  EXPECT_EQ(pod["metadata"]["labels"]["app"], "mnist");
  EXPECT_EQ(pod["metadata"]["annotations"]["team"], "a");
  EXPECT_EQ(pod["metadata"]["annotations"]["zenith.ai/simulate-failure-rank"], "1");
  EXPECT_FALSE(
      pod["metadata"]["annotations"].contains("kubectl.kubernetes.io/last-applied-configuration"));
  const Json& owner = pod["metadata"]["ownerReferences"][0];
  EXPECT_EQ(owner["kind"], "ZenithJob");
  EXPECT_EQ(owner["uid"], "uid-1");
  EXPECT_EQ(owner["controller"], true);
  const Json& spec = pod["spec"];
  EXPECT_EQ(spec["schedulerName"], "zenith-test");
  EXPECT_EQ(spec["restartPolicy"], "Never");
  EXPECT_EQ(spec["hostname"], "mnist-1");
  EXPECT_EQ(spec["subdomain"], "mnist");
  EXPECT_EQ(spec["nodeSelector"]["pool"], "gpu");
  EXPECT_EQ(spec["tolerations"][0]["key"], "gpu");
  EXPECT_EQ(spec["volumes"][0]["name"], "data");
  const Json& c = spec["containers"][0];
  EXPECT_EQ(c["image"], "pytorch:2.4");
  EXPECT_EQ(c["command"][0], "python");
  EXPECT_EQ(c["args"][0], "print(1)");
  EXPECT_EQ(Env(c, "RANK"), "user-wins");  // the user's own value is kept
  EXPECT_EQ(Env(c, "X"), "1");
  EXPECT_EQ(Env(c, "WORLD_SIZE"), "2");
  EXPECT_EQ(Env(c, "MASTER_ADDR"), "mnist-0.mnist.team-a.svc");
  EXPECT_EQ(Env(c, "MASTER_PORT"), "29500");
  EXPECT_EQ(Env(c, "ZENITH_JOB"), "mnist");
  EXPECT_EQ(c["resources"]["requests"]["zenith.ai/gpu"], "1");
  EXPECT_EQ(c["resources"]["limits"]["zenith.ai/gpu"], "1");
  EXPECT_EQ(c["resources"]["requests"]["cpu"], "2");
  EXPECT_FALSE(spec.contains("initContainers"));
  EXPECT_EQ(PodRank(pod), 1);
  EXPECT_EQ(PodAttempt(pod), 3);
}

TEST(WorkersTest, RankEnvDefaultsWhenTheUserSetsNone) {
  Json j = testing::SmallJob();
  j["spec"]["template"]["spec"]["containers"][0].erase("env");
  Json pod = BuildWorkerPod(ParseZenithJob(j).value(), 0, 0, {});
  EXPECT_EQ(Env(pod["spec"]["containers"][0], "RANK"), "0");
  EXPECT_EQ(pod["spec"]["schedulerName"], "zenith");
}

TEST(WorkersTest, DataPlaneAddsNativeSidecarOnSharedMemory) {
  auto job = ParseZenithJob(testing::LlmJob()).value();
  Json pod = BuildWorkerPod(job, 2, 0, {});
  const Json& spec = pod["spec"];
  ASSERT_EQ(spec["initContainers"].size(), 1u);
  const Json& side = spec["initContainers"][0];
  EXPECT_EQ(side["name"], "zenith-runtime");
  EXPECT_EQ(side["restartPolicy"], "Always");
  EXPECT_EQ(side["image"], "zenith-runtime:0.1.0");
  std::vector<std::string> args = side["args"];
  EXPECT_EQ(args, (std::vector<std::string>{
                      "--source=/data/c4/train-*.tfrecord", "--format=tfrecord", "--batch-size=512",
                      "--shuffle-seed=1234", "--prefetch=8", "--shm-dir=/dev/shm/zenith"}));
  EXPECT_EQ(Env(side, "RANK"), "2");
  EXPECT_EQ(Env(side, "WORLD_SIZE"), "4");
  EXPECT_EQ(side["volumeMounts"][0]["name"], "zenith-shm");
  const Json& vol = spec["volumes"].back();
  EXPECT_EQ(vol["name"], "zenith-shm");
  EXPECT_EQ(vol["emptyDir"]["medium"], "Memory");
  EXPECT_EQ(vol["emptyDir"]["sizeLimit"], "8Gi");
  const Json& trainer = spec["containers"][0];
  EXPECT_EQ(trainer["volumeMounts"].back()["mountPath"], "/dev/shm/zenith");
  EXPECT_EQ(Env(trainer, "ZENITH_SHM_DIR"), "/dev/shm/zenith");
  EXPECT_EQ(trainer["resources"]["limits"]["zenith.ai/gpu"], "8");
}

TEST(WorkersTest, HeadlessServiceSelectsTheJob) {
  auto job = ParseZenithJob(testing::SmallJob()).value();
  Json svc = BuildHeadlessService(job, {});
  EXPECT_EQ(svc["metadata"]["name"], "mnist");
  EXPECT_EQ(svc["spec"]["clusterIP"], "None");
  EXPECT_EQ(svc["spec"]["selector"]["zenith.ai/job"], "mnist");
  EXPECT_EQ(svc["spec"]["publishNotReadyAddresses"], true);
  EXPECT_EQ(svc["spec"]["ports"][0]["port"], 29500);
  EXPECT_EQ(svc["metadata"]["ownerReferences"][0]["name"], "mnist");
}

}  // namespace
}  // namespace zenith::operator_
