// One vocabulary: every enum's name table round-trips, and results.schema.json lists exactly
// the names the tables hold (a name added to one and not the other fails here).
#include "cell_result.hpp"
#include "schema_validator.hpp"
#include "vocabulary.hpp"

#include <gtest/gtest.h>

namespace rwkvb {
namespace {

using nlohmann::json;

std::vector<std::string> schema_enum(const json& schema, std::initializer_list<const char*> path) {
    const json* node = &schema.at("$defs");
    for (const char* key : path) node = &node->at(key);
    return node->at("enum").get<std::vector<std::string>>();
}

template <class E>
void expect_round_trip() {
    for (const auto& [value, name] : Vocabulary<E>::names) {
        EXPECT_EQ(to_string(value), name);
        EXPECT_EQ(from_string<E>(name), value);
        EXPECT_EQ(json(value), std::string(name));
        EXPECT_EQ(json(std::string(name)).get<E>(), value);
    }
    EXPECT_FALSE(from_string<E>("no-such-name").has_value());
    EXPECT_THROW(json("no-such-name").get<E>(), json::exception);
}

TEST(Vocabulary, EveryTableRoundTrips) {
    expect_round_trip<Scenario>();
    expect_round_trip<CellStatus>();
    expect_round_trip<Verdict>();
    expect_round_trip<GroupVerdict>();
    expect_round_trip<ReportFormat>();
    expect_round_trip<Bound>();
}

TEST(Vocabulary, SchemaEnumsAreTheTables) {
    const json schema = load_results_schema();
    EXPECT_EQ(schema_enum(schema, {"spec", "properties", "scenario"}), all_names<Scenario>());
    EXPECT_EQ(schema_enum(schema, {"cell", "properties", "status"}), all_names<CellStatus>());
    EXPECT_EQ(schema_enum(schema, {"parity", "properties", "verdict"}), all_names<Verdict>());
    EXPECT_EQ(schema_enum(schema, {"verification", "properties", "verdict"}), all_names<Verdict>());
    EXPECT_EQ(schema_enum(schema, {"parity_mode", "properties", "verdict"}), all_names<Verdict>());
    EXPECT_EQ(schema_enum(schema, {"cell", "properties", "certification", "properties", "group_verdict"}),
              all_names<GroupVerdict>());
    EXPECT_EQ(schema_enum(schema, {"roofline", "properties", "bound"}), all_names<Bound>());
    // A run's own exit code is one of the run's codes (5 and 6 belong to compare and certify).
    const auto codes = schema.at("$defs").at("summary").at("properties").at("exit_code").at("enum");
    EXPECT_EQ(codes, json::array({int(kExitOk), int(kExitParityFail), int(kExitCellFailed)}));
}

TEST(Vocabulary, UnknownNamesAreRefusedNamingTheChoices) {
    try {
        parse_name<Scenario>("sprint");
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "unknown scenario 'sprint' (expected prefill, decode, batch, long or parity)");
    }
}

}  // namespace
}  // namespace rwkvb
