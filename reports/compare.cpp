#include "compare.hpp"

#include "significance.hpp"
#include "text_table.hpp"

#include <fmt/format.h>

#include <cmath>
#include <map>

namespace rwkvb {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) {
    const auto it = j.is_object() ? j.find(key) : j.end();
    return j.is_object() && it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// "host (timestamp)" of a run, for the header.
std::string run_label(const RunDocument& d) {
    if (d.runs.is_object() && !d.runs.empty()) return fmt::format("merged document of {} runs", d.runs.size());
    std::string host = text(d.run, "hostname");
    if (host.empty()) host = text(d.system.value("os", json::object()), "hostname");
    const std::string when = text(d.run, "timestamp_utc");
    return fmt::format("{}{}", host.empty() ? "unknown host" : host, when.empty() ? "" : " (" + when + ")");
}

std::string cpu_model(const RunDocument& d) { return text(d.system.value("cpu", json::object()), "model"); }

// Whether two documents measured the same machine: same host name and CPU model (for merged
// documents, the same set of runs' hosts, since each cell is then matched within its host).
bool same_machine(const RunDocument& a, const RunDocument& b) {
    if (a.runs.is_object() || b.runs.is_object()) {
        std::vector<std::string> ka, kb;
        if (a.runs.is_object())
            for (const auto& [k, v] : a.runs.items()) ka.push_back(k);
        if (b.runs.is_object())
            for (const auto& [k, v] : b.runs.items()) kb.push_back(k);
        return ka == kb;
    }
    return text(a.run, "hostname") == text(b.run, "hostname") && cpu_model(a) == cpu_model(b);
}

// What the cell's output checks said: a parity cell's verdict, a timed cell's own verification
// (an invalid cell is a FAIL), or nothing when it did not get that far.
std::optional<Verdict> correctness(const CellResult& c) {
    if (c.status == CellStatus::invalid) return Verdict::fail;
    if (c.status != CellStatus::ok) return std::nullopt;
    if (!c.timed()) return c.parity ? std::optional(c.parity->verdict) : std::nullopt;
    return c.verification ? std::optional(c.verification->verdict) : std::nullopt;
}

double repetition_cv(const CellResult& c) {
    if (c.noise) return c.noise->cv;
    const Stats* s = c.repetition_timing();
    return s ? s->cv : 0.0;
}

std::string pct(double ratio) { return fmt::format("{:+.1f}%", (ratio - 1) * 100); }

void judge_speed(CellComparison& cc, const CompareOptions& o, bool gating) {
    const Stats* bs = cc.base->repetition_timing();
    const Stats* cs = cc.cand->repetition_timing();
    if (!bs || !cs || bs->samples.size() < 2 || cs->samples.size() < 2) {
        cc.verdict = CompareVerdict::failed;
        cc.why = "fewer than 2 repetition samples on a side: nothing to compare";
        return;
    }
    try {
        // Times, cand relative to base; a speed ratio is their inverse (tokens per repetition are equal).
        const RatioEstimate t = hodges_lehmann_ratio(bs->samples, cs->samples, 0.95);
        cc.speed_ratio = 1 / t.estimate;
        cc.speed_ratio_low = 1 / t.high;
        cc.speed_ratio_high = 1 / t.low;
        cc.p_value = mann_whitney_u(bs->samples, cs->samples).p_two_sided;
    } catch (const std::invalid_argument& e) {
        cc.verdict = CompareVerdict::failed;
        cc.why = std::string("samples unusable: ") + e.what();
        return;
    }
    const double bcv = repetition_cv(*cc.base), ccv = repetition_cv(*cc.cand);
    if (bcv > o.max_cv || ccv > o.max_cv) {
        cc.verdict = CompareVerdict::noisy;
        cc.why = fmt::format("repetitions vary too much for a verdict (CV {:.1f}% base, {:.1f}% cand; bound {:.1f}%)",
                             100 * bcv, 100 * ccv, 100 * o.max_cv);
        return;
    }
    const double change = *cc.speed_ratio - 1;
    const bool significant = *cc.p_value < o.alpha;
    if (significant && change < -o.threshold) {
        cc.verdict = CompareVerdict::slower;
        cc.regression = gating;
        cc.why = fmt::format("{} (95% CI {} to {}), p = {:.2g} < {}", pct(*cc.speed_ratio), pct(*cc.speed_ratio_low),
                             pct(*cc.speed_ratio_high), *cc.p_value, o.alpha);
    } else if (significant && change > o.threshold) {
        cc.verdict = CompareVerdict::faster;
        cc.why = fmt::format("{} (95% CI {} to {}), p = {:.2g}", pct(*cc.speed_ratio), pct(*cc.speed_ratio_low),
                             pct(*cc.speed_ratio_high), *cc.p_value);
    } else {
        cc.verdict = CompareVerdict::same;
        cc.why = !significant ? fmt::format("p = {:.2g} is not below {}{}", *cc.p_value, o.alpha,
                                            bs->samples.size() < 5 || cs->samples.size() < 5
                                                ? " (fewer than 5 repetitions a side can never reach p < 0.01)"
                                                : "")
                              : fmt::format("{} is within ±{:.0f}%", pct(*cc.speed_ratio), 100 * o.threshold);
    }
}

CellComparison compare_cell(const std::string& key, const CellResult* base, const CellResult* cand,
                            const CompareOptions& o, bool gating) {
    CellComparison cc;
    cc.key = key;
    if (base) cc.base = *base;
    if (cand) cc.cand = *cand;
    if (!base) {
        cc.verdict = CompareVerdict::added;
        cc.why = "only in CAND";
        return cc;
    }
    if (!cand) {
        cc.verdict = CompareVerdict::missing;
        cc.why = "only in BASE";
        return cc;
    }
    const auto bv = correctness(*base), cv = correctness(*cand);
    if (bv && cv && *bv != *cv) {
        cc.verdict = CompareVerdict::parity_changed;
        cc.why = fmt::format("output check {} → {}", to_string(*bv), to_string(*cv));
        return cc;
    }
    if (base->status != CellStatus::ok || cand->status != CellStatus::ok) {
        cc.verdict = CompareVerdict::failed;
        cc.why = fmt::format("base {}, cand {}", base->status_detail.empty() ? to_string(base->status) : base->status_detail,
                             cand->status_detail.empty() ? to_string(cand->status) : cand->status_detail);
        return cc;
    }
    if (!base->timed()) {
        cc.verdict = CompareVerdict::same;
        cc.why = bv ? fmt::format("parity {} on both", to_string(*bv)) : "parity cell";
        return cc;
    }
    judge_speed(cc, o, gating);
    return cc;
}

}  // namespace

