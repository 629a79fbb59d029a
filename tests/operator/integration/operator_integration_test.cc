// The operator end to end on the local control plane: the real zenith-operator binary, the real
// API server, kwok nodes whose Stages (e2e/stages) run, complete or fail the workers.
#include <gtest/gtest.h>

#include <sstream>

#include "operator_env.h"

namespace zenith::operator_::testing {
namespace {

using namespace std::chrono_literals;

std::string Example(const std::string& name) {
  return std::string(ZENITH_SOURCE_DIR) + "/examples/" + name;
}

// A line of `kubectl describe`'s Events table: "  Normal  Created  8s  zenith-operator  ...".
bool HasEvent(const std::string& describe, const std::string& type, const std::string& reason) {
  std::istringstream in(describe.substr(describe.find("\nEvents:") == std::string::npos
                                            ? describe.size()
                                            : describe.find("\nEvents:")));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string t, r;
    words >> t >> r;
    if (t == type && r == reason) return true;
  }
  return false;
}

TEST_F(OperatorTest, ExamplesReachTheirTerminalPhase) {
  CreateNodes(4, 8);
  StartOperator();
  ApplyFile(Example("zenithjob-small.yaml"));
  ApplyFile(Example("zenithjob-llm.yaml"));
  ApplyFile(Example("zenithjob-fail.yaml"));
  EXPECT_TRUE(WaitPhase("mnist", "Succeeded")) << Phase("mnist") << OperatorLogs();
  EXPECT_TRUE(WaitPhase("llm-pretrain", "Succeeded")) << Phase("llm-pretrain") << OperatorLogs();
  EXPECT_TRUE(WaitPhase("fails-on-purpose", "Failed")) << Phase("fails-on-purpose");

  // The LLM job's workers carry the zenith-runtime native sidecar.
  EXPECT_EQ(Get("pod/llm-pretrain-0", ".spec.initContainers[0].name"), "zenith-runtime");
  EXPECT_EQ(Get("pod/llm-pretrain-0", ".spec.initContainers[0].restartPolicy"), "Always");
  EXPECT_EQ(Get("pod/llm-pretrain-2", ".spec.containers[0].env[?(@.name==\"RANK\")].value"), "2");
  EXPECT_EQ(Get("pod/llm-pretrain-2", ".spec.containers[0].env[?(@.name==\"MASTER_ADDR\")].value"),
            "llm-pretrain-0.llm-pretrain." + ns_ + ".svc");
  EXPECT_EQ(Get("service/llm-pretrain", ".spec.clusterIP"), "None");

  // kubectl get zj: the printer columns.
  auto table = Kubectl("-n " + ns_ + " get zj");
  ASSERT_EQ(table.rc, 0) << table.out;
  EXPECT_NE(table.out.find("NAME"), std::string::npos);
  for (const char* col : {"PHASE", "READY", "GPUS", "QUEUE", "AGE"})
    EXPECT_NE(table.out.find(col), std::string::npos) << col << "\n" << table.out;
  auto row = Trim(Kubectl("-n " + ns_ + " get zj llm-pretrain --no-headers").out);
  EXPECT_EQ(row.rfind("llm-pretrain", 0), 0u) << row;
  EXPECT_NE(row.find("Succeeded"), std::string::npos) << row;
  EXPECT_NE(row.find(" 0/4 "), std::string::npos) << row;
  EXPECT_NE(row.find(" 32 "), std::string::npos) << row;
  EXPECT_NE(row.find("research"), std::string::npos) << row;

  // kubectl describe zj: one Event per transition, the failure's reason among them.
  // Each Event is sent right after the status that records its transition, so allow a moment.
  std::string small, failed;
  auto described = [&](const std::string& job, const std::string& type, const char* reason,
                       std::string& out) {
    return WaitFor(
        [&] {
          out = Kubectl("-n " + ns_ + " describe zj " + job).out;
          return HasEvent(out, type, reason);
        },
        10s);
  };
  for (const char* reason : {"Created", "Queued", "Scheduled", "Running", "Succeeded"})
    EXPECT_TRUE(described("mnist", "Normal", reason, small)) << reason << small;
  EXPECT_TRUE(described("fails-on-purpose", "Warning", "Restarting", failed)) << failed;
  EXPECT_TRUE(described("fails-on-purpose", "Warning", "WorkerFailed", failed)) << failed;
  EXPECT_EQ(Get("zj/fails-on-purpose", ".status.retries"), "2");
  EXPECT_EQ(Get("zj/fails-on-purpose", ".status.conditions[?(@.type==\"Failed\")].reason"),
            "WorkerFailed");
  EXPECT_NE(Get("zj/fails-on-purpose", ".status.conditions[?(@.type==\"Failed\")].message")
                .find("no retries left (maxRetries=2)"),
            std::string::npos);
}

TEST_F(OperatorTest, RetryThenSuccess) {
  CreateNodes(2, 8);
  StartOperator();
  Apply(JobYaml("flaky", ns_, 2, 2,
                "    zenith.ai/simulate-failure-rank: \"0\"\n"
                "    zenith.ai/simulate-failure-attempts: \"1\"\n"));
  ASSERT_TRUE(WaitPhase("flaky", "Succeeded")) << Phase("flaky") << OperatorLogs();
  EXPECT_EQ(Get("zj/flaky", ".status.retries"), "1");
  EXPECT_EQ(Get("pod/flaky-0", ".metadata.labels.zenith\\.ai/attempt"), "1");
  EXPECT_EQ(Get("zj/flaky", ".status.observedGeneration"), "1");
}

TEST_F(OperatorTest, RetriesExhaustedFailsWithTheReason) {
  CreateNodes(2, 8);
  StartOperator();
  Apply(JobYaml("doomed", ns_, 3, 1,
                "    zenith.ai/simulate-failure-rank: \"2\"\n"
                "    zenith.ai/simulate-exit-code: \"7\"\n",
                "    maxRetries: 1\n    backoffSeconds: 1\n"));
  ASSERT_TRUE(WaitPhase("doomed", "Failed")) << Phase("doomed") << OperatorLogs();
  EXPECT_EQ(Get("zj/doomed", ".status.retries"), "1");
  std::string msg = Get("zj/doomed", ".status.conditions[?(@.type==\"Failed\")].message");
  EXPECT_NE(msg.find("worker rank 2 (pod doomed-2)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("exited with code 7"), std::string::npos) << msg;
  // cleanPodPolicy Running (the default): only the failed worker is kept, for its logs.
  EXPECT_TRUE(WaitFor([&] { return CountPods("doomed") == 1; }, 20s));
}

TEST_F(OperatorTest, SuspendAndResume) {
  CreateNodes(2, 8);
  StartOperator();
  Apply(JobYaml("pausable", ns_, 2, 4, "    zenith.ai/simulate-duration: 1h\n"));
  ASSERT_TRUE(WaitPhase("pausable", "Running")) << Phase("pausable") << OperatorLogs();
  EXPECT_EQ(Get("zj/pausable", ".status.ready"), "2/2");
  ASSERT_EQ(
      Kubectl("-n " + ns_ +
              " patch zj pausable --type=merge -p '{\"spec\":{\"runPolicy\":{\"suspend\":true}}}'")
          .rc,
      0);
  ASSERT_TRUE(WaitPhase("pausable", "Suspended")) << Phase("pausable");
  EXPECT_TRUE(WaitFor([&] { return CountPods("pausable") == 0; }, 20s));
  EXPECT_EQ(Get("zj/pausable", ".status.conditions[?(@.type==\"Suspended\")].status"), "True");
  ASSERT_EQ(
      Kubectl("-n " + ns_ +
              " patch zj pausable --type=merge -p '{\"spec\":{\"runPolicy\":{\"suspend\":false}}}'")
          .rc,
      0);
  ASSERT_TRUE(WaitPhase("pausable", "Running")) << Phase("pausable") << OperatorLogs();
  EXPECT_EQ(CountPods("pausable"), 2);
  EXPECT_EQ(Get("zj/pausable", ".status.retries"), "0");
  auto events = Kubectl("-n " + ns_ + " describe zj pausable").out;
  EXPECT_NE(events.find("Suspended"), std::string::npos);
  EXPECT_NE(events.find("Resumed"), std::string::npos) << events;
}

TEST_F(OperatorTest, DeleteCleansUpEverything) {
  CreateNodes(2, 8);
  StartOperator();
  Apply(JobYaml("doomed-run", ns_, 3, 1, "    zenith.ai/simulate-duration: 1h\n"));
  ASSERT_TRUE(WaitPhase("doomed-run", "Running")) << OperatorLogs();
  EXPECT_EQ(Get("zj/doomed-run", ".metadata.finalizers[0]"), "zenith.ai/cleanup");
  EXPECT_EQ(Get("service/doomed-run", ".spec.clusterIP"), "None");
  // No garbage collector runs in this cluster: only the finalizer can clean up.
  auto r = Kubectl("-n " + ns_ + " delete zj doomed-run --timeout=60s");
  ASSERT_EQ(r.rc, 0) << r.out << OperatorLogs();
  EXPECT_EQ(CountPods("doomed-run"), 0);
  EXPECT_NE(Kubectl("-n " + ns_ + " get service doomed-run").rc, 0);
  EXPECT_NE(Kubectl("-n " + ns_ + " get zj doomed-run").rc, 0);
}

TEST_F(OperatorTest, LostNodeRestartsTheGang) {
  CreateNodes(3, 8);
  StartOperator();
  Apply(JobYaml("wanderer", ns_, 2, 8, "    zenith.ai/simulate-duration: 1h\n"));
  ASSERT_TRUE(WaitPhase("wanderer", "Running")) << OperatorLogs();
  std::string node = Get("pod/wanderer-1", ".spec.nodeName");
  ASSERT_FALSE(node.empty());
  ASSERT_EQ(Kubectl("delete node " + node).rc, 0);
  ASSERT_TRUE(WaitFor([&] { return Get("zj/wanderer", ".status.retries") == "1"; }, 30s))
      << OperatorLogs();
  // The Restarting condition may already be back to False (gang recreated); its Event stays.
  std::string described;
  EXPECT_TRUE(WaitFor(
      [&] {
        described = Kubectl("-n " + ns_ + " describe zj wanderer").out;
        return described.find("lost its node " + node) != std::string::npos;
      },
      10s))
      << described;
  ASSERT_TRUE(WaitPhase("wanderer", "Running")) << Phase("wanderer") << OperatorLogs();
  EXPECT_NE(Get("pod/wanderer-0", ".spec.nodeName"), node);
  EXPECT_NE(Get("pod/wanderer-1", ".spec.nodeName"), node);
}

// With the gang scheduler as binder: a job of higher priority evicts a preemptible gang, which
// goes back to Queued with the Preempted condition and without spending a retry.
TEST_F(OperatorTest, PreemptedJobIsQueuedAgainWithACondition) {
  CreateNodes(1, 8);
  // The gang scheduler also watches ZenithNodes and ZenithQueues.
  for (const char* crd : {"zenithnodes", "zenithqueues"}) {
    ApplyFile(std::string(ZENITH_SOURCE_DIR) + "/crds/zenith.ai_" + crd + ".yaml");
    auto r = Kubectl(std::string("wait --for condition=established --timeout=60s crd/") + crd +
                     ".zenith.ai");
    ASSERT_EQ(r.rc, 0) << r.out;
  }
  StartOperator({"--binder=gang"});
  const std::string runs_long = "    zenith.ai/simulate-duration: 1h\n";
  Apply(JobYaml("humble", ns_, 2, 4, runs_long) +
        "  scheduling:\n    priority: 0\n    preemptible: true\n");
  ASSERT_TRUE(WaitPhase("humble", "Running")) << OperatorLogs();
  Apply(JobYaml("urgent", ns_, 1, 8, runs_long) + "  scheduling:\n    priority: 10\n");
  const std::string preempted = R"(.status.conditions[?(@.type=="Preempted")])";
  ASSERT_TRUE(WaitFor([&] { return Get("zj/humble", preempted + ".status") == "True"; }, 60s))
      << Kubectl("-n " + ns_ + " get zj humble -o yaml").out << OperatorLogs();
  EXPECT_EQ(Get("zj/humble", preempted + ".reason"), "PreemptedByHigherPriorityJob");
  EXPECT_NE(Get("zj/humble", preempted + ".message").find(ns_ + "/urgent"), std::string::npos);
  ASSERT_TRUE(WaitPhase("urgent", "Running")) << OperatorLogs();
  EXPECT_EQ(Phase("humble"), "Queued");
  const std::string retries = Get("zj/humble", ".status.retries");
  EXPECT_TRUE(retries.empty() || retries == "0") << retries;
}

TEST_F(OperatorTest, TwoReplicasOneLeads) {
  CreateNodes(1, 8);
  auto& a = StartOperator({"--identity=replica-a"});
  ASSERT_TRUE(WaitFor(
      [&] { return Get("lease/zenith-operator", ".spec.holderIdentity") == "replica-a"; }, 30s))
      << OperatorLogs();
  auto& b = StartOperator({"--identity=replica-b"});
  ASSERT_TRUE(WaitFor([&] { return Trim(b.Admin("/readyz").out) == "ok"; }, 20s))
      << b.Admin("/readyz").out;
  EXPECT_NE(b.Admin("/metrics").out.find("zenith_operator_leader 0"), std::string::npos);
  EXPECT_NE(a.Admin("/metrics").out.find("zenith_operator_leader 1"), std::string::npos);
  a.Kill(SIGKILL);
  // The standby takes over once the dead leader's lease runs out and finishes a job.
  ASSERT_TRUE(WaitFor(
      [&] { return Get("lease/zenith-operator", ".spec.holderIdentity") == "replica-b"; }, 30s))
      << OperatorLogs();
  Apply(JobYaml("after-failover", ns_, 2, 1));
  EXPECT_TRUE(WaitPhase("after-failover", "Succeeded")) << OperatorLogs();
  auto metrics = b.Admin("/metrics").out;
  EXPECT_NE(metrics.find("zenith_operator_jobs{phase=\"Succeeded\"} 1"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("zenith_operator_reconcile_duration_seconds_count"), std::string::npos);
  EXPECT_NE(metrics.find("zenith_operator_workqueue_depth"), std::string::npos);
  EXPECT_NE(metrics.find("zenith_operator_api_errors_total"), std::string::npos);
}

TEST_F(OperatorTest, TtlDeletesFinishedJobs) {
  CreateNodes(1, 8);
  StartOperator();
  Apply(JobYaml("short-lived", ns_, 1, 1, "",
                "    backoffSeconds: 1\n    ttlSecondsAfterFinished: 2\n"));
  EXPECT_TRUE(WaitFor([&] { return Kubectl("-n " + ns_ + " get zj short-lived").rc != 0; }, 60s))
      << Phase("short-lived") << OperatorLogs();
  EXPECT_EQ(CountPods("short-lived"), 0);
}

}  // namespace
}  // namespace zenith::operator_::testing
