#include "certify.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>

namespace rwkvb {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) {
    const auto it = j.is_object() ? j.find(key) : j.end();
    return j.is_object() && it != j.end() && it->is_string() ? it->get<std::string>() : "";
}
const json& member(const json& j, const char* key) {
    static const json null;
    const auto it = j.is_object() ? j.find(key) : j.end();
    return j.is_object() && it != j.end() ? *it : null;
}

// "2024-05-01T12:34:56Z" (utc_timestamp, host_load_snapshot) as seconds since the epoch.
std::optional<int64_t> parse_utc(const std::string& s) {
    int y, mo, d, h, mi, sec;
    char z = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &z) != 7 || z != 'Z')
        return std::nullopt;
    const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(unsigned(mo)),
                                          std::chrono::day(unsigned(d))};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
    return std::chrono::sys_days(ymd).time_since_epoch().count() * 86400 + h * 3600 + mi * 60 + sec;
}

// The timed cells the per-cell measurement rules judge: those that ran.
template <class F>
std::vector<RuleFailure> each_timed_cell_that_ran(const CertifyInput& in, F&& why) {
    std::vector<RuleFailure> out;
    for (const auto& c : in.document.cells)
        if (c.timed() && c.ran())
            if (std::string w = why(c); !w.empty()) out.push_back({c.id, std::move(w)});
    return out;
}

std::vector<RuleFailure> all_cells_ran(const CertifyInput& in) {
    std::vector<RuleFailure> out;
    std::map<std::string, const CellResult*> records;
    for (const auto& c : in.document.cells) records.emplace(c.id, &c);
    std::set<std::string> planned;
    if (in.plan.empty()) out.push_back({"", "the plan holds no cells"});
    for (const auto& p : in.plan) {
        planned.insert(p.id);
        const auto it = records.find(p.id);
        if (it == records.end()) {
            out.push_back({p.id, p.skip_reason.empty() ? "no record: the cell did not run (resume the run)"
                                                       : "planned as skipped: " + p.skip_reason});
        } else if (it->second->status != CellStatus::ok) {
            const CellResult& c = *it->second;
            out.push_back({p.id, fmt::format("status {}{}", to_string(c.status),
                                             c.status_detail.empty() ? "" : ": " + c.status_detail)});
        }
    }
    // A record the plan does not hold was not part of the suite (added or renamed later).
    for (const auto& c : in.document.cells)
        if (!planned.count(c.id)) out.push_back({c.id, "a record of a cell the plan does not hold"});
    return out;
}

std::vector<RuleFailure> parity_pass(const CertifyInput& in) {
    using Key = std::tuple<std::string, std::string, int64_t, std::string, std::string>;
    std::map<Key, std::pair<GroupVerdict, std::string>> failing;  // group → verdict, first timed cell
    for (const auto& c : in.document.cells) {
        if (!c.timed()) continue;
        const GroupVerdict v = c.certification ? c.certification->group_verdict : GroupVerdict::none;
        if (v != GroupVerdict::pass)
            failing.emplace(Key{c.origin.value_or(""), c.spec.backend, c.spec.device, c.spec.workload, c.spec.dtype},
                            std::pair{v, c.id});
    }
    std::vector<RuleFailure> out;
    for (const auto& [key, v] : failing) {
        const auto& [origin, backend, device, workload, dtype] = key;
        std::string parity_cell;
        for (const auto& g : in.document.summary.parity_groups)
            if (g.backend == backend && g.device == device && g.workload == workload && g.dtype == dtype) parity_cell = g.cell;
        const std::string group = fmt::format("group {}.{}.{}.{}", backend, device, workload, dtype);
        if (v.first == GroupVerdict::none)
            out.push_back({v.second, group + ": no parity cell (add --scenario parity)"});
        else
            out.push_back({parity_cell.empty() ? v.second : parity_cell,
                           fmt::format("{}: parity {}", group, to_string(v.first))});
    }
    return out;
}

std::vector<RuleFailure> outputs_verified(const CertifyInput& in) {
    return each_timed_cell_that_ran(in, [](const CellResult& c) -> std::string {
        if (!c.verification) return "its output was not verified";
        if (c.verification->verdict == Verdict::pass) return "";
        return "verification FAIL" + (c.verification->failures.empty() ? "" : ": " + c.verification->failures.front());
    });
}

std::vector<RuleFailure> min_measured_time(const CertifyInput& in) {
    const double bound = in.options.min_cell_time_s;
    return each_timed_cell_that_ran(in, [bound](const CellResult& c) -> std::string {
        const Stats* s = c.repetition_timing();
        if (!s || s->samples.empty()) return "no repetition samples";
        double sum = 0;
        for (double x : s->samples) sum += x;
        const double measured = sum * double(std::max<int64_t>(1, s->samples_stride));
        if (std::isfinite(measured) && measured >= bound) return "";
        return fmt::format("measured {:.3g} s, less than {:g} s (raise --min-time or --repetitions)", measured, bound);
    });
}