std::string comparison_key(const CellResult& c) {
    const CellSpec& s = c.spec;
    std::string device = c.backend && !c.backend->device.name.empty() ? c.backend->device.name : std::to_string(s.device);
    std::string key = fmt::format("{}{}/{}/{}/{}/{}/t{}", c.origin ? *c.origin + ":" : "", s.backend, device, s.workload,
                                  to_string(s.scenario), s.dtype, s.threads);
    const ScenarioParams& p = s.params;
    switch (s.scenario) {
        case Scenario::prefill: key += fmt::format("/p{}", p.prompt_tokens); break;
        case Scenario::decode: key += fmt::format("/p{}/n{}", p.prompt_tokens, p.decode_tokens); break;
        case Scenario::batch: key += fmt::format("/p{}/n{}/b{}", p.prompt_tokens, p.decode_tokens, p.batch); break;
        case Scenario::long_context: key += fmt::format("/l{}", p.long_positions); break;
        case Scenario::parity: key += fmt::format("/k{}", p.parity_tokens); break;
    }
    return key;
}

Comparison compare_runs(const RunDocument& base, const RunDocument& cand, const CompareOptions& options) {
    Comparison out;
    out.options = options;
    out.base_label = run_label(base);
    out.cand_label = run_label(cand);
    out.same_host = same_machine(base, cand);
    const bool gating = out.same_host || options.gate;
    std::map<std::string, const CellResult*> b, c;
    std::vector<std::string> order;  // base order, then cells only in cand
    for (const auto& cell : base.cells)
        if (cell.status != CellStatus::skipped && b.emplace(comparison_key(cell), &cell).second)
            order.push_back(comparison_key(cell));
    for (const auto& cell : cand.cells)
        if (cell.status != CellStatus::skipped && c.emplace(comparison_key(cell), &cell).second && !b.count(comparison_key(cell)))
            order.push_back(comparison_key(cell));
    for (const auto& key : order) {
        const auto bi = b.find(key), ci = c.find(key);
        CellComparison cc = compare_cell(key, bi == b.end() ? nullptr : bi->second, ci == c.end() ? nullptr : ci->second,
                                         options, gating);
        if (cc.base && cc.cand) ++out.comparable;
        if (cc.regression) ++out.regressions;
        if (cc.verdict == CompareVerdict::parity_changed && correctness(*cc.base) == Verdict::pass) ++out.parity_regressions;
        out.cells.push_back(std::move(cc));
    }
    // DESIGN.md §8, smallest applicable wins.
    out.exit_code = out.comparable == 0           ? kExitUsage
                    : out.parity_regressions > 0  ? kExitParityFail
                    : out.regressions > 0         ? kExitRegression
                                                  : kExitOk;
    return out;
}

