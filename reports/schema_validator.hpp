// A small JSON Schema validator for the subset of keywords results.schema.json uses: type,
// required, properties, additionalProperties, items, enum, minimum and $ref to "#/$defs/...".
// Why our own: no JSON Schema library is among our dependencies (ci/install-deps.sh), and the
// subset is small enough to implement and test here. A schema using any other validation
// keyword is rejected (std::invalid_argument) rather than silently half-checked.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace rwkvb {

// Every violation as "<JSON pointer>: <problem>"; empty when the instance is valid.
std::vector<std::string> validate_json(const nlohmann::json& instance, const nlohmann::json& schema);

// reports/results.schema.json as parsed JSON (path known at build time; overridable).
nlohmann::json load_results_schema(const std::filesystem::path& path = RWKVB_RESULTS_SCHEMA);

}  // namespace rwkvb
