// utf8.hpp: what makes bytes from plugins and children safe for JSON. nlohmann's own dump serves
// as the independent judge of validity: it throws on exactly the bytes valid_utf8 must replace.
#include "io/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace rwkvb;
using json = nlohmann::json;

namespace {

const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool json_accepts(const std::string& s) {
    try {
        (void)json(s).dump();
        return true;
    } catch (const json::type_error&) {
        return false;
    }
}

}  // namespace

TEST(Utf8, ValidInputComesBackUnchanged) {
    for (const std::string& s : {std::string(), std::string("plain ascii, tabs\tand\nnewlines"),
                                std::string("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),  // 2-, 3- and 4-byte
                                std::string("\xED\x9F\xBF \xEE\x80\x80 \xF4\x8F\xBF\xBF"),  // around the gaps
                                std::string("nul \0 inside", 12)}) {
        EXPECT_EQ(valid_utf8(s), s);
        EXPECT_EQ(utf8_tail(s, 1000), s);
    }
}

// Each class of invalid UTF-8, between ASCII that must survive. Each invalid byte becomes one
// U+FFFD, so that nothing after it is swallowed.
TEST(Utf8, EveryInvalidClassIsReplacedAndTheRestKept) {
    struct Case {
        const char* what;
        std::string bad;
        size_t replacements;
    };
    const Case cases[] = {
        {"Latin-1 byte", "\xE9", 1},
        {"stray continuation byte", "\x80", 1},
        {"bytes that never occur", "\xFE\xFF", 2},
        {"overlong two-byte form of '/'", "\xC0\xAF", 2},
        {"overlong three-byte form", "\xE0\x80\xAF", 3},
        {"overlong four-byte form", "\xF0\x80\x80\xAF", 4},
        {"UTF-16 surrogate", "\xED\xA0\x80", 3},
        {"above U+10FFFF", "\xF4\x90\x80\x80", 4},
        {"lead byte of nothing (F5)", "\xF5\x80\x80\x80", 4},
        {"character cut short before ASCII", "\xE2\x82", 2},
    };
    for (const auto& c : cases) {
        const std::string in = "a" + c.bad + "z";
        ASSERT_FALSE(json_accepts(in)) << c.what << ": not invalid to begin with";
        const std::string out = valid_utf8(in);
        std::string expected = "a";
        for (size_t i = 0; i < c.replacements; ++i) expected += kReplacement;
        EXPECT_EQ(out, expected + "z") << c.what;
        EXPECT_TRUE(json_accepts(out)) << c.what;
        EXPECT_EQ(valid_utf8(out), out) << c.what;  // idempotent
    }
    // A character cut short at the very end.
    EXPECT_EQ(valid_utf8("ab\xF0\x9F\x98"), "ab" + kReplacement + kReplacement + kReplacement);
}

// The tail starts on a character boundary: the remains of a character whose first bytes fell
// before the cut are dropped, never half-kept or turned into U+FFFD.
TEST(Utf8, TailNeverKeepsHalfACharacter) {
    const std::string euro = "\xE2\x82\xAC";
    const std::string s = "ab" + euro + euro;  // 8 bytes
    EXPECT_EQ(utf8_tail(s, 8), s);
    EXPECT_EQ(utf8_tail(s, 6), euro + euro);
    EXPECT_EQ(utf8_tail(s, 5), euro);  // cut one byte into the first euro sign
    EXPECT_EQ(utf8_tail(s, 4), euro);  // cut two bytes into it
    EXPECT_EQ(utf8_tail(s, 3), euro);
    EXPECT_EQ(utf8_tail(s, 2), "");    // cut inside the last one: nothing whole is left
    EXPECT_EQ(utf8_tail(s, 0), "");
    const std::string emoji = "\xF0\x9F\x98\x80";
    for (size_t n = 1; n < 4; ++n) EXPECT_EQ(utf8_tail("x" + emoji, n), "") << n;
    EXPECT_EQ(utf8_tail("x" + emoji, 4), emoji);
    // Invalid bytes inside the tail are still replaced.
    EXPECT_EQ(utf8_tail("0123\xE9z", 2), kReplacement + "z");
}

TEST(Utf8, JsonTextNeverThrowsOnInvalidBytes) {
    const json j{{"name", "caf\xE9"}, {"list", {"\xFF", "ok"}}};
    std::string text;
    ASSERT_NO_THROW(text = json_text(j));
    const json back = json::parse(text);
    EXPECT_EQ(back["name"], "caf" + kReplacement);
    EXPECT_EQ(back["list"][1], "ok");
    EXPECT_EQ(json_text(json{{"a", 1}}, -1), "{\"a\":1}");
}