namespace {

json optional_number(const std::optional<double>& v) { return v ? json(*v) : json(); }

double tokens_per_s(const std::optional<CellResult>& c) {
    return c && c->status == CellStatus::ok && c->throughput ? c->throughput->tokens_per_s : std::nan("");
}
double bw_fraction(const std::optional<CellResult>& c) {
    return c && c->roofline && c->roofline->bounding_fraction() ? *c->roofline->bounding_fraction() : std::nan("");
}
double peak_rss(const std::optional<CellResult>& c) {
    if (!c) return std::nan("");
    if (c->worker && c->worker->peak_rss_bytes) return double(c->worker->peak_rss_bytes);
    return c->memory ? double(c->memory->peak_rss_bytes) : std::nan("");
}
// Tokens per second per core the cell was given (its threads; 0 = the backend's default, unknown).
double per_core(const std::optional<CellResult>& c) {
    const double tps = tokens_per_s(c);
    return c && c->spec.threads > 0 ? tps / c->spec.threads : std::nan("");
}

std::string num(double v, const char* f = "{:.1f}") { return std::isnan(v) ? "" : fmt::format(fmt::runtime(f), v); }

}  // namespace

void to_json(json& j, const Comparison& c) {
    json cells = json::array();
    for (const auto& cc : c.cells)
        cells.push_back({{"key", cc.key},
                         {"verdict", cc.verdict},
                         {"why", cc.why},
                         {"regression", cc.regression},
                         {"base_id", cc.base ? json(cc.base->id) : json()},
                         {"cand_id", cc.cand ? json(cc.cand->id) : json()},
                         {"base_tokens_per_s", std::isnan(tokens_per_s(cc.base)) ? json() : json(tokens_per_s(cc.base))},
                         {"cand_tokens_per_s", std::isnan(tokens_per_s(cc.cand)) ? json() : json(tokens_per_s(cc.cand))},
                         {"speed_ratio", optional_number(cc.speed_ratio)},
                         {"speed_ratio_ci95", {optional_number(cc.speed_ratio_low), optional_number(cc.speed_ratio_high)}},
                         {"p_value", optional_number(cc.p_value)}});
    j = {{"schema", "rwkvbench-comparison"},
         {"schema_version", 1},
         {"base", c.base_label},
         {"cand", c.cand_label},
         {"same_host", c.same_host},
         {"options",
          {{"threshold", c.options.threshold}, {"alpha", c.options.alpha}, {"max_cv", c.options.max_cv}, {"gate", c.options.gate}}},
         {"cells", cells},
         {"comparable", c.comparable},
         {"regressions", c.regressions},
         {"parity_regressions", c.parity_regressions},
         {"exit_code", c.exit_code}};
}

