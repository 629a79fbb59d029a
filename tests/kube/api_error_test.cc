#include "zenith/kube/api_error.h"

#include <gtest/gtest.h>

namespace zenith::kube {
namespace {

std::string StatusBody(int code, const std::string& reason, const std::string& message,
                       const std::string& details = "{}") {
  return R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" +
         message + R"(","reason":")" + reason + R"(","details":)" + details + R"(,"code":)" +
         std::to_string(code) + "}";
}

TEST(ApiErrorTest, NotFoundKeepsReasonAndMessage) {
  Status s =
      ToStatus(ParseApiError(404, StatusBody(404, "NotFound", R"(configmaps \"x\" not found)")),
               "get configmaps default/x");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(),
            "get configmaps default/x: configmaps \"x\" not found [HTTP 404 NotFound]");
  EXPECT_EQ(ApiReason(s), "NotFound");
  EXPECT_EQ(ApiHttpCode(s), 404);
  EXPECT_TRUE(IsNotFound(s));
  // The tag survives context added later.
  EXPECT_EQ(ApiReason(s.WithContext("reconciling")), "NotFound");
}

TEST(ApiErrorTest, ConflictAndAlreadyExistsAreTold) {
  Status exists =
      ToStatus(ParseApiError(409, StatusBody(409, "AlreadyExists", "exists")), "create");
  EXPECT_EQ(exists.code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(IsAlreadyExists(exists));
  EXPECT_FALSE(IsConflict(exists));
  Status conflict = ToStatus(
      ParseApiError(409, StatusBody(409, "Conflict", "the object has been modified")), "update");
  EXPECT_EQ(conflict.code(), StatusCode::kAborted);
  EXPECT_TRUE(IsConflict(conflict));
}

TEST(ApiErrorTest, InvalidListsTheFieldCauses) {
  std::string details =
      R"({"name":"x","kind":"ConfigMap","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \"A\": must be lower case","field":"metadata.name"},{"reason":"FieldValueRequired","message":"Required value","field":"data.k"}]})";
  Status s = ToStatus(
      ParseApiError(422, StatusBody(422, "Invalid", "ConfigMap \\\"A\\\" is invalid", details)),
      "create configmaps default/A");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("field metadata.name: Invalid value: \"A\": must be lower case"),
            std::string::npos)
      << s;
  EXPECT_NE(s.message().find("field data.k: Required value"), std::string::npos) << s;
  EXPECT_EQ(ApiReason(s), "Invalid");
}

TEST(ApiErrorTest, CodesMapToStatusCodes) {
  struct Case {
    int http;
    std::string reason;
    StatusCode code;
  };
  for (const Case& c : std::vector<Case>{{401, "Unauthorized", StatusCode::kUnauthenticated},
                                         {403, "Forbidden", StatusCode::kPermissionDenied},
                                         {410, "Expired", StatusCode::kOutOfRange},
                                         {429, "TooManyRequests", StatusCode::kResourceExhausted},
                                         {500, "InternalError", StatusCode::kInternal},
                                         {503, "ServiceUnavailable", StatusCode::kUnavailable},
                                         {504, "Timeout", StatusCode::kDeadlineExceeded},
                                         {400, "BadRequest", StatusCode::kInvalidArgument}}) {
    Status s = ToStatus(ParseApiError(c.http, StatusBody(c.http, c.reason, "m")), "op");
    EXPECT_EQ(s.code(), c.code) << c.http;
    EXPECT_EQ(ApiHttpCode(s), c.http);
    EXPECT_EQ(ApiReason(s), c.reason);
  }
}

TEST(ApiErrorTest, RetryAfterFromHeaderOrDetails) {
  ApiError e = ParseApiError(
      429, StatusBody(429, "TooManyRequests", "slow down", R"({"retryAfterSeconds":3})"));
  ASSERT_TRUE(e.retry_after);
  EXPECT_EQ(*e.retry_after, std::chrono::seconds(3));
  e = ParseApiError(503, "busy", std::string("7"));
  ASSERT_TRUE(e.retry_after);
  EXPECT_EQ(*e.retry_after, std::chrono::seconds(7));
}

TEST(ApiErrorTest, NonJsonBodyBecomesTheMessage) {
  Status s = ToStatus(ParseApiError(502, "Bad Gateway\n"), "get pods");
  EXPECT_EQ(s.message(), "get pods: Bad Gateway [HTTP 502 ]");
  EXPECT_EQ(ApiHttpCode(s), 502);
  EXPECT_EQ(ApiHttpCode(InternalError("no tag here")), 0);
  EXPECT_EQ(ApiReason(InternalError("odd [HTTP x]")), "");
}

TEST(ApiErrorTest, WatchErrorEventObjectCarriesItsCode) {
  ApiError e = ParseApiError(0, StatusBody(410, "Expired", "too old resource version: 1 (42)"));
  EXPECT_EQ(e.http_code, 410);
  EXPECT_TRUE(IsGone(ToStatus(e, "watch")));
}

}  // namespace
}  // namespace zenith::kube
