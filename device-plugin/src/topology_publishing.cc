#include "zenith/deviceplugin/topology_publishing.h"

#include "zenith/common/log.h"
#include "zenith/deviceplugin/node_publisher.h"
#include "zenith/deviceplugin/publish_loop.h"
#include "zenith/kube/config.h"

namespace zenith::deviceplugin {
namespace {

struct Publishing {
  std::unique_ptr<kube::Client> client;
  std::unique_ptr<NodePublisher> publisher;
  std::unique_ptr<PublishLoop> loop;
  ~Publishing() {
    if (loop) loop->Stop();
  }
};

}  // namespace

Result<std::shared_ptr<void>> StartTopologyPublishing(const Options& options,
                                                      const NodeTopology& topology,
                                                      const ResourceManager& gpus) {
  if (!options.publish) return std::shared_ptr<void>();
  if (options.node_name.empty()) {
    common::log::Warn(
        "no node name (set node-name or ZENITH_NODE_NAME): the topology is not "
        "published for the scheduler");
    return std::shared_ptr<void>();
  }
  auto config = options.kubeconfig.empty() ? kube::LoadInClusterConfig()
                                           : kube::LoadKubeconfig(options.kubeconfig);
  if (!config.ok()) return config.status().WithContext("topology publishing");
  auto p = std::make_shared<Publishing>();
  ZENITH_ASSIGN_OR_RETURN(p->client, kube::Client::Create(*config));
  p->publisher = std::make_unique<NodePublisher>(
      *p->client, NodePublisherOptions{options.node_name, options.resource_name});
  PublishLoopOptions loop_options;
  loop_options.resync = options.publish_resync;
  p->loop = std::make_unique<PublishLoop>(*p->publisher, topology, gpus, common::SystemClock::Get(),
                                          loop_options);
  p->loop->Start();
  common::log::Info("publishing the node topology",
                    {{"node", options.node_name}, {"zenithnode", options.node_name}});
  return std::shared_ptr<void>(p);
}

}  // namespace zenith::deviceplugin
