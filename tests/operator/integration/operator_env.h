// Shared set-up for the operator's integration tests on the local control plane: the real
// zenith-operator binary as a child process, kubectl for what a user would type, a namespace
// and its own kwok GPU nodes per test, and polling with deadlines. The cluster dir comes from
// ZENITH_KUBE_CLUSTER_DIR (set by CTest); without it the tests skip.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace zenith::operator_::testing {

inline std::string ClusterDir() {
  const char* d = std::getenv("ZENITH_KUBE_CLUSTER_DIR");
  return d ? d : "";
}
inline std::string Kubeconfig() { return ClusterDir() + "/kubeconfig"; }

struct RunResult {
  int rc = -1;
  std::string out;
};

// Runs a shell command, stdout and stderr together.
inline RunResult Sh(const std::string& cmd) {
  RunResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline RunResult Kubectl(const std::string& args) {
  return Sh("kubectl --kubeconfig=" + Quote(Kubeconfig()) + " " + args);
}

inline std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

inline bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
                    std::chrono::milliseconds every = std::chrono::milliseconds(250)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(every);
  }
  return cond();
}

inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// The zenith-operator binary as a child process; killed (SIGKILL) when destroyed.
class OperatorProcess {
 public:
  OperatorProcess(std::vector<std::string> args, std::string log_path)
      : args_(std::move(args)), log_(std::move(log_path)) {}
  ~OperatorProcess() { Kill(SIGKILL); }

