// Reading the results documents a person hands to `compare`, `merge`, `certify` or `report`: a
// results.json (or merged document), or a run directory holding one. Any file may be given, so
// every failure is one InputError line naming the file (DESIGN.md §8, exit 2).
#pragma once
#include "results.hpp"

#include <filesystem>

namespace rwkvb {

// The path of the document: `path` itself, or <path>/results.json for a run directory.
std::filesystem::path results_document_path(const std::filesystem::path& path);
// Reads and types it (results.hpp run_document_from_json): version 1 and 2 documents, merged ones.
RunDocument read_results_document(const std::filesystem::path& path);

}  // namespace rwkvb
