#include "zenith/kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace zenith::kube {
namespace {

namespace fs = std::filesystem;

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Standard base64 (RFC 4648), whitespace ignored; nullopt on any other bad character.
std::optional<std::string> DecodeBase64(const std::string& text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    int v = value(c);
    if (v < 0 || padding) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// Reads one string field of a kubeconfig map, naming it in errors.
class Section {
 public:
  Section(const YAML::Node& node, std::string where, const std::string& file)
      : node_(node), where_(std::move(where)), file_(file) {}

  Status Error(const std::string& field, const std::string& what) const {
    return InvalidArgumentError("kubeconfig " + file_ + ": " + where_ + "." + field + ": " + what);
  }

  Result<std::string> String(const std::string& field) const {
    YAML::Node v = node_[field];
    if (!v || v.IsNull()) return std::string();
    if (!v.IsScalar()) return Error(field, "expected a string");
    return v.as<std::string>();
  }

  Result<bool> Bool(const std::string& field) const {
    YAML::Node v = node_[field];
    if (!v || v.IsNull()) return false;
    try {
      return v.as<bool>();
    } catch (const YAML::Exception&) {
      return Error(field, "expected true or false, got '" + v.Scalar() + "'");
    }
  }

  // A PEM from `<field>-data` (base64) or from the file named by `<field>`.
  Result<std::string> Pem(const std::string& file_field, const std::string& data_field,
                          const fs::path& base_dir) const {
    ZENITH_ASSIGN_OR_RETURN(std::string data, String(data_field));
    if (!data.empty()) {
      auto decoded = DecodeBase64(data);
      if (!decoded) return Error(data_field, "not valid base64");
      if (decoded->find("-----BEGIN") == std::string::npos) {
        return Error(data_field, "decoded data is not PEM (no -----BEGIN line)");
      }
      return *decoded;
    }
    ZENITH_ASSIGN_OR_RETURN(std::string file, String(file_field));
    if (file.empty()) return std::string();
    fs::path p(file);
    if (p.is_relative()) p = base_dir / p;
    auto content = ReadWholeFile(p.string());
    if (!content.ok()) return Error(file_field, "cannot read file " + p.string());
    if (content->find("-----BEGIN") == std::string::npos) {
      return Error(file_field, "file " + p.string() + " is not PEM (no -----BEGIN line)");
    }
    return *content;
  }

 private:
  YAML::Node node_;
  std::string where_;
  const std::string& file_;
};

// Finds the entry named `name` in a list like clusters: [{name: x, cluster: {...}}].
Result<YAML::Node> FindNamed(const YAML::Node& root, const std::string& list,
                             const std::string& inner, const std::string& name,
                             const std::string& file) {
  YAML::Node seq = root[list];
  if (!seq || !seq.IsSequence()) {
    return InvalidArgumentError("kubeconfig " + file + ": " + list + ": missing or not a list");
  }
  for (const auto& entry : seq) {
    if (entry["name"] && entry["name"].IsScalar() && entry["name"].as<std::string>() == name) {
      YAML::Node body = entry[inner];
      if (!body || !body.IsMap()) {
        return InvalidArgumentError("kubeconfig " + file + ": " + list + "[name=" + name + "]." +
                                    inner + ": missing or not a map");
      }
      return body;
    }
  }
  return InvalidArgumentError("kubeconfig " + file + ": " + list + ": no entry named '" + name +
                              "'");
}

Result<RestConfig> ParseKubeconfigNode(const YAML::Node& root, const std::string& path,
                                       const std::string& wanted_context) {
  const fs::path base_dir = fs::path(path).parent_path();
  if (!root.IsMap()) return InvalidArgumentError("kubeconfig " + path + ": not a YAML map");
  std::string context = wanted_context;
  if (context.empty()) {
    YAML::Node cc = root["current-context"];
    if (!cc || !cc.IsScalar() || cc.as<std::string>().empty()) {
      return InvalidArgumentError("kubeconfig " + path +
                                  ": current-context: not set and no context was given");
    }
    context = cc.as<std::string>();
  }
  ZENITH_ASSIGN_OR_RETURN(YAML::Node ctx_node,
                          FindNamed(root, "contexts", "context", context, path));
  Section ctx(ctx_node, "contexts[name=" + context + "].context", path);
  ZENITH_ASSIGN_OR_RETURN(std::string cluster_name, ctx.String("cluster"));
  if (cluster_name.empty()) return ctx.Error("cluster", "missing");
  ZENITH_ASSIGN_OR_RETURN(std::string user_name, ctx.String("user"));
  ZENITH_ASSIGN_OR_RETURN(std::string ns, ctx.String("namespace"));

  RestConfig config;
  config.source = "kubeconfig " + path + " (context " + context + ")";
  if (!ns.empty()) config.default_namespace = ns;

  ZENITH_ASSIGN_OR_RETURN(YAML::Node cl_node,
                          FindNamed(root, "clusters", "cluster", cluster_name, path));
  Section cluster(cl_node, "clusters[name=" + cluster_name + "].cluster", path);
  ZENITH_ASSIGN_OR_RETURN(config.server, cluster.String("server"));
  if (config.server.empty()) return cluster.Error("server", "missing");
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return cluster.Error("server", "'" + config.server + "' is not an http(s) URL");
  }
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  ZENITH_ASSIGN_OR_RETURN(
      config.ca_pem, cluster.Pem("certificate-authority", "certificate-authority-data", base_dir));
  ZENITH_ASSIGN_OR_RETURN(config.insecure_skip_tls_verify,
                          cluster.Bool("insecure-skip-tls-verify"));

  if (!user_name.empty()) {
    ZENITH_ASSIGN_OR_RETURN(YAML::Node us_node, FindNamed(root, "users", "user", user_name, path));
    Section user(us_node, "users[name=" + user_name + "].user", path);
    ZENITH_ASSIGN_OR_RETURN(config.client_cert_pem,
                            user.Pem("client-certificate", "client-certificate-data", base_dir));
    ZENITH_ASSIGN_OR_RETURN(config.client_key_pem,
                            user.Pem("client-key", "client-key-data", base_dir));
    if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
      return user.Error(config.client_cert_pem.empty() ? "client-certificate" : "client-key",
                        "missing (a client certificate and its key come together)");
    }
    ZENITH_ASSIGN_OR_RETURN(config.token, user.String("token"));
    ZENITH_ASSIGN_OR_RETURN(std::string token_file, user.String("tokenFile"));
    if (!token_file.empty()) {
      fs::path p(token_file);
      if (p.is_relative()) p = base_dir / p;
      if (!fs::exists(p)) return user.Error("tokenFile", "file " + p.string() + " does not exist");
      config.token_file = p.string();
    }
  }
  return config;
}

}  // namespace

