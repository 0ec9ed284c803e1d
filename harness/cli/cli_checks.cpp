#include "cli/cli_checks.hpp"

#include "errors.hpp"
#include "io/utf8.hpp"

#include <fmt/format.h>

#include <climits>
#include <cmath>
#include <cstdlib>
#include <optional>

namespace rwkvb {
namespace {

std::string range_text(double min, double max, bool exclude_min) {
    return fmt::format("{}{:g}, {:g}]", exclude_min ? "(" : "[", min, max);
}

// The value of all of `text` as a finite number within the range, or nullopt.
std::optional<double> finite_in_range(const std::string& text, double min, double max, bool exclude_min) {
    if (text.empty()) return std::nullopt;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
    if (v < min || (exclude_min && v == min) || v > max) return std::nullopt;
    return v;
}

// What a name looks like in a message: the start of it, made printable.
std::string shortened(const std::string& name) {
    return name.size() <= 40 ? valid_utf8(name) : valid_utf8(name.substr(0, 40)) + "…";
}

}  // namespace

CLI::Validator finite_number(double min, double max, bool exclude_min) {
    const std::string range = range_text(min, max, exclude_min);
    return CLI::Validator(
        [=](const std::string& text) -> std::string {
            if (finite_in_range(text, min, max, exclude_min)) return "";
            return fmt::format("'{}': expected a finite number in {}", valid_utf8(text), range);
        },
        "NUMBER in " + range);
}

double parse_finite(const std::string& option, const std::string& text, double min, double max) {
    if (const auto v = finite_in_range(text, min, max, false)) return *v;
    throw InputError(fmt::format("{} '{}': expected a finite number in {}", option, valid_utf8(text),
                                 range_text(min, max, false)));
}

void check_path_argument(const std::string& option, const std::filesystem::path& path) {
    const std::string& text = path.native();
    if (text.empty()) throw InputError(fmt::format("{}: the path is empty; give a file or directory name", option));
    if (valid_utf8(text) != text)
        throw InputError(fmt::format("{} {}: the path is not valid UTF-8, so it cannot be recorded in the results; "
                                     "rename it or choose another",
                                     option, valid_utf8(text)));
    for (const auto& part : path) {
        if (part.native().size() > NAME_MAX)
            throw InputError(fmt::format("{}: the name '{}' is {} bytes long, more than the {} a file name may have; "
                                         "choose a shorter one",
                                         option, shortened(part.native()), part.native().size(), NAME_MAX));
    }
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(path, ec);
    const size_t length = ec ? text.size() : absolute.native().size();
    if (length >= PATH_MAX)
        throw InputError(fmt::format("{} {}: the path is {} bytes long, more than the {} a path may have; choose a "
                                     "shorter one",
                                     option, shortened(text), length, PATH_MAX - 1));
}

std::string one_line_usage_error(const CLI::App*, const CLI::Error& error) {
    return fmt::format("rwkvbench: error: {}; see --help\n", valid_utf8(error.what()));
}

}  // namespace rwkvb
