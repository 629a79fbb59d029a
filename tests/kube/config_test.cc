#include "zenith/kube/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace zenith::kube {
namespace {

namespace fs = std::filesystem;

const char kCa[] = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
const char kCert[] = "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n";
const char kKey[] = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";

std::string Base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += k[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += "=";
  }
  return out;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("zenith-kube-config-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string Write(const std::string& rel, const std::string& text) const {
    fs::path p = path_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

std::string InlineKubeconfig() {
  return "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
         "clusters:\n- name: c1\n  cluster:\n    server: https://127.0.0.1:6443/\n"
         "    certificate-authority-data: " +
         Base64(kCa) +
         "\n"
         "users:\n- name: admin\n  user:\n"
         "    client-certificate-data: " +
         Base64(kCert) +
         "\n"
         "    client-key-data: " +
         Base64(kKey) +
         "\n"
         "- name: bot\n  user:\n    token: abc.def\n"
         "contexts:\n- name: dev\n  context:\n    cluster: c1\n    user: admin\n    namespace: "
         "team\n"
         "- name: robot\n  context:\n    cluster: c1\n    user: bot\n";
}

TEST(KubeconfigTest, InlineDataOfTheCurrentContext) {
  auto c = ParseKubeconfig(InlineKubeconfig(), "/x/config");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://127.0.0.1:6443");
  EXPECT_EQ(c->ca_pem, kCa);
  EXPECT_EQ(c->client_cert_pem, kCert);
  EXPECT_EQ(c->client_key_pem, kKey);
  EXPECT_EQ(c->default_namespace, "team");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  EXPECT_NE(c->source.find("/x/config"), std::string::npos);
}

TEST(KubeconfigTest, NamedContextWithToken) {
  auto c = ParseKubeconfig(InlineKubeconfig(), "/x/config", "robot");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->token, "abc.def");
  EXPECT_TRUE(c->client_cert_pem.empty());
  EXPECT_EQ(c->default_namespace, "default");
}

TEST(KubeconfigTest, FilesResolveRelativeToTheKubeconfig) {
  TempDir dir;
  dir.Write("pki/ca.crt", kCa);
  dir.Write("pki/admin.crt", kCert);
  std::string key = dir.Write("pki/admin.key", kKey);
  dir.Write("token", "tok\n");
  std::string path = dir.Write("kubeconfig",
                               "current-context: a\n"
                               "clusters:\n- name: c\n  cluster:\n    server: https://h:1\n"
                               "    certificate-authority: pki/ca.crt\n"
                               "    insecure-skip-tls-verify: true\n"
                               "users:\n- name: u\n  user:\n    client-certificate: pki/admin.crt\n"
                               "    client-key: " +
                                   key +
                                   "\n    tokenFile: token\n"
                                   "contexts:\n- name: a\n  context: {cluster: c, user: u}\n");
  auto c = LoadKubeconfig(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ca_pem, kCa);
  EXPECT_EQ(c->client_cert_pem, kCert);
  EXPECT_EQ(c->client_key_pem, kKey);
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->token_file, (dir.path() / "token").string());
}

void ExpectError(const std::string& yaml, const std::string& needle) {
  auto c = ParseKubeconfig(yaml, "/etc/kc");
  ASSERT_FALSE(c.ok()) << "expected an error mentioning " << needle;
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << c.status();
  EXPECT_NE(c.status().message().find(needle), std::string::npos) << c.status();
  EXPECT_NE(c.status().message().find("/etc/kc"), std::string::npos) << c.status();
}

TEST(KubeconfigTest, BadInputNamesTheFileAndField) {
  std::string good = InlineKubeconfig();
  std::string bad_b64 = good;
  bad_b64.replace(bad_b64.find("client-key-data: ") + 17, 4, "ab*c");
  ExpectError(bad_b64, "users[name=admin].user.client-key-data: not valid base64");

  std::string not_pem = good;
  size_t at = not_pem.find("certificate-authority-data: ") + 28;
  not_pem.replace(at, not_pem.find('\n', at) - at, Base64("hello"));
  ExpectError(not_pem, "clusters[name=c1].cluster.certificate-authority-data");

  ExpectError("current-context: dev\nclusters: []\ncontexts: []\n",
              "contexts: no entry named 'dev'");
  ExpectError("clusters: []\n", "current-context");
  ExpectError(
      "current-context: a\ncontexts:\n- name: a\n  context: {cluster: x}\nclusters:\n"
      "- name: x\n  cluster: {server: ftp://h}\n",
      "clusters[name=x].cluster.server");
  ExpectError(
      "current-context: a\ncontexts:\n- name: a\n  context: {cluster: x}\nclusters:\n"
      "- name: x\n  cluster: {server: 'https://h', certificate-authority: /nope/ca.crt}\n",
      "clusters[name=x].cluster.certificate-authority: cannot read file /nope/ca.crt");
  ExpectError(
      "current-context: a\ncontexts:\n- name: a\n  context: {cluster: x}\nclusters:\n"
      "- name: x\n  cluster: {server: 'https://h', insecure-skip-tls-verify: maybe}\n",
      "insecure-skip-tls-verify");
  ExpectError("key: [unclosed\n", "/etc/kc:");
}

TEST(KubeconfigTest, MissingFileIsNotFound) {
  auto c = LoadKubeconfig("/nonexistent/kubeconfig");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("/nonexistent/kubeconfig"), std::string::npos);
}

TEST(InClusterConfigTest, ReadsTheServiceAccountMountUnderTheRoot) {
  TempDir dir;
  dir.Write("var/run/secrets/kubernetes.io/serviceaccount/token", "sa-token\n");
  dir.Write("var/run/secrets/kubernetes.io/serviceaccount/ca.crt", kCa);
  dir.Write("var/run/secrets/kubernetes.io/serviceaccount/namespace", "zenith-system\n");
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"}};
  InClusterOptions o;
  o.root = dir.path().string();
  o.getenv = [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  auto c = LoadInClusterConfig(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://10.0.0.1:443");
  EXPECT_EQ(c->ca_pem, kCa);
  EXPECT_NE(c->token_file.find("serviceaccount/token"), std::string::npos);
  EXPECT_EQ(c->default_namespace, "zenith-system");

  env["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  c = LoadInClusterConfig(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://[fd00::1]:443");

  env.clear();
  c = LoadInClusterConfig(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("KUBERNETES_SERVICE_HOST"), std::string::npos);
}

TEST(InClusterConfigTest, MissingTokenNamesThePath) {
  TempDir dir;
  InClusterOptions o;
  o.root = dir.path().string();
  o.getenv = [](const std::string&) -> std::optional<std::string> { return "1"; };
  auto c = LoadInClusterConfig(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("serviceaccount/token"), std::string::npos) << c.status();
}

}  // namespace
}  // namespace zenith::kube