std::vector<RuleFailure> cv_bound(const CertifyInput& in) {
    const double bound = in.options.max_cv;
    return each_timed_cell_that_ran(in, [bound](const CellResult& c) -> std::string {
        const Stats* s = c.repetition_timing();
        const std::optional<double> cv = c.noise ? std::optional(c.noise->cv) : s ? std::optional(s->cv) : std::nullopt;
        if (!cv) return "no repetition CV recorded";
        if (std::isfinite(*cv) && *cv <= bound) return "";
        return fmt::format("repetition CV {:.3g} above {:g}", *cv, bound);
    });
}

std::vector<RuleFailure> quiet_host(const CertifyInput& in) {
    std::optional<double> max_load = in.options.max_load;
    if (!max_load) {
        const json& n = member(member(in.document.system, "cpu"), "logical_cpus");
        if (n.is_number() && n.get<double>() > 0) max_load = n.get<double>();
    }
    std::vector<RuleFailure> out;
    if (!max_load) out.push_back({"", "the system record holds no logical_cpus to bound the load by: pass --max-load"});
    auto cells = each_timed_cell_that_ran(in, [&](const CellResult& c) -> std::string {
        std::vector<std::string> why;
        // The harness's verdict: other processes' CPU and steal beyond the bound, net of what
        // /proc/stat's ticks cannot resolve (contention.hpp).
        if (!c.contention || !c.contention->foreign_cpu_cores) why.push_back("contention not measured");
        else if (c.contention->contended)
            why.push_back(fmt::format("contended: other processes {:.2f} cores, steal {:.2f}, bound {:.2f}",
                                      *c.contention->foreign_cpu_cores, c.contention->steal_cores.value_or(0),
                                      c.contention->bound_cores));
        for (const char* when : {"before", "after"}) {
            const json& load = member(member(c.host_load, when), "loadavg");
            if (!load.is_array() || load.empty() || !load[0].is_number())
                why.push_back(fmt::format("load average {} not recorded", when));
            else if (max_load && load[0].get<double>() > *max_load)
                why.push_back(fmt::format("load average {} {:.2f} above {:g}", when, load[0].get<double>(), *max_load));
        }
        std::string all;
        for (const auto& w : why) all += (all.empty() ? "" : "; ") + w;
        return all;
    });
    out.insert(out.end(), cells.begin(), cells.end());
    return out;
}

std::vector<RuleFailure> release_build(const CertifyInput& in) {
    std::vector<RuleFailure> out;
    const json& run = in.document.run;
    if (const std::string type = text(run, "build_type"); type != "Release")
        out.push_back({"", type.empty() ? "no build_type recorded" : fmt::format("build_type {}, not Release", type)});
    const std::string git = text(run, "git_hash");
    if (git.empty() || git == "unknown") out.push_back({"", "no git hash recorded: the tree it was built from is unknown"});
    else if (git.ends_with("-dirty")) out.push_back({"", fmt::format("built from a modified tree ({})", git)});
    return out;
}

std::vector<RuleFailure> limits_fresh(const CertifyInput& in) {
    const json& lim = in.document.limits;
    const json& run = in.document.run;
    if (!lim.is_object() || !member(lim, "memory_read_gbps").is_number())
        return {{"", "no machine limits recorded (run `rwkvbench limits` on this host before the run)"}};
    std::vector<RuleFailure> out;
    std::string host = text(run, "hostname");
    if (host.empty()) host = text(member(in.document.system, "os"), "hostname");
    if (const std::string lh = text(lim, "host"); lh.empty() || lh != host)
        out.push_back({"", fmt::format("limits of host '{}', the run's is '{}'", lh, host)});
    if (const std::string stale = text(lim, "stale"); !stale.empty())
        out.push_back({"", "the run used stale limits: " + stale});
    const auto measured = parse_utc(text(lim, "measured_at"));
    const auto started = parse_utc(text(run, "timestamp_utc"));
    if (!measured) out.push_back({"", "the limits hold no readable measured_at"});
    if (!started) out.push_back({"", "the run holds no readable timestamp_utc"});
    if (measured && started) {
        const double days = double(*started - *measured) / 86400;
        if (std::abs(days) > in.options.limits_max_age_days)
            out.push_back({"", fmt::format("limits measured {:.1f} days {} the run, more than {}", std::abs(days),
                                           days >= 0 ? "before" : "after", in.options.limits_max_age_days)});
    }
    if (member(member(lim, "measured_under"), "contended") == json(true))
        out.push_back({"", "the limits were measured under contention (run `rwkvbench limits --force` on a quiet host)"});
    return out;
}

std::string verdict_text(bool valid) { return valid ? "VALID" : "INVALID"; }

}  // namespace

const std::vector<CertifyRule>& certify_rules() {
    static const std::vector<CertifyRule> rules = {
        {"all_cells_ran", "every planned cell ran with status ok (a skipped cell did not run)", all_cells_ran},
        {"parity_pass", "every group with a timed cell has a parity cell that PASSed", parity_pass},
        {"outputs_verified", "every timed cell's own output was verified (PASS)", outputs_verified},
        {"min_measured_time", "every timed cell measured at least the minimum time", min_measured_time},
        {"cv_bound", "every timed cell's repetition CV is within the bound", cv_bound},
        {"quiet_host", "no contention while a timed cell ran; load average before and after within the bound",
         quiet_host},
        {"release_build", "a Release build from a known, clean tree", release_build},
        {"limits_fresh", "machine limits of this host, measured near the run and not under contention", limits_fresh},
    };
    return rules;
}

