#include "zenith/kube/resource.h"

#include <gtest/gtest.h>

namespace zenith::kube {
namespace {

TEST(ResourcePathTest, CoreNamespacedObjectsAndCollections) {
  EXPECT_EQ((ResourceRef{resources::Pods(), "ns", "p", ""}.Path()), "/api/v1/namespaces/ns/pods/p");
  EXPECT_EQ((ResourceRef{resources::Pods(), "ns", "", ""}.Path()), "/api/v1/namespaces/ns/pods");
  EXPECT_EQ((ResourceRef{resources::Pods(), "", "", ""}.Path()), "/api/v1/pods");
  EXPECT_EQ((ResourceRef{resources::Pods(), "ns", "p", "binding"}.Path()),
            "/api/v1/namespaces/ns/pods/p/binding");
  EXPECT_EQ((ResourceRef{resources::ConfigMaps(), "a", "b", "status"}.Path()),
            "/api/v1/namespaces/a/configmaps/b/status");
  EXPECT_EQ((ResourceRef{resources::ServiceAccounts(), "a", "sa", "token"}.Path()),
            "/api/v1/namespaces/a/serviceaccounts/sa/token");
}

TEST(ResourcePathTest, ClusterScopedIgnoresTheNamespace) {
  EXPECT_EQ((ResourceRef{resources::Nodes(), "ignored", "n1", ""}.Path()), "/api/v1/nodes/n1");
  EXPECT_EQ((ResourceRef{resources::Namespaces(), "", "x", "status"}.Path()),
            "/api/v1/namespaces/x/status");
  EXPECT_EQ((ResourceRef{resources::CustomResourceDefinitions(), "", "a.b.c", ""}.Path()),
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/a.b.c");
}

TEST(ResourcePathTest, GroupsAndCustomResources) {
  EXPECT_EQ((ResourceRef{resources::Leases(), "kube-system", "l", ""}.Path()),
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l");
  auto zj = resources::Custom("zenith.ai", "v1alpha1", "zenithjobs");
  EXPECT_EQ(zj.ApiVersion(), "zenith.ai/v1alpha1");
  EXPECT_EQ((ResourceRef{zj, "t", "job-1", "status"}.Path()),
            "/apis/zenith.ai/v1alpha1/namespaces/t/zenithjobs/job-1/status");
  auto cluster_crd = resources::Custom("zenith.ai", "v1alpha1", "zenithnodes", false);
  EXPECT_EQ((ResourceRef{cluster_crd, "t", "n", ""}.Path()),
            "/apis/zenith.ai/v1alpha1/zenithnodes/n");
  EXPECT_TRUE(resources::Pods().SupportsStrategicMerge());
  EXPECT_TRUE(resources::Leases().SupportsStrategicMerge());
  EXPECT_FALSE(zj.SupportsStrategicMerge());
  EXPECT_EQ(zj.Name(), "zenithjobs.zenith.ai");
}

TEST(ResourcePathTest, NamesAreEscaped) {
  EXPECT_EQ((ResourceRef{resources::ConfigMaps(), "n s", "a/b", ""}.Path()),
            "/api/v1/namespaces/n%20s/configmaps/a%2Fb");
}

TEST(QueryTest, ListAndWatchParametersAreEncoded) {
  ListOptions lo;
  lo.label_selector = "app=x,tier in (a,b)";
  lo.field_selector = "spec.nodeName=";
  lo.limit = 50;
  lo.continue_token = "tok=";
  lo.resource_version = "12";
  EXPECT_EQ(ListQuery(lo).ToString(),
            "?labelSelector=app%3Dx%2Ctier%20in%20%28a%2Cb%29&fieldSelector=spec.nodeName%3D"
            "&limit=50&continue=tok%3D&resourceVersion=12");
  EXPECT_EQ(ListQuery({}).ToString(), "");
  WatchOptions wo;
  wo.resource_version = "99";
  wo.timeout_seconds = 30;
  EXPECT_EQ(WatchQuery(wo).ToString(),
            "?watch=1&allowWatchBookmarks=true&resourceVersion=99&timeoutSeconds=30");
}

}  // namespace
}  // namespace zenith::kube
