#include "io/untrusted_json.hpp"

#include <algorithm>

namespace rwkvb {
namespace {

// Deepest nesting of [ and { outside strings; stops counting once past `limit`. Malformed text
// may count wrong, which is harmless: the parser refuses it anyway.
int nesting_depth(std::string_view text, int limit) {
    int depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size() && deepest <= limit; ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return deepest;
}

}  // namespace

nlohmann::json parse_untrusted_json(std::string_view text) {
    if (nesting_depth(text, kMaxUntrustedJsonDepth) > kMaxUntrustedJsonDepth)
        return nlohmann::json(nlohmann::json::value_t::discarded);
    return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

}  // namespace rwkvb