std::vector<std::string> CertifyReport::failed_rules() const {
    std::vector<std::string> out;
    for (const auto& r : rules)
        if (r.verdict == Verdict::fail) out.push_back(r.id);
    return out;
}

CertifyReport certify_run(const RunDocument& document, const std::vector<PlannedCellRef>& plan,
                          const CertifyOptions& options) {
    if (document.runs.is_object() && !document.runs.empty())
        throw std::invalid_argument("a merged document holds several runs: certify each run's directory before merging");
    const CertifyInput in{document, plan, options};
    CertifyReport report;
    report.valid = true;
    for (const auto& rule : certify_rules()) {
        RuleOutcome o{std::string(rule.id), std::string(rule.description), Verdict::pass, rule.check(in)};
        if (!o.failures.empty()) {
            o.verdict = Verdict::fail;
            report.valid = false;
        }
        report.rules.push_back(std::move(o));
    }
    return report;
}

std::string canonical_results_text(const json& results) { return results.dump(); }

json make_certificate(const CertifyReport& report, const RunDocument& document, const CertifyOptions& options,
                      const std::string& results_sha256, const std::string& results_file) {
    json rules = json::array();
    for (const auto& r : report.rules) {
        json failures = json::array();
        for (const auto& f : r.failures) failures.push_back({{"cell", f.cell}, {"detail", f.detail}});
        rules.push_back({{"id", r.id}, {"description", r.description}, {"verdict", r.verdict}, {"failures", failures}});
    }
    return {{"schema", kCertificateSchema},
            {"schema_version", kCertificateSchemaVersion},
            {"verdict", verdict_text(report.valid)},
            {"rules", rules},
            {"bounds",
             {{"min_cell_time_s", options.min_cell_time_s},
              {"max_cv", options.max_cv},
              {"max_load", options.max_load ? json(*options.max_load) : json("logical_cpus")},
              {"limits_max_age_days", options.limits_max_age_days}}},
            {"system", document.system},
            {"run", document.run},
            {"results_sha256", results_sha256},
            {"results_file", results_file}};
}

CertificateCheck check_certificate(const json& cert, const std::string& results_sha256) {
    if (!cert.is_object() || member(cert, "schema") != json(kCertificateSchema))
        throw std::invalid_argument("not an rwkvbench certificate (no \"schema\": \"rwkvbench-certificate\")");
    if (member(cert, "schema_version") != json(kCertificateSchemaVersion))
        throw std::invalid_argument(fmt::format("certificate schema_version {} is not one this rwkvbench reads ({})",
                                                member(cert, "schema_version").dump(), kCertificateSchemaVersion));
    const std::string sha = text(cert, "results_sha256"), verdict = text(cert, "verdict");
    if (sha.size() != 64 || (verdict != "VALID" && verdict != "INVALID"))
        throw std::invalid_argument("the certificate holds no results_sha256 or no VALID/INVALID verdict");
    CertificateCheck c;
    c.hash_matches = sha == results_sha256;
    c.certified_valid = verdict == "VALID";
    if (const json& rules = member(cert, "rules"); rules.is_array())
        for (const auto& r : rules)
            if (text(r, "verdict") == "FAIL") c.failed_rules.push_back(text(r, "id"));
    // A VALID verdict beside a FAILed rule was edited by hand.
    if (c.certified_valid && !c.failed_rules.empty()) c.certified_valid = false;
    return c;
}

std::vector<std::string> rules_contradicting(const json& cert, const RunDocument& results) {
    if (results.runs.is_object() && !results.runs.empty()) return {};  // never certified: the hash decides
    CertifyOptions o;
    const json& b = member(cert, "bounds");
    if (const json& v = member(b, "min_cell_time_s"); v.is_number()) o.min_cell_time_s = v.get<double>();
    if (const json& v = member(b, "max_cv"); v.is_number()) o.max_cv = v.get<double>();
    if (const json& v = member(b, "max_load"); v.is_number()) o.max_load = v.get<double>();
    if (const json& v = member(b, "limits_max_age_days"); v.is_number_integer()) o.limits_max_age_days = v.get<int>();
    std::vector<PlannedCellRef> plan;
    for (const auto& c : results.cells) plan.push_back({c.id, ""});
    std::map<std::string, std::string> said;
    if (const json& rules = member(cert, "rules"); rules.is_array())
        for (const auto& r : rules) said[text(r, "id")] = text(r, "verdict");
    std::vector<std::string> out;
    for (const auto& r : certify_run(results, plan, o).rules)
        if (r.verdict == Verdict::fail && said[r.id] != "FAIL") out.push_back(r.id);
    return out;
}

}  // namespace rwkvb
