#include "zenith/kube/api_error.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

namespace zenith::kube {
namespace {

std::string DefaultReason(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "";
  }
}

std::string StringField(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

ApiError ParseApiError(int http_code, const std::string& body,
                       std::optional<std::string> retry_after_header) {
  ApiError e;
  e.http_code = http_code;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && StringField(j, "kind") == "Status") {
    e.reason = StringField(j, "reason");
    e.message = StringField(j, "message");
    if (auto c = j.find("code"); c != j.end() && c->is_number_integer() && http_code == 0) {
      e.http_code = c->get<int>();
    }
    if (auto d = j.find("details"); d != j.end() && d->is_object()) {
      if (auto causes = d->find("causes"); causes != d->end() && causes->is_array()) {
        for (const auto& c : *causes) {
          if (!c.is_object()) continue;
          e.causes.push_back(
              {StringField(c, "field"), StringField(c, "reason"), StringField(c, "message")});
        }
      }
      if (auto r = d->find("retryAfterSeconds"); r != d->end() && r->is_number_integer()) {
        e.retry_after = std::chrono::seconds(r->get<int64_t>());
      }
    }
  } else {
    e.message = body.size() > 512 ? body.substr(0, 512) + "..." : body;
    while (!e.message.empty() && (e.message.back() == '\n' || e.message.back() == ' ')) {
      e.message.pop_back();
    }
  }
  if (e.reason.empty()) e.reason = DefaultReason(e.http_code);
  if (retry_after_header && !retry_after_header->empty()) {
    char* end = nullptr;
    long secs = std::strtol(retry_after_header->c_str(), &end, 10);
    if (end != retry_after_header->c_str() && secs >= 0) e.retry_after = std::chrono::seconds(secs);
  }
  return e;
}

StatusCode StatusCodeForApiError(const ApiError& e) {
  switch (e.http_code) {
    case 0:
      return StatusCode::kUnavailable;
    case 400:
    case 406:
    case 413:
    case 415:
    case 422:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 405:
      return StatusCode::kUnimplemented;
    case 409:
      return e.reason == "AlreadyExists" ? StatusCode::kAlreadyExists : StatusCode::kAborted;
    case 410:
      return StatusCode::kOutOfRange;
    case 429:
      return StatusCode::kResourceExhausted;
    case 502:
    case 503:
      return StatusCode::kUnavailable;
    case 504:
      return StatusCode::kDeadlineExceeded;
    default:
      if (e.http_code >= 500) return StatusCode::kInternal;
      return StatusCode::kUnknown;
  }
}

Status ToStatus(const ApiError& e, const std::string& what) {
  std::string msg = what;
  if (!e.message.empty()) msg += ": " + e.message;
  if (!e.causes.empty()) {
    msg += " (";
    for (size_t i = 0; i < e.causes.size(); ++i) {
      if (i) msg += "; ";
      const auto& c = e.causes[i];
      msg += c.field.empty() ? std::string("cause") : "field " + c.field;
      msg += ": " + (c.message.empty() ? c.reason : c.message);
    }
    msg += ")";
  }
  msg += " [HTTP " + std::to_string(e.http_code) + " " + e.reason + "]";
  return Status(StatusCodeForApiError(e), std::move(msg));
}

std::optional<ApiErrorTag> ApiTagOf(const Status& status) {
  const std::string& m = status.message();
  if (m.empty() || m.back() != ']') return std::nullopt;
  size_t open = m.rfind("[HTTP ");
  if (open == std::string::npos) return std::nullopt;
  std::string inner = m.substr(open + 6, m.size() - open - 7);
  size_t space = inner.find(' ');
  ApiErrorTag tag;
  char* end = nullptr;
  std::string code = inner.substr(0, space);
  tag.http_code = static_cast<int>(std::strtol(code.c_str(), &end, 10));
  if (end == code.c_str() || *end != '\0') return std::nullopt;
  if (space != std::string::npos) tag.reason = inner.substr(space + 1);
  return tag;
}

std::string ApiReason(const Status& status) {
  auto tag = ApiTagOf(status);
  return tag ? tag->reason : std::string();
}

int ApiHttpCode(const Status& status) {
  auto tag = ApiTagOf(status);
  return tag ? tag->http_code : 0;
}

}  // namespace zenith::kube