void write_comparison(const Comparison& c, ReportFormat format, std::ostream& out) {
    if (format == ReportFormat::json) {
        out << json(c).dump(2) << "\n";
        return;
    }
    if (format != ReportFormat::table && format != ReportFormat::md)
        throw std::invalid_argument(fmt::format("compare writes table, md or json, not {}", to_string(format)));
    const bool md = format == ReportFormat::md;
    std::vector<std::string> header = {"cell", "base tok/s", "cand tok/s", "change", "95% CI", "p", "verdict"};
    if (!c.same_host)
        header.insert(header.end(), {"base %limit", "cand %limit", "base mem", "cand mem", "base tok/s/core", "cand tok/s/core"});
    std::vector<std::vector<std::string>> rows;
    for (const auto& cc : c.cells) {
        std::vector<std::string> r = {cc.key,
                                      num(tokens_per_s(cc.base)),
                                      num(tokens_per_s(cc.cand)),
                                      cc.speed_ratio ? pct(*cc.speed_ratio) : "",
                                      cc.speed_ratio ? pct(*cc.speed_ratio_low) + " to " + pct(*cc.speed_ratio_high) : "",
                                      cc.p_value ? fmt::format("{:.2g}", *cc.p_value) : "",
                                      std::string(to_string(cc.verdict)) + (cc.regression ? " REGRESSION" : "")};
        if (!c.same_host) {
            auto mib = [](double b) { return std::isnan(b) ? std::string() : fmt::format("{:.0f} MiB", b / (1 << 20)); };
            r.insert(r.end(), {num(100 * bw_fraction(cc.base), "{:.0f}%"), num(100 * bw_fraction(cc.cand), "{:.0f}%"),
                               mib(peak_rss(cc.base)), mib(peak_rss(cc.cand)), num(per_core(cc.base)), num(per_core(cc.cand))});
        }
        rows.push_back(std::move(r));
    }
    const std::string title =
        c.same_host ? fmt::format("compare: BASE {} vs CAND {}", c.base_label, c.cand_label)
                    : fmt::format("compare instances: BASE {} vs CAND {} (different hosts: regressions are reported, "
                                  "and gate only with --gate)",
                                  c.base_label, c.cand_label);
    if (md) {
        out << "**" << title << "**\n\n|";
        for (const auto& h : header) out << " " << h << " |";
        out << "\n|";
        for (size_t i = 0; i < header.size(); ++i) out << (i == 0 || i + 1 == header.size() ? " --- |" : " ---: |");
        out << "\n";
        for (const auto& r : rows) {
            out << "|";
            for (const auto& v : r) out << " " << v << " |";
            out << "\n";
        }
        out << "\n";
    } else {
        out << title << "\n";
        write_text_table(out, header, rows, [](size_t i) { return i != 0 && i != 6; });  // cell, verdict: text
        out << "\n";
    }
    const char* bullet = md ? "- " : "  ";
    for (const auto& cc : c.cells)
        if (cc.verdict != CompareVerdict::same || cc.regression) out << bullet << cc.key << ": " << to_string(cc.verdict) << ": " << cc.why << "\n";
    out << bullet
        << fmt::format("a regression is a slowdown beyond {:.0f}% with a Mann-Whitney p below {} on the repetition "
                       "samples; change and CI: Hodges-Lehmann estimate of the speed ratio",
                       100 * c.options.threshold, c.options.alpha)
        << "\n";
    out << bullet
        << fmt::format("{} comparable cell(s), {} regression(s), {} output check(s) PASS→FAIL; exit code {}", c.comparable,
                       c.regressions, c.parity_regressions, c.exit_code)
        << "\n";
}

}  // namespace rwkvb
