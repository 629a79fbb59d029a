// Who is calling and may they: the API authenticates a bearer token with a TokenReview and
// authorizes each request with a SubjectAccessReview, so Kubernetes RBAC alone decides what a
// caller may do through Zenith's API. The interface lets the service be tested with a fake.
#pragma once

#include <string>
#include <vector>

#include "zenith/common/status.h"
#include "zenith/kube/client.h"

namespace zenith::operator_::api {

struct Caller {
  std::string user;
  std::string uid;
  std::vector<std::string> groups;
};

// What is asked: the verb on a resource (group, plural) in a namespace ("" = cluster-wide).
struct Access {
  std::string verb;
  std::string group;
  std::string resource;
  std::string ns;

  // "create zenithjobs.zenith.ai in namespace team-a", for messages.
  std::string Describe() const;
};

class AccessReviewer {
 public:
  virtual ~AccessReviewer() = default;
  // UNAUTHENTICATED when the token is empty, invalid or expired.
  virtual Result<Caller> Authenticate(const std::string& token) = 0;
  // PERMISSION_DENIED naming the user, verb and resource when RBAC says no.
  virtual Status Authorize(const Caller& caller, const Access& access) = 0;
};

// Reviews through the API server (authentication.k8s.io and authorization.k8s.io, v1).
class KubeAccessReviewer : public AccessReviewer {
 public:
  explicit KubeAccessReviewer(kube::Client& client) : client_(client) {}
  Result<Caller> Authenticate(const std::string& token) override;
  Status Authorize(const Caller& caller, const Access& access) override;

 private:
  kube::Client& client_;
};

}  // namespace zenith::operator_::api
