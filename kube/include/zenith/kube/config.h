// Where the API server is and how to prove who we are: a kubeconfig file (its current context)
// or the in-cluster service-account mount. Loading never talks to the network; every error
// names the file and the field that was wrong, so a bad kubeconfig is fixed without guessing.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "zenith/common/status.h"

namespace zenith::kube {

// Everything a client needs to reach one API server. PEM blocks are held in memory whether
// they came from a file or from inline base64 data.
struct RestConfig {
  std::string server;  // "https://127.0.0.1:6443"
  std::string ca_pem;  // empty: the system trust store
  bool insecure_skip_tls_verify = false;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string token;       // bearer token, fixed
  std::string token_file;  // bearer token re-read from this file (rotated SA tokens)
  std::string default_namespace = "default";
  std::string source;  // "kubeconfig /path (context x)" or "in-cluster", for messages
};

// Loads `path` and resolves `context` (empty: the file's current-context). Relative file
// references are resolved against the kubeconfig's directory, as kubectl does.
Result<RestConfig> LoadKubeconfig(const std::string& path, const std::string& context = "");

// Parses kubeconfig text; `path` is used for messages and to resolve relative files.
Result<RestConfig> ParseKubeconfig(const std::string& text, const std::string& path,
                                   const std::string& context = "");

struct InClusterOptions {
  // Filesystem root under which /var/run/secrets/kubernetes.io/serviceaccount lives.
  std::string root = "/";
  // Environment lookup; null: the process environment.
  std::function<std::optional<std::string>(const std::string&)> getenv;
};

Result<RestConfig> LoadInClusterConfig(const InClusterOptions& options = {});

// $KUBECONFIG (first entry), then in-cluster, then ~/.kube/config.
Result<RestConfig> LoadDefaultConfig();

}  // namespace zenith::kube
