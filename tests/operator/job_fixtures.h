// ZenithJob objects for the operator's unit tests: the examples/ manifests as the API server
// returns them , built inline.
#pragma once

#include <string>

#include "zenith/operator/job.h"

namespace zenith::operator_::testing {

inline Json SmallJob(const std::string& name = "mnist", int replicas = 2, int gpus = 1) {
  return Json::parse(R"J({
    "apiVersion": "zenith.ai/v1alpha1", "kind": "ZenithJob",
    "metadata": {"name": "", "namespace": "team-a", "uid": "uid-1", "generation": 1,
                 "resourceVersion": "10", "finalizers": ["zenith.ai/cleanup"],
                 "annotations": {"zenith.ai/simulate-failure-rank": "1",
                                 "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
    "spec": {
      "replicas": 2, "gpusPerReplica": 1,
      "runPolicy": {"maxRetries": 2, "backoffSeconds": 1, "cleanPodPolicy": "Running"},
      "template": {
        "metadata": {"labels": {"app": "mnist"}, "annotations": {"team": "a"}},
        "spec": {
          "containers": [{"name": "trainer", "image": "pytorch:2.4",
                          "command": ["python", "-c"], "args": ["print(1)"],
                          "env": [{"name": "RANK", "value": "user-wins"}, {"name": "X", "value": "1"}],
                          "resources": {"requests": {"cpu": "2"}}}],
          "nodeSelector": {"pool": "gpu"},
          "tolerations": [{"key": "gpu", "operator": "Exists"}],
          "volumes": [{"name": "data", "emptyDir": {}}]}}}})J")
      .patch(Json::parse("[{\"op\":\"replace\",\"path\":\"/metadata/name\",\"value\":\"" + name +
                         "\"},{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":" +
                         std::to_string(replicas) +
                         "},{\"op\":\"replace\",\"path\":\"/spec/gpusPerReplica\",\"value\":" +
                         std::to_string(gpus) + "}]"));
}

inline Json LlmJob() {
  Json j = SmallJob("llm-pretrain", 4, 8);
  j["spec"]["dataPlane"] = {{"source", "/data/c4/train-*.tfrecord"},
                            {"format", "tfrecord"},
                            {"batchSize", 512},
                            {"shuffleSeed", 1234},
                            {"prefetch", 8},
                            {"shmSize", "8Gi"}};
  j["spec"]["topology"] = {{"nvlink", "Required"}, {"placement", "Pack"}};
  return j;
}

}  // namespace zenith::operator_::testing
