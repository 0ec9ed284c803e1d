// Making bytes that come from a plugin or a child process safe to put into JSON: nlohmann::json
// throws on invalid UTF-8 when it dumps, and a plugin must never be able to end the parent.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace rwkvb {

// `bytes` with every invalid UTF-8 sequence (stray continuation bytes, overlong forms,
// surrogates, code points above U+10FFFF, a character cut short) replaced by U+FFFD. Valid input
// comes back unchanged.
std::string valid_utf8(std::string_view bytes);

// The last `max_bytes` (at most) of `bytes`, starting on a character boundary so that a valid
// multi-byte character is never cut in half; then made valid as valid_utf8 does.
std::string utf8_tail(std::string_view bytes, size_t max_bytes);

// j.dump(indent) that never throws on a string holding invalid UTF-8 (it is replaced by U+FFFD):
// the last net under everything the harness writes, should an unsanitised string slip through.
std::string json_text(const nlohmann::json& j, int indent = 2);

}  // namespace rwkvb
