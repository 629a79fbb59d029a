#include "zenith/common/status.h"

#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace zenith {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kCancelled:
      return "CANCELLED";
    case StatusCode::kUnknown:
      return "UNKNOWN";
    case StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case StatusCode::kNotFound:
      return "NOT_FOUND";
    case StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case StatusCode::kAborted:
      return "ABORTED";
    case StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case StatusCode::kInternal:
      return "INTERNAL";
    case StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case StatusCode::kDataLoss:
      return "DATA_LOSS";
    case StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string message(context);
  message += ": ";
  message += message_;
  return Status(code_, std::move(message));
}

std::ostream& operator<<(std::ostream& os, const Status& status) { return os << status.ToString(); }

#define ZENITH_DEFINE_ERROR(Name, Code) \
  Status Name(std::string message) { return Status(StatusCode::Code, std::move(message)); }
ZENITH_DEFINE_ERROR(CancelledError, kCancelled)
ZENITH_DEFINE_ERROR(UnknownError, kUnknown)
ZENITH_DEFINE_ERROR(InvalidArgumentError, kInvalidArgument)
ZENITH_DEFINE_ERROR(DeadlineExceededError, kDeadlineExceeded)
ZENITH_DEFINE_ERROR(NotFoundError, kNotFound)
ZENITH_DEFINE_ERROR(AlreadyExistsError, kAlreadyExists)
ZENITH_DEFINE_ERROR(PermissionDeniedError, kPermissionDenied)
ZENITH_DEFINE_ERROR(ResourceExhaustedError, kResourceExhausted)
ZENITH_DEFINE_ERROR(FailedPreconditionError, kFailedPrecondition)
ZENITH_DEFINE_ERROR(AbortedError, kAborted)
ZENITH_DEFINE_ERROR(OutOfRangeError, kOutOfRange)
ZENITH_DEFINE_ERROR(UnimplementedError, kUnimplemented)
ZENITH_DEFINE_ERROR(InternalError, kInternal)
ZENITH_DEFINE_ERROR(UnavailableError, kUnavailable)
ZENITH_DEFINE_ERROR(DataLossError, kDataLoss)
ZENITH_DEFINE_ERROR(UnauthenticatedError, kUnauthenticated)
#undef ZENITH_DEFINE_ERROR

std::string ErrnoMessage(int errnum) { return std::generic_category().message(errnum); }

namespace internal {
void DieOnBadResultAccess(const Status& status) {
  std::fprintf(stderr, "zenith: value() of a Result holding an error: %s\n",
               status.ToString().c_str());
  std::abort();
}
}  // namespace internal

}  // namespace zenith
