// Fuzz target for a whole results document (results.json) given to the report code: read as
// every reader of JSON from disk must read it (parse_untrusted_json: no exception, bounded
// nesting), then every report writer, run_exit_code and nothing_ran on the document as read, then
// the document re-assembled from its parts by make_run_document (what a report, merge or certify
// command that re-derives the summary does) and rendered again.
//
// Any bytes must end in "not JSON" (refused) or in reports that every writer renders as valid
// UTF-8 and an exit code of DESIGN.md §8. Anything else is a bug: an exception, a crash, a
// sanitizer report, a hang.
//
// Real fuzzing needs clang (see CMakeLists.txt); other compilers run the same function under
// json_replay_main.cpp.
#include "json_fuzz_support.hpp"
#include "results.hpp"
#include "io/untrusted_json.hpp"

#include <cstddef>
#include <cstdint>

namespace {

constexpr const char* kTarget = "fuzz_results_document";

nlohmann::json part(const nlohmann::json& doc, const char* key) {
    if (!doc.is_object()) return nullptr;
    const auto it = doc.find(key);
    return it == doc.end() ? nlohmann::json(nullptr) : *it;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto doc = rwkvb::parse_untrusted_json({reinterpret_cast<const char*>(data), size});
    if (doc.is_discarded()) return 0;
    rwkvb::fuzz::check_results_file_renders(kTarget, doc);
    // The cells however they came, each read as a record (what a report, merge or certify does).
    std::vector<rwkvb::CellResult> cells;
    const auto raw = part(doc, "cells");
    if (raw.is_array())
        for (const auto& c : raw) cells.push_back(rwkvb::cell_result_from_json(c));
    else
        cells.push_back(rwkvb::cell_result_from_json(raw));
    const auto rebuilt =
        rwkvb::make_run_document(part(doc, "run"), part(doc, "system"), part(doc, "limits"), std::move(cells));
    rwkvb::fuzz::check_document_renders(kTarget, rebuilt);
    return 0;
}
