// Errors as values: a Status carries a code and a message a user can act on, and Result<T>
// carries either a value or the Status that explains why there is none. Messages name the
// object, field, file or offset; nothing here ever throws.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace zenith {

enum class StatusCode {
  kOk = 0,
  kCancelled,
  kUnknown,
  kInvalidArgument,
  kDeadlineExceeded,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kResourceExhausted,
  kFailedPrecondition,
  kAborted,  // includes optimistic-concurrency conflicts (HTTP 409)
  kOutOfRange,
  kUnimplemented,
  kInternal,
  kUnavailable,
  kDataLoss,
  kUnauthenticated,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "NOT_FOUND: configmap default/x not found", or "OK".
  std::string ToString() const;

  // The same error with `context` in front: "loading config: <message>".
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);

Status CancelledError(std::string message);
Status UnknownError(std::string message);
Status InvalidArgumentError(std::string message);
Status DeadlineExceededError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status PermissionDeniedError(std::string message);
Status ResourceExhaustedError(std::string message);
Status FailedPreconditionError(std::string message);
Status AbortedError(std::string message);
Status OutOfRangeError(std::string message);
Status UnimplementedError(std::string message);
Status InternalError(std::string message);
Status UnavailableError(std::string message);
Status DataLossError(std::string message);
Status UnauthenticatedError(std::string message);

// The text of an errno value ("No such file or directory"); thread-safe, unlike strerror.
std::string ErrnoMessage(int errnum);

// A value or the error explaining its absence. Accessing value() of an error is a bug and
// aborts with the error's text, so it is found in the first test that hits it.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(const T& value) : data_(value) {}            // NOLINT: implicit by design
  Result(T&& value) : data_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(data_).ok()) data_ = InternalError("Result built from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }

  const T& value() const& {
    CheckOk();
    return std::get<T>(data_);
  }
  T& value() & {
    CheckOk();
    return std::get<T>(data_);
  }
  T&& value() && {
    CheckOk();
    return std::get<T>(std::move(data_));
  }
  T value_or(T fallback) const { return ok() ? std::get<T>(data_) : std::move(fallback); }

  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  void CheckOk() const;
  std::variant<T, Status> data_;
};

namespace internal {
[[noreturn]] void DieOnBadResultAccess(const Status& status);
}  // namespace internal

template <typename T>
void Result<T>::CheckOk() const {
  if (!ok()) internal::DieOnBadResultAccess(std::get<Status>(data_));
}

}  // namespace zenith

#define ZENITH_STATUS_CONCAT_INNER(a, b) a##b
#define ZENITH_STATUS_CONCAT(a, b) ZENITH_STATUS_CONCAT_INNER(a, b)

// Returns the error of a Status-valued expression from the enclosing function.
#define ZENITH_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::zenith::Status zenith_status_ = (expr);        \
    if (!zenith_status_.ok()) return zenith_status_; \
  } while (0)

// `ZENITH_ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a Result or returns its error.
#define ZENITH_ASSIGN_OR_RETURN(lhs, expr) \
  ZENITH_ASSIGN_OR_RETURN_IMPL(ZENITH_STATUS_CONCAT(zenith_result_, __LINE__), lhs, expr)
// `result` names a fresh variable and `lhs` is a declaration: neither can be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define ZENITH_ASSIGN_OR_RETURN_IMPL(result, lhs, expr) \
  auto result = (expr);                                 \
  if (!result.ok()) return result.status();             \
  lhs = std::move(result).value()
// NOLINTEND(bugprone-macro-parentheses)
