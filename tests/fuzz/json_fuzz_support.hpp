// What the JSON fuzz targets share: a scratch run directory to put the fuzzed bytes where the
// harness reads them back, and the checks of the property they all hold — any bytes end in a
// clean rejection or a valid output, never a crash, an uncaught exception or UB.
#pragma once
#include "results.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

namespace rwkvb::fuzz {

// A run directory (plan.json, cells/, work/) of this process, made once and removed at exit.
const std::filesystem::path& scratch_run_dir();

// Replaces `path` with exactly these bytes.
void put_bytes(const std::filesystem::path& path, const uint8_t* data, size_t size);

// Prints "<target>: invariant broken: <what>" and aborts, so libFuzzer and ctest see a crash.
[[noreturn]] void invariant_broken(const char* target, std::string_view what);

// Every report format rendered, the exit code and "nothing ran" computed, and the document
// dumped as the harness writes results.json: none may throw, the exit code is one of DESIGN.md
// §8's run codes, the json report parses back, and every text output is valid UTF-8.
void check_document_renders(const char* target, const RunDocument& document);
// run_document_from_json on untrusted JSON: a one-line refusal or a document that renders.
void check_results_file_renders(const char* target, const nlohmann::json& document);

}  // namespace rwkvb::fuzz
