// Parsing JSON the harness reads back from disk — the stored plan, cell records, the record a
// worker wrote (a plugin in that worker can write anything there), the worker environment. Any
// bytes may be there, so the parse never throws, and it refuses nesting deeper than any file of
// ours holds: nlohmann copies and dumps a value recursively, so a record nested a million levels
// deep would overflow the parent's stack when it is copied into the results document.
#pragma once
#include <nlohmann/json.hpp>

#include <string_view>

namespace rwkvb {

// Far above what the harness writes (a results document nests about 6 deep).
inline constexpr int kMaxUntrustedJsonDepth = 64;

// The value, or a discarded one (is_discarded()) for bytes that are not JSON or nest deeper
// than kMaxUntrustedJsonDepth.
nlohmann::json parse_untrusted_json(std::string_view text);

}  // namespace rwkvb
