// The JSON Schema subset validator on small hand-written schemas, good and bad documents.
#include "schema_validator.hpp"

#include <gtest/gtest.h>

namespace rwkvb {
namespace {

using nlohmann::json;

const json kSchema = json::parse(R"({
  "type": "object",
  "required": ["name", "n"],
  "additionalProperties": false,
  "properties": {
    "name": {"type": "string"},
    "n": {"type": "integer", "minimum": 1},
    "ratio": {"type": ["number", "null"]},
    "kind": {"enum": ["a", "b"]},
    "list": {"type": "array", "items": {"$ref": "#/$defs/item"}},
    "free": {"type": "object", "additionalProperties": {"type": "number"}}
  },
  "$defs": {"item": {"type": "object", "required": ["x"], "properties": {"x": {"type": "boolean"}}}}
})");

TEST(SchemaValidator, AcceptsAValidDocument) {
    const json ok = {{"name", "x"}, {"n", 2}, {"ratio", nullptr}, {"kind", "b"},
                     {"list", {{{"x", true}}, {{"x", false}, {"other", 1}}}}, {"free", {{"q", 1.5}}}};
    EXPECT_TRUE(validate_json(ok, kSchema).empty());
    EXPECT_TRUE(validate_json(json{{"name", "x"}, {"n", 2.0}}, kSchema).empty());  // 2.0 is an integer
}

TEST(SchemaValidator, ReportsEachViolationWithItsPointer) {
    auto errs = validate_json(json{{"name", 3}}, kSchema);
    ASSERT_EQ(errs.size(), 2u);
    EXPECT_EQ(errs[0], "/: missing required property 'n'");
    EXPECT_EQ(errs[1].rfind("/name: expected type \"string\"", 0), 0u) << errs[1];

    errs = validate_json(json{{"name", "x"}, {"n", 0}, {"extra", 1}}, kSchema);
    ASSERT_EQ(errs.size(), 2u);
    EXPECT_NE(errs[0].find("unexpected property 'extra'"), std::string::npos);
    EXPECT_NE(errs[1].find("/n: 0 is below the minimum 1"), std::string::npos);

    errs = validate_json(json{{"name", "x"}, {"n", 1.5}, {"kind", "c"}}, kSchema);
    ASSERT_EQ(errs.size(), 2u);
    EXPECT_NE(errs[0].find("/kind"), std::string::npos);
    EXPECT_NE(errs[1].find("/n: expected type \"integer\""), std::string::npos);

    errs = validate_json(json{{"name", "x"}, {"n", 1}, {"list", {{{"x", 1}}, json::object()}}, {"free", {{"q", "s"}}}},
                         kSchema);
    ASSERT_EQ(errs.size(), 3u);
    EXPECT_NE(errs[0].find("/free/q"), std::string::npos);
    EXPECT_NE(errs[1].find("/list/0/x"), std::string::npos);
    EXPECT_NE(errs[2].find("/list/1: missing required property 'x'"), std::string::npos);
}

TEST(SchemaValidator, RejectsSchemasItCannotCheck) {
    EXPECT_THROW(validate_json(1, json{{"pattern", "^a"}}), std::invalid_argument);
    EXPECT_THROW(validate_json(1, json{{"$ref", "other.json#/x"}}), std::invalid_argument);
    EXPECT_THROW(validate_json(1, json{{"$ref", "#/$defs/none"}, {"$defs", json::object()}}), std::invalid_argument);
    EXPECT_THROW(validate_json(1, json{{"type", "float"}}), std::invalid_argument);
}

TEST(SchemaValidator, BooleanSchemas) {
    EXPECT_TRUE(validate_json(1, true).empty());
    EXPECT_EQ(validate_json(1, false).size(), 1u);
}

TEST(SchemaValidator, TheResultsSchemaLoadsAndUsesOnlySupportedKeywords) {
    const json schema = load_results_schema();
    // An empty object exercises every required list at the root without throwing.
    EXPECT_FALSE(validate_json(json::object(), schema).empty());
}

}  // namespace
}  // namespace rwkvb
