// Turns an API server's failure (an HTTP code and a metav1.Status body) into a zenith Status
// that keeps the server's reason and message, and reads them back out. The HTTP code and the
// reason travel in the Status message as a trailing "[HTTP 409 Conflict]" tag, so they survive
// WithContext() and plain Status copies.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "zenith/common/clock.h"
#include "zenith/common/status.h"

namespace zenith::kube {

struct ApiError {
  int http_code = 0;   // 0: the request never got an HTTP answer (connection refused, reset)
  std::string reason;  // metav1.Status reason: NotFound, AlreadyExists, Conflict, Invalid, ...
  std::string message;
  struct Cause {
    std::string field;
    std::string reason;
    std::string message;
  };
  std::vector<Cause> causes;
  std::optional<common::Duration> retry_after;  // from Retry-After or details.retryAfterSeconds
};

// Parses a response body (usually a metav1.Status) into an ApiError; a body that is not JSON
// becomes the message.
ApiError ParseApiError(int http_code, const std::string& body,
                       std::optional<std::string> retry_after_header = std::nullopt);

// The StatusCode for an API error: 404 NOT_FOUND, 409 ALREADY_EXISTS or ABORTED (by reason),
// 403 PERMISSION_DENIED, 401 UNAUTHENTICATED, 400/422 INVALID_ARGUMENT, 410 OUT_OF_RANGE
// (Expired/Gone), 429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED, 5xx INTERNAL.
StatusCode StatusCodeForApiError(const ApiError& error);

// "<what>: <message> (field a: msg; field b: msg) [HTTP 422 Invalid]".
Status ToStatus(const ApiError& error, const std::string& what);

// The tag read back from a Status made by ToStatus; nullopt for other statuses.
struct ApiErrorTag {
  int http_code = 0;
  std::string reason;
};
std::optional<ApiErrorTag> ApiTagOf(const Status& status);
// "NotFound", "Conflict", ...; empty when the status did not come from the API server.
std::string ApiReason(const Status& status);
// 404, 409, ...; 0 when the status did not come from an HTTP answer.
int ApiHttpCode(const Status& status);

inline bool IsNotFound(const Status& s) { return ApiHttpCode(s) == 404; }
inline bool IsAlreadyExists(const Status& s) { return ApiReason(s) == "AlreadyExists"; }
inline bool IsConflict(const Status& s) { return ApiHttpCode(s) == 409 && !IsAlreadyExists(s); }
inline bool IsGone(const Status& s) { return ApiHttpCode(s) == 410; }
inline bool IsForbidden(const Status& s) { return ApiHttpCode(s) == 403; }

}  // namespace zenith::kube
