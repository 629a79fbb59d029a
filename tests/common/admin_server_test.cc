#include "zenith/common/admin_server.h"

#include <arpa/inet.h>
#include <cpprest/http_client.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

namespace zenith::common {
namespace {

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct Reply {
  int code;
  std::string body;
};

Reply Get(const std::string& base, const std::string& path) {
  web::http::client::http_client client(base);
  auto response = client.request(web::http::methods::GET, path).get();
  return {response.status_code(), response.extract_utf8string(true).get()};
}

TEST(AdminServerTest, ServesHealthReadinessAndMetrics) {
  MetricsRegistry metrics;
  metrics.Counter("zenith_test_events_total", "events seen", {{"kind", "a"}}).Increment(3);
  AdminServer server({"127.0.0.1", FreePort()}, metrics);
  std::atomic<bool> cache_synced{false};
  server.AddReadinessCheck("informer-cache", [&]() -> Status {
    if (cache_synced) return Status::Ok();
    return UnavailableError("pods not yet listed");
  });
  ASSERT_TRUE(server.Start().ok());

  Reply health = Get(server.url(), "/healthz");
  EXPECT_EQ(health.code, 200);
  EXPECT_EQ(health.body, "ok\n");

  Reply not_ready = Get(server.url(), "/readyz");
  EXPECT_EQ(not_ready.code, 503);
  EXPECT_EQ(not_ready.body, "[-] informer-cache: pods not yet listed\n");
  cache_synced = true;
  EXPECT_EQ(Get(server.url(), "/readyz").code, 200);

  Reply m = Get(server.url(), "/metrics");
  EXPECT_EQ(m.code, 200);
  EXPECT_NE(m.body.find("# HELP zenith_test_events_total events seen"), std::string::npos);
  EXPECT_NE(m.body.find("zenith_test_events_total{kind=\"a\"} 3"), std::string::npos) << m.body;

  Reply missing = Get(server.url(), "/nope");
  EXPECT_EQ(missing.code, 404);
  EXPECT_NE(missing.body.find("/metrics"), std::string::npos);
  server.Stop();
}

class FixedCollectable : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily f;
    f.name = "zenith_test_collected";
    f.help = "from a collectable";
    f.type = prometheus::MetricType::Gauge;
    prometheus::ClientMetric m;
    m.gauge.value = 5;
    f.metric.push_back(m);
    return {f};
  }
};

TEST(AdminServerTest, ExtraCollectablesAreScrapedUntilTheyExpire) {
  MetricsRegistry metrics;
  auto c = std::make_shared<FixedCollectable>();
  metrics.AddCollectable(c);
  EXPECT_NE(metrics.Serialize().find("zenith_test_collected 5"), std::string::npos);
  c.reset();
  EXPECT_EQ(metrics.Serialize().find("zenith_test_collected"), std::string::npos);
}

TEST(AdminServerTest, PortInUseIsAClearError) {
  MetricsRegistry metrics;
  uint16_t port = FreePort();
  AdminServer first({"127.0.0.1", port}, metrics);
  ASSERT_TRUE(first.Start().ok());
  AdminServer second({"127.0.0.1", port}, metrics);
  Status s = second.Start();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos) << s;
}

}  // namespace
}  // namespace zenith::common