  void Start() {
    port_ = FreePort();
    std::vector<std::string> argv = {ZENITH_OPERATOR_BINARY, "--kubeconfig=" + Kubeconfig(),
                                     "--metrics.address=127.0.0.1",
                                     "--metrics.port=" + std::to_string(port_)};
    argv.insert(argv.end(), args_.begin(), args_.end());
    // Everything the child needs is built before fork: this process has threads (the API
    // client's), so the child may only make async-signal-safe calls until execv. An allocation
    // there could wait forever on a malloc lock another thread held at the fork, leaving an
    // operator that never starts and writes no log.
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const char* log_path = log_.c_str();
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      execv(cargv[0], cargv.data());
      _exit(127);
    }
  }
  // Sends `sig` and reaps the process.
  void Kill(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  bool Alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  // GET on the admin endpoint ("/metrics", "/readyz").
  RunResult Admin(const std::string& path) const {
    return Sh("curl -s --max-time 3 http://127.0.0.1:" + std::to_string(port_) + path);
  }
  std::string Log() const { return Sh("tail -n 60 " + Quote(log_)).out; }
  int pid() const { return pid_; }

 private:
  std::vector<std::string> args_;
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A namespace with its default ServiceAccount (no controller-manager makes one), its own kwok
// GPU nodes, and an operator that watches only that namespace.
class OperatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (ClusterDir().empty()) return;
    auto r = Kubectl("apply -f " +
                     Quote(std::string(ZENITH_SOURCE_DIR) + "/crds/zenith.ai_zenithjobs.yaml"));
    ASSERT_EQ(r.rc, 0) << r.out;
    r = Kubectl("wait --for=condition=Established crd/zenithjobs.zenith.ai --timeout=60s");
    ASSERT_EQ(r.rc, 0) << r.out;
  }

  void SetUp() override {
    if (ClusterDir().empty())
      GTEST_SKIP() << "ZENITH_KUBE_CLUSTER_DIR is not set (run via ctest -L kube)";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    ns_ = std::string("zop-") + info->name();
    std::transform(ns_.begin(), ns_.end(), ns_.begin(),
                   [](unsigned char c) { return std::isalnum(c) ? std::tolower(c) : '-'; });
    ns_ = ns_.substr(0, 40) + "-" + std::to_string(getpid());
    auto r = Kubectl("create namespace " + ns_);
    ASSERT_EQ(r.rc, 0) << r.out;
    r = Kubectl("-n " + ns_ + " create serviceaccount default");
    ASSERT_EQ(r.rc, 0) << r.out;
  }

  void TearDown() override {
    operators_.clear();
    if (!nodes_prefix_.empty())
      Sh(std::string(ZENITH_SOURCE_DIR) + "/e2e/nodes.sh delete --prefix " + nodes_prefix_ +
         " --kubeconfig " + Quote(Kubeconfig()));
  }

  // kwok nodes only this test's jobs select (label zenith.ai/e2e-node-prefix=<ns>).
  void CreateNodes(int n, int gpus) {
    nodes_prefix_ = ns_;
    auto r = Sh(std::string(ZENITH_SOURCE_DIR) + "/e2e/nodes.sh create " + std::to_string(n) +
                " --gpus " + std::to_string(gpus) + " --prefix " + ns_ +
                " --wait 60 --kubeconfig " + Quote(Kubeconfig()));
    ASSERT_EQ(r.rc, 0) << r.out;
  }

  OperatorProcess& StartOperator(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--namespace=" + ns_, "--leader-election.namespace=" + ns_,
                                     "--leader-election.lease-duration=3s", "--workers=4"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string log = std::string(ZENITH_TEST_LOG_DIR) + "/" + ns_ + "-" +
                      std::to_string(operators_.size()) + ".log";
    operators_.push_back(std::make_unique<OperatorProcess>(args, log));
    operators_.back()->Start();
    return *operators_.back();
  }

  // Applies a manifest (YAML text) in the test's namespace.
  void Apply(const std::string& yaml) {
    auto r = Sh("printf '%s' " + Quote(yaml) + " | kubectl --kubeconfig=" + Quote(Kubeconfig()) +
                " -n " + ns_ + " apply -f -");
    ASSERT_EQ(r.rc, 0) << r.out;
  }
  void ApplyFile(const std::string& path) {
    auto r = Kubectl("-n " + ns_ + " apply -f " + Quote(path));
    ASSERT_EQ(r.rc, 0) << r.out;
  }

  std::string Get(const std::string& what, const std::string& jsonpath) {
    return Trim(
        Kubectl("-n " + ns_ + " get " + what + " -o jsonpath=" + Quote("{" + jsonpath + "}")).out);
  }
  std::string Phase(const std::string& job) { return Get("zj/" + job, ".status.phase"); }

  bool WaitPhase(const std::string& job, const std::string& phase,
                 std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    return WaitFor([&] { return Phase(job) == phase; }, timeout);
  }
  int CountPods(const std::string& job) {
    auto r = Kubectl("-n " + ns_ + " get pods -l zenith.ai/job=" + job + " -o name");
    int n = 0;
    for (char c : r.out) n += c == '\n';
    return n;
  }
  std::string OperatorLogs() {
    std::string out;
    for (auto& o : operators_) {
      const std::string log = o->Log();
      if (!log.empty()) {
        out += log;
        continue;
      }
      // An empty log says the process never got as far as its first line: say whether it lives.
      const int pid = o->pid();
      const bool alive = o->Alive();
      out += "(operator " + std::to_string(pid) + ": empty log, " +
             (alive ? "still running" : "exited") + ")\n";
    }
    return out;
  }

  std::string ns_;
  std::string nodes_prefix_;
  std::vector<std::unique_ptr<OperatorProcess>> operators_;
};

// A small job pinned to this test's nodes; `annotations` go on the job (YAML lines, indented 4).
inline std::string JobYaml(const std::string& name, const std::string& ns, int replicas, int gpus,
                           const std::string& annotations = "",
                           const std::string& run_policy = "") {
  std::string y =
      "apiVersion: zenith.ai/v1alpha1\nkind: ZenithJob\nmetadata:\n  name: " + name + "\n";
  if (!annotations.empty()) y += "  annotations:\n" + annotations;
  y += "spec:\n  replicas: " + std::to_string(replicas) +
       "\n  gpusPerReplica: " + std::to_string(gpus) + "\n";
  y +=
      "  runPolicy:\n" + (run_policy.empty() ? std::string("    backoffSeconds: 1\n") : run_policy);
  y += "  template:\n    spec:\n      nodeSelector:\n        zenith.ai/e2e-node-prefix: " + ns +
       "\n";
  y += "      containers:\n      - name: trainer\n        image: busybox:1.36\n";
  return y;
}

}  // namespace zenith::operator_::testing
