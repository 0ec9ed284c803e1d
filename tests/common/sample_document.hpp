// A realistic sample run document for the reports tests, built from the real producers
// (stats_json, evaluate_parity): a passing group, a failed-parity group, a crashed cell and a
// skipped one.
#pragma once
#include <nlohmann/json.hpp>

namespace rwkvb::testing {

// A timed cell carries a PASSing verification of its own output, as `run` writes it.
nlohmann::json ok_speed_cell(const std::string& backend, const std::string& scenario, double tokens_per_s);
nlohmann::json golden();                       // a parity or verification "golden" object
nlohmann::json verification(bool pass);        // a timed cell's own-output check
nlohmann::json parity_cell(const std::string& backend, bool pass);
nlohmann::json crashed_cell();
nlohmann::json skipped_cell();
nlohmann::json sample_limits();
nlohmann::json sample_document();  // make_run_document over all of the above
// A schema whose root is root["$defs"][def] (same $defs), to validate one part.
nlohmann::json sub_schema(const nlohmann::json& root, const std::string& def);

}  // namespace rwkvb::testing
