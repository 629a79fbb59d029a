#include "zenith/operator/api/access.h"

namespace zenith::operator_::api {

using Json = nlohmann::json;

std::string Access::Describe() const {
  std::string what = verb + " " + (group.empty() ? resource : resource + "." + group);
  return what + (ns.empty() ? " (cluster-wide)" : " in namespace " + ns);
}

Result<Caller> KubeAccessReviewer::Authenticate(const std::string& token) {
  if (token.empty()) {
    return UnauthenticatedError("no bearer token: send 'Authorization: Bearer <token>'");
  }
  const auto type = kube::resources::Custom("authentication.k8s.io", "v1", "tokenreviews",
                                            /*namespaced=*/false, "TokenReview");
  Json review = {
      {"apiVersion", type.ApiVersion()}, {"kind", "TokenReview"}, {"spec", {{"token", token}}}};
  ZENITH_ASSIGN_OR_RETURN(Json answer, client_.Create(type, "", review));
  const Json& status = answer.value("status", Json::object());
  if (!status.value("authenticated", false)) {
    std::string why = status.value("error", std::string());
    return UnauthenticatedError("the bearer token was not accepted" +
                                (why.empty() ? std::string() : ": " + why));
  }
  Caller caller;
  const Json& user = status.value("user", Json::object());
  caller.user = user.value("username", std::string());
  caller.uid = user.value("uid", std::string());
  caller.groups = user.value("groups", std::vector<std::string>());
  return caller;
}

Status KubeAccessReviewer::Authorize(const Caller& caller, const Access& access) {
  const auto type = kube::resources::Custom("authorization.k8s.io", "v1", "subjectaccessreviews",
                                            /*namespaced=*/false, "SubjectAccessReview");
  Json attributes = {{"verb", access.verb}, {"group", access.group}, {"resource", access.resource}};
  if (!access.ns.empty()) attributes["namespace"] = access.ns;
  Json review = {{"apiVersion", type.ApiVersion()},
                 {"kind", "SubjectAccessReview"},
                 {"spec",
                  {{"user", caller.user},
                   {"uid", caller.uid},
                   {"groups", caller.groups},
                   {"resourceAttributes", attributes}}}};
  ZENITH_ASSIGN_OR_RETURN(Json answer, client_.Create(type, "", review));
  const Json& status = answer.value("status", Json::object());
  if (status.value("allowed", false)) return Status::Ok();
  std::string reason = status.value("reason", std::string());
  return PermissionDeniedError("user " + caller.user + " may not " + access.Describe() +
                               (reason.empty() ? std::string() : ": " + reason));
}

}  // namespace zenith::operator_::api
