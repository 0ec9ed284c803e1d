// Command-line values that CLI11's own checks let through, refused with one line and exit 2
// (DESIGN.md §8): NaN and infinities (CLI::PositiveNumber passes NaN, as NaN <= 0 is false, and a
// NaN timeout would never fire), and paths that cannot work or cannot go into a results file.
#pragma once
#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

namespace rwkvb {

// The longest value any time option takes, seconds (a week): more is a typo, and keeps the
// watchdog's arithmetic far from overflow.
inline constexpr double kMaxSeconds = 7 * 24 * 3600.0;

// A CLI11 check: the value is a finite number in [min, max], or (min, max] with
// `exclude_min`. The message names the range, e.g. "nan: expected a finite number in (0, 604800]".
CLI::Validator finite_number(double min, double max, bool exclude_min = false);

// Parses all of `text` as a finite number, or throws InputError naming `option` and the range.
double parse_finite(const std::string& option, const std::string& text, double min, double max);

// InputError (one line, naming `option`) unless `path` is valid UTF-8 — it goes into JSON records
// and must read back as the same path on --resume — and fits the file system: no component
// longer than NAME_MAX, and at most PATH_MAX bytes once made absolute.
void check_path_argument(const std::string& option, const std::filesystem::path& path);

// CLI11's failure message as one line (DESIGN.md §8): "rwkvbench: error: <what>; see --help".
// CLI11's own adds a second line.
std::string one_line_usage_error(const CLI::App* app, const CLI::Error& error);

}  // namespace rwkvb
