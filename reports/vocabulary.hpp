// The words of a run, each written once: scenarios, cell statuses, verdicts, report formats and
// exit codes (DESIGN.md §4–§8). Every enum has one name table; parsing (CLI validation, plan,
// records read back), help text, dispatch and the writers all go through it, and a test checks
// that reports/results.schema.json lists exactly these names.
#pragma once
#include <nlohmann/json.hpp>

#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rwkvb {

// A name table: Vocabulary<E>::names pairs each value with its one spelling; `what` names the
// kind in error messages ("unknown scenario 'x' (expected …)").
template <class E>
struct Vocabulary;

template <class E>
concept Named = requires { Vocabulary<E>::names; Vocabulary<E>::what; };

enum class Scenario { prefill, decode, batch, long_context, parity };
template <>
struct Vocabulary<Scenario> {
    static constexpr std::string_view what = "scenario";
    static constexpr std::array<std::pair<Scenario, std::string_view>, 5> names{{{Scenario::prefill, "prefill"},
                                                                                 {Scenario::decode, "decode"},
                                                                                 {Scenario::batch, "batch"},
                                                                                 {Scenario::long_context, "long"},
                                                                                 {Scenario::parity, "parity"}}};
};

// How a cell ended (DESIGN.md §3). `invalid`: it ran, but the logits it produced while timed
// differ from the golden, so its speed is not a figure of the work it was asked to do.
enum class CellStatus { ok, crashed, timeout, oom, load_error, error, skipped, invalid };
template <>
struct Vocabulary<CellStatus> {
    static constexpr std::string_view what = "status";
    static constexpr std::array<std::pair<CellStatus, std::string_view>, 8> names{
        {{CellStatus::ok, "ok"},
         {CellStatus::crashed, "crashed"},
         {CellStatus::timeout, "timeout"},
         {CellStatus::oom, "oom"},
         {CellStatus::load_error, "load-error"},
         {CellStatus::error, "error"},
         {CellStatus::skipped, "skipped"},
         {CellStatus::invalid, "invalid"}}};
};
// Crashed, timed out, out of memory, failed to load or errored: exit code 4 material.
constexpr bool failed_to_run(CellStatus s) {
    return s == CellStatus::crashed || s == CellStatus::timeout || s == CellStatus::oom ||
           s == CellStatus::load_error || s == CellStatus::error;
}

// A parity cell's verdict, or a timed cell's own output check.
enum class Verdict { pass, fail };
template <>
struct Vocabulary<Verdict> {
    static constexpr std::string_view what = "verdict";
    static constexpr std::array<std::pair<Verdict, std::string_view>, 2> names{
        {{Verdict::pass, "PASS"}, {Verdict::fail, "FAIL"}}};
};

// The parity verdict of a (backend, device, workload, dtype) group, as a speed cell sees it:
// its parity cell's verdict, NOT_RUN when that cell did not finish, NONE when there is none.
enum class GroupVerdict { pass, fail, not_run, none };
template <>
struct Vocabulary<GroupVerdict> {
    static constexpr std::string_view what = "group verdict";
    static constexpr std::array<std::pair<GroupVerdict, std::string_view>, 4> names{
        {{GroupVerdict::pass, "PASS"},
         {GroupVerdict::fail, "FAIL"},
         {GroupVerdict::not_run, "NOT_RUN"},
         {GroupVerdict::none, "NONE"}}};
};

enum class ReportFormat { table, json, csv, md };
template <>
struct Vocabulary<ReportFormat> {
    static constexpr std::string_view what = "report format";
    static constexpr std::array<std::pair<ReportFormat, std::string_view>, 4> names{
        {{ReportFormat::table, "table"}, {ReportFormat::json, "json"}, {ReportFormat::csv, "csv"}, {ReportFormat::md, "md"}}};
};

// Exit codes of DESIGN.md §8, distinct so CI can tell them apart; the smallest applicable wins.
enum ExitCode : int {
    kExitOk = 0,
    kExitInternal = 1,
    kExitUsage = 2,
    kExitParityFail = 3,
    kExitCellFailed = 4,
    kExitRegression = 5,
    kExitInvalidRun = 6,
};

// ---- one implementation for every table ---------------------------------------------------------

template <Named E>
constexpr std::string_view to_string(E value) {
    for (const auto& [v, name] : Vocabulary<E>::names)
        if (v == value) return name;
    return "?";  // unreachable for a value of the enum
}

template <Named E>
constexpr std::optional<E> from_string(std::string_view name) {
    for (const auto& [v, n] : Vocabulary<E>::names)
        if (n == name) return v;
    return std::nullopt;
}

template <Named E>
std::vector<std::string> all_names() {
    std::vector<std::string> out;
    for (const auto& [v, n] : Vocabulary<E>::names) out.emplace_back(n);
    return out;
}

// "prefill, decode, batch, long or parity": for help text and error messages.
template <Named E>
std::string names_text(std::string_view last_joiner = " or ") {
    std::string out;
    const auto& names = Vocabulary<E>::names;
    for (size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += i + 1 == names.size() ? std::string(last_joiner) : std::string(", ");
        out += names[i].second;
    }
    return out;
}

// from_string, or std::invalid_argument("unknown scenario 'x' (expected prefill, …)").
template <Named E>
E parse_name(std::string_view name) {
    if (auto v = from_string<E>(name)) return *v;
    throw std::invalid_argument("unknown " + std::string(Vocabulary<E>::what) + " '" + std::string(name) +
                                "' (expected " + names_text<E>() + ")");
}

// JSON carries the name; reading an unknown name is a json error (never a silent default).
template <Named E>
void to_json(nlohmann::json& j, E value) {
    j = std::string(to_string(value));
}
template <Named E>
void from_json(const nlohmann::json& j, E& value) {
    const auto v = j.is_string() ? from_string<E>(j.get_ref<const std::string&>()) : std::nullopt;
    if (!v)
        throw nlohmann::json::other_error::create(
            501, "expected a " + std::string(Vocabulary<E>::what) + " (" + names_text<E>() + "), got " + j.dump(), &j);
    value = *v;
}

}  // namespace rwkvb
