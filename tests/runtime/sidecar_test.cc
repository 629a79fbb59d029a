// The zenith-runtime program as a trainer's pod runs it: real process, real flags and YAML,
// /metrics, /healthz, /readyz over HTTP, a consumer through the segment, SIGTERM.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <fstream>
#include <thread>

#include "dataplane_test_util.h"
#include "zenith/runtime/channel_consumer.h"
#include "zenith/runtime/record_writer.h"

namespace zenith::runtime {
namespace {

// "200 ...body" or "" when nothing answers.
std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (write(fd, req.data(), req.size()) < 0) return "";
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(fd);
  return out.size() > 12 ? out.substr(9) : out;
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST(SidecarTest, ServesBatchesMetricsAndStopsOnSigterm) {
  testing::TempDir dir("sidecar");
  std::filesystem::create_directories(dir.path() / "data");
  for (int f = 0; f < 2; ++f) {
    std::string file;
    for (int r = 0; r < 100; ++r) AppendTfRecord(file, std::string(64, static_cast<char>('a' + f)));
    dir.Write("data/part" + std::to_string(f) + ".tfrecord", file);
  }
  const int port = FreePort();
  const std::string yaml = dir.Write(
      "config.yaml", "source: " + (dir.path() / "data").string() +
                         "\nbatch-size: 10\nshm-dir: " + dir.path().string() +
                         "\nchannel-name: side\nmetrics:\n  port: " + std::to_string(port) + "\n");
  const std::string config_flag = "--config=" + yaml;  // built before fork: no allocation after
  const pid_t pid = fork();
  if (pid == 0) {
    execl(ZENITH_RUNTIME_BINARY, ZENITH_RUNTIME_BINARY, config_flag.c_str(), "--epochs=2", nullptr);
    _exit(127);
  }
  struct KillOnExit {
    pid_t pid;
    ~KillOnExit() {
      if (pid > 0 && kill(pid, SIGKILL) == 0) waitpid(pid, nullptr, 0);
    }
  } guard{pid};
  const std::string segment = dir.Path("side.zenith");
  std::string ready;
  // /readyz also answers 200 in the instant before the program registered its check, so the
  // segment's existence is the other half of "ready".
  for (int i = 0; i < 400 && (ready.rfind("200", 0) != 0 || !std::filesystem::exists(segment));
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    ready = HttpGet(port, "/readyz");
  }
  ASSERT_EQ(ready.rfind("200", 0), 0u) << ready;
  EXPECT_EQ(HttpGet(port, "/healthz").rfind("200", 0), 0u);

  ChannelConsumer::Error err;
  auto c = ChannelConsumer::Attach(segment, &err);
  ASSERT_TRUE(c) << err.message;
  int samples = 0;
  for (;;) {
    ChannelConsumer::Batch b;
    err = c->Next(&b, std::chrono::seconds(10));
    if (err.code == ChannelConsumer::Code::kEndOfData) break;
    ASSERT_TRUE(err.ok()) << err.message;
    samples += static_cast<int>(b.header().num_samples);
    c->Release(b);
  }
  EXPECT_EQ(samples, 400);
  const std::string metrics = HttpGet(port, "/metrics");
  for (const char* name :
       {"zenith_runtime_samples_total 400", "zenith_runtime_sample_bytes_total 25600",
        "zenith_runtime_batch_assembly_seconds_bucket", "zenith_runtime_queue_depth",
        "zenith_runtime_trainer_wait_nanoseconds_total",
        "zenith_runtime_producer_stall_nanoseconds_total"}) {
    EXPECT_NE(metrics.find(name), std::string::npos) << name << "\n" << metrics.substr(0, 3000);
  }
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  guard.pid = 0;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(std::filesystem::exists(segment));  // removed on a clean shutdown
}

TEST(SidecarTest, BadConfigNamesTheKey) {
  testing::TempDir dir("sidecar-bad");
  const std::string log = dir.Path("stderr");
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT, 0644);
    dup2(fd, 2);
    execl(ZENITH_RUNTIME_BINARY, ZENITH_RUNTIME_BINARY, "--source=/tmp", "--last-batch=maybe",
          nullptr);
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status;
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("last-batch"), std::string::npos) << text;
}

}  // namespace
}  // namespace zenith::runtime