Result<RestConfig> ParseKubeconfig(const std::string& text, const std::string& path,
                                   const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError("kubeconfig " + path + ":" + std::to_string(e.mark.line + 1) + ":" +
                                std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  try {
    return ParseKubeconfigNode(root, path, context);
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError("kubeconfig " + path + ":" + std::to_string(e.mark.line + 1) +
                                ": " + e.msg);
  }
}

Result<RestConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  auto text = ReadWholeFile(path);
  if (!text.ok()) return NotFoundError("kubeconfig " + path + ": cannot read the file");
  return ParseKubeconfig(*text, path, context);
}

Result<RestConfig> LoadInClusterConfig(const InClusterOptions& options) {
  auto getenv = [&](const std::string& name) -> std::string {
    if (options.getenv) return options.getenv(name).value_or("");
    const char* v = std::getenv(name.c_str());
    return v ? v : "";
  };
  const std::string host = getenv("KUBERNETES_SERVICE_HOST");
  const std::string port = getenv("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return FailedPreconditionError(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
        "(not running in a pod?)");
  }
  const fs::path dir = fs::path(options.root) / "var/run/secrets/kubernetes.io/serviceaccount";
  RestConfig config;
  config.source = "in-cluster (" + dir.string() + ")";
  const bool ipv6 = host.find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + host + "]" : host) + ":" + port;
  const std::string token_path = (dir / "token").string();
  auto token = ReadWholeFile(token_path);
  if (!token.ok()) return NotFoundError("in-cluster config: cannot read token " + token_path);
  config.token_file = token_path;
  const std::string ca_path = (dir / "ca.crt").string();
  auto ca = ReadWholeFile(ca_path);
  if (!ca.ok()) return NotFoundError("in-cluster config: cannot read CA " + ca_path);
  if (ca->find("-----BEGIN") == std::string::npos) {
    return InvalidArgumentError("in-cluster config: " + ca_path + " is not PEM");
  }
  config.ca_pem = *ca;
  auto ns = ReadWholeFile((dir / "namespace").string());
  if (ns.ok()) {
    std::string n = *ns;
    n.erase(n.find_last_not_of(" \n\r\t") + 1);
    if (!n.empty()) config.default_namespace = n;
  }
  return config;
}

Result<RestConfig> LoadDefaultConfig() {
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string first(env);
    first = first.substr(0, first.find(':'));
    return LoadKubeconfig(first);
  }
  if (std::getenv("KUBERNETES_SERVICE_HOST")) return LoadInClusterConfig();
  const char* home = std::getenv("HOME");
  return LoadKubeconfig(std::string(home ? home : "") + "/.kube/config");
}

}  // namespace zenith::kube
