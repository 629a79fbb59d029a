#include "zenith/kube/field_mask.h"

#include <gtest/gtest.h>

#include "zenith/kube/client.h"

namespace zenith::kube {
namespace {

using nlohmann::json;

const char* kPod = R"({
  "kind": "Pod", "apiVersion": "v1",
  "metadata": {"name": "w-0", "namespace": "ml", "resourceVersion": "9",
               "labels": {"a": "b"}, "annotations": {"x\"y": "q\\"},
               "managedFields": [{"manager": "k", "fieldsV1": {"f:spec": {"f:x": {}}}}]},
  "spec": {"nodeName": "n1", "volumes": [{"name": "v", "note": "}]\"[{"}],
           "containers": [{"name": "t", "image": "i", "env": [{"name": "A", "value": "1.5e3"}],
                           "resources": {"limits": {"gpu": 2, "f": -1.25e-3, "big": 18446744073709551615}}},
                          {"name": "u", "resources": {}}]},
  "status": {"phase": "Running", "conditions": [true, false, null, -3]}})";

TEST(FieldMaskTest, KeepingEverythingParsesAsNlohmannDoes) {
  auto got = ParseMasked(kPod, FieldMask());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, json::parse(kPod));
  // Number kinds as nlohmann builds them, not only equal values.
  EXPECT_TRUE((*got)["spec"]["containers"][0]["resources"]["limits"]["gpu"].is_number_unsigned());
  EXPECT_TRUE((*got)["spec"]["containers"][0]["resources"]["limits"]["big"].is_number_unsigned());
  EXPECT_TRUE((*got)["status"]["conditions"][3].is_number_integer());
}

TEST(FieldMaskTest, OnlyKeepsThePathsAndArraysPassTheMaskToEachElement) {
  FieldMask m = FieldMask::Only({"metadata.name", "metadata.annotations", "spec.nodeName",
                                 "spec.containers.resources", "status"});
  auto got = ParseMasked(kPod, m);
  ASSERT_TRUE(got.ok()) << got.status();
  const json want = json::parse(R"({
    "metadata": {"name": "w-0", "annotations": {"x\"y": "q\\"}},
    "spec": {"nodeName": "n1",
             "containers": [{"resources": {"limits": {"gpu": 2, "f": -1.25e-3,
                                                      "big": 18446744073709551615}}},
                            {"resources": {}}]},
    "status": {"phase": "Running", "conditions": [true, false, null, -3]}})");
  EXPECT_EQ(*got, want) << got->dump();
}

TEST(FieldMaskTest, DropLeavesOutOnePathAndNeverAddsOne) {
  auto got = ParseMasked(kPod, FieldMask().Drop("metadata.managedFields").Drop("spec.volumes"));
  ASSERT_TRUE(got.ok()) << got.status();
  json want = json::parse(kPod);
  want["metadata"].erase("managedFields");
  want["spec"].erase("volumes");
  EXPECT_EQ(*got, want);

  // Dropping inside what an Only mask leaves out keeps it out.
  FieldMask only = FieldMask::Only({"spec.nodeName"});
  only.Drop("metadata.managedFields");
  auto narrow = ParseMasked(kPod, only);
  ASSERT_TRUE(narrow.ok()) << narrow.status();
  EXPECT_EQ(*narrow, json::parse(R"({"spec": {"nodeName": "n1"}})"));
}

TEST(FieldMaskTest, KeepAfterAShorterPathChangesNothingAndMasksAreNotShared) {
  FieldMask m = FieldMask::Only({"metadata"});
  m.Keep("metadata.name");  // metadata is kept whole already
  auto got = ParseMasked(kPod, m);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["metadata"], json::parse(kPod)["metadata"]);

  // A mask copied and then narrowed leaves the original as it was.
  FieldMask copy = m;
  copy.Drop("metadata.labels");
  EXPECT_TRUE(ParseMasked(kPod, m)->at("metadata").contains("labels"));
  EXPECT_FALSE(ParseMasked(kPod, copy)->at("metadata").contains("labels"));
}

TEST(FieldMaskTest, AScalarWhereTheMaskExpectsAnObjectIsKeptForItsReader) {
  auto got = ParseMasked(R"({"spec": {"containers": "not a list"}})",
                         FieldMask::Only({"spec.containers.resources"}));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["spec"]["containers"], "not a list");
}

TEST(FieldMaskTest, KeptStringsAreCheckedAsNlohmannChecksThem) {
  const FieldMask m = FieldMask::Only({"a", "b"});
  auto utf8 = ParseMasked("{\"a\": \"caf\xc3\xa9\", \"b\": \"tab\\t\", \"c\": \"\xff\"}", m);
  ASSERT_TRUE(utf8.ok()) << utf8.status();  // the bad byte is in what is left out
  EXPECT_EQ(*utf8, json::parse("{\"a\": \"caf\xc3\xa9\", \"b\": \"tab\\t\"}"));
  for (const char* bad : {"{\"a\": \"\xff\"}", "{\"a\": \"line\nbreak\"}", "{\"\xff\": 1}"}) {
    auto got = ParseMasked(bad, m);
    EXPECT_FALSE(got.ok()) << bad;
  }
}

// Each broken text, and the byte offset its error must name.
TEST(FieldMaskTest, BrokenTextIsAnErrorNamingTheByteOffset) {
  const FieldMask m = FieldMask::Only({"a"});
  struct Case {
    const char* text;
    const char* offset;
  };
  for (const Case& c : {
           Case{R"({"a": 1, "b": "open)", "byte 14"},     // unterminated, left out
           Case{R"({"a": 1, "b": [1, 2})", "byte 19"},    // mismatched, left out
           Case{R"({"a": 1, "b": {"c": 1})", "byte 22"},  // ends inside what is left out
           Case{R"({"a": tru, "b": 1})", "byte 6"},       // kept: nlohmann's own check
           Case{R"({"a": 1 "b": 2})", "byte 8"},          // no comma
           Case{R"({"a": 1} x)", "byte 9"},               // text after the value
           Case{R"({"a": 1, "b": @})", "byte 14"},        // stray character, left out
       }) {
    auto got = ParseMasked(c.text, m);
    ASSERT_FALSE(got.ok()) << c.text;
    EXPECT_NE(got.status().message().find(c.offset), std::string::npos)
        << c.text << " -> " << got.status();
  }
}

TEST(FieldMaskTest, WatchEventsDecodeTheirObjectThroughTheMaskButBookmarksWhole) {
  auto fields = std::make_shared<const FieldMask>(FieldMask::Only({"metadata.name"}));
  auto ev = ParseWatchEvent(
      R"({"type":"ADDED","object":{"metadata":{"name":"a","labels":{"x":"y"}},"spec":{}}})",
      fields);
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->type, WatchEvent::Type::kAdded);
  EXPECT_EQ(ev->object, json::parse(R"({"metadata":{"name":"a"}})"));

  auto end = ParseWatchEvent(R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"20",)"
                             R"("annotations":{"k8s.io/initial-events-end":"true"}}}})",
                             fields);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_TRUE(IsInitialEventsEnd(*end));
  EXPECT_EQ(ResourceVersionOf(end->object), "20");

  auto bad = ParseWatchEvent(R"({"type":"ADDED","object":{"metadata":})", fields);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("byte"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace zenith::kube
