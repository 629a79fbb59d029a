#include "zenith/common/status.h"

#include <gtest/gtest.h>

#include <memory>

namespace zenith {
namespace {

Result<int> Half(int v) {
  if (v % 2) return InvalidArgumentError("value " + std::to_string(v) + " is odd");
  return v / 2;
}

Result<int> Quarter(int v) {
  ZENITH_ASSIGN_OR_RETURN(int h, Half(v));
  ZENITH_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckPositive(int v) {
  if (v <= 0) return OutOfRangeError("value must be positive");
  return Status::Ok();
}

Status CheckBoth(int a, int b) {
  ZENITH_RETURN_IF_ERROR(CheckPositive(a));
  ZENITH_RETURN_IF_ERROR(CheckPositive(b));
  return Status::Ok();
}

TEST(StatusTest, OkAndErrorsRenderTheirCode) {
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "OK");
  Status s = NotFoundError("configmap default/x not found");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NOT_FOUND: configmap default/x not found");
  EXPECT_EQ(s.WithContext("loading").message(), "loading: configmap default/x not found");
  EXPECT_EQ(Status::Ok().WithContext("ignored"), Status::Ok());
}

TEST(StatusTest, ResultCarriesValueOrError) {
  Result<int> r = Quarter(12);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 3);
  Result<int> bad = Quarter(6);  // 6/2 = 3 is odd
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "value 3 is odd");
  EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(StatusTest, ReturnIfErrorStopsAtFirstFailure) {
  EXPECT_TRUE(CheckBoth(1, 2).ok());
  EXPECT_EQ(CheckBoth(1, -2).code(), StatusCode::kOutOfRange);
}

TEST(StatusTest, ResultFromOkStatusIsAnInternalError) {
  Result<int> r{Status::Ok()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(StatusTest, ResultHoldsMoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(StatusDeathTest, ValueOfErrorAbortsWithTheMessage) {
  Result<int> r = NotFoundError("node gpu-7");
  EXPECT_DEATH((void)r.value(), "NOT_FOUND: node gpu-7");
}

}  // namespace
}  // namespace zenith
