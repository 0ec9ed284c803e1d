#include "merge.hpp"

#include "text_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
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

json object_at(const json& j, const char* key) {
    const auto it = j.is_object() ? j.find(key) : j.end();
    return j.is_object() && it != j.end() && it->is_object() ? *it : json::object();
}

// One run to merge: a plain input, or one run of a merged input.
struct Unit {
    std::string file;                  // the argument it came from
    std::string name;                  // for errors: the file, and the run's id inside a merged one
    std::string source;                // runs[id].source: the file the run was first merged from
    std::optional<std::string> keep;   // the id a merged input gave it
    json run, system, limits;
    std::vector<CellResult> cells;
    size_t index = 0;                  // order of the arguments
};

std::vector<Unit> units_of(const MergeInput& in, size_t& index) {
    std::vector<Unit> out;
    const RunDocument& d = in.document;
    if (!d.runs.is_object() || d.runs.empty()) {
        Unit u{in.source, in.source, in.source, std::nullopt, d.run, d.system, d.limits, d.cells, index++};
        for (auto& c : u.cells) c.origin.reset();  // a single run's cells are its own
        out.push_back(std::move(u));
        return out;
    }
    std::map<std::string, size_t> by_id;
    for (const auto& [id, r] : d.runs.items()) {
        if (!r.is_object()) throw std::invalid_argument(fmt::format("{}: runs[\"{}\"] is not an object", in.source, id));
        const std::string src = text(r, "source");
        by_id[id] = out.size();
        out.push_back(Unit{in.source, fmt::format("{} (run {})", in.source, id), src.empty() ? in.source : src, id,
                           object_at(r, "run"), object_at(r, "system"), object_at(r, "limits"), {}, index++});
    }
    for (const auto& c : d.cells) {
        const auto it = c.origin ? by_id.find(*c.origin) : by_id.end();
        if (it == by_id.end())
            throw std::invalid_argument(fmt::format("{}: cell {} names run '{}', which its \"runs\" does not hold",
                                                    in.source, c.id, c.origin.value_or("(none)")));
        out[it->second].cells.push_back(c);
    }
    return out;
}

// Why a and b are the same run ("" when they are not): the same run directory, or the same start
// time, host and command line (a copy of a run directory moved elsewhere).
std::string same_run(const Unit& a, const Unit& b) {
    const std::string dir = text(a.run, "run_dir");
    if (!dir.empty() && dir == text(b.run, "run_dir")) return "run directory " + dir;
    const std::string when = text(a.run, "timestamp_utc");
    if (!when.empty() && when == text(b.run, "timestamp_utc") && text(a.run, "hostname") == text(b.run, "hostname") &&
        a.run.value("command_line", json()) == b.run.value("command_line", json()))
        return fmt::format("started {} on {} by the same command line", when, text(a.run, "hostname"));
    return "";
}

std::string free_id(const std::string& base, const std::set<std::string>& taken) {
    if (!taken.count(base)) return base;
    for (int n = 2;; ++n)
        if (const std::string id = fmt::format("{}#{}", base, n); !taken.count(id)) return id;
}

}  // namespace

std::string run_host_label(const json& run, const json& system) {
    std::string host = text(run, "hostname");
    if (host.empty()) host = text(object_at(system, "os"), "hostname");
    return host.empty() ? "run" : host;
}

RunDocument merge_runs(const std::vector<MergeInput>& inputs) {
    std::vector<Unit> units;
    size_t index = 0;
    for (const auto& in : inputs)
        for (auto& u : units_of(in, index)) units.push_back(std::move(u));

    for (size_t i = 0; i < units.size(); ++i)
        for (size_t j = i + 1; j < units.size(); ++j)
            if (const std::string why = same_run(units[i], units[j]); !why.empty())
                throw std::invalid_argument(fmt::format("{} and {} hold the same run ({}); give each run once",
                                                        units[i].name, units[j].name, why));
    for (const auto& u : units) {
        std::set<std::string> ids;
        for (const auto& c : u.cells)
            if (!ids.insert(c.id).second)
                throw std::invalid_argument(fmt::format("{}: cell {} appears twice in one run", u.name, c.id));
    }

    // Ids: kept ones first (argument order), then the rest by host and start time (module comment).
    std::vector<std::string> id(units.size());
    std::set<std::string> taken;
    std::vector<size_t> fresh;
    for (size_t i = 0; i < units.size(); ++i) {
        if (units[i].keep && !taken.count(*units[i].keep)) taken.insert(id[i] = *units[i].keep);
        else fresh.push_back(i);
    }
    std::stable_sort(fresh.begin(), fresh.end(), [&](size_t a, size_t b) {
        return std::tuple(text(units[a].run, "timestamp_utc"), units[a].index) <
               std::tuple(text(units[b].run, "timestamp_utc"), units[b].index);
    });
    for (size_t i : fresh) taken.insert(id[i] = free_id(run_host_label(units[i].run, units[i].system), taken));

    std::vector<CellResult> cells;
    json runs = json::object(), sources = json::array();
    for (const auto& in : inputs) sources.push_back(in.source);
    for (size_t i = 0; i < units.size(); ++i) {
        for (auto c : units[i].cells) {
            c.origin = id[i];
            cells.push_back(std::move(c));
        }
        runs[id[i]] = {{"run", units[i].run}, {"system", units[i].system}, {"limits", units[i].limits},
                       {"source", units[i].source}};
    }
    RunDocument d = make_run_document({{"tool", "rwkvbench"}, {"merged_from", sources}}, json::object(),
                                      json::object(), std::move(cells));
    d.runs = std::move(runs);
    return d;
}

// ---- the fleet table ---------------------------------------------------------------------------

namespace {

std::string params_text(const CellSpec& s) {
    const auto& p = s.params;
    std::string t = s.threads == 0 ? "t=auto" : fmt::format("t{}", s.threads);
    switch (s.scenario) {
        case Scenario::prefill: return fmt::format("{} p{}", t, p.prompt_tokens);
        case Scenario::decode: return fmt::format("{} p{} n{}", t, p.prompt_tokens, p.decode_tokens);
        case Scenario::batch: return fmt::format("{} p{} n{} b{}", t, p.prompt_tokens, p.decode_tokens, p.batch);
        case Scenario::long_context: return fmt::format("{} L{}", t, p.long_positions);
        case Scenario::parity: return fmt::format("{} n{}", t, p.parity_tokens);
    }
    return t;
}

struct Value {
    std::string display, raw, status;  // raw: csv tokens/s; status: csv status column
};

Value value_of(const CellResult& c) {
    Value v;
    if (c.status != CellStatus::ok) {
        v.display = v.status = std::string(to_string(c.status));
        return v;
    }
    if (!c.timed()) {
        v.display = v.status = c.parity ? std::string(to_string(c.parity->verdict)) : "ok";
        return v;
    }
    const bool certified = c.certification && c.certification->certified;
    const double tps = c.throughput ? c.throughput->tokens_per_s : std::nan("");
    v.raw = std::isnan(tps) ? "" : fmt::format("{}", tps);
    const std::string num = std::isnan(tps) ? "?" : fmt::format("{:.1f}", tps);
    v.display = certified ? num : "[" + num + "]";  // uncertified is never shown as certified
    v.status = certified ? "certified" : "uncertified";
    for (const auto& [flag, word] : {std::pair{c.noisy(), "noisy"}, {c.contended(), "contended"}})
        if (flag) {
            v.display += fmt::format(" ({})", word);
            v.status += std::string(";") + word;
        }
    return v;
}

struct FleetRow {
    std::vector<std::string> key;          // backend, device, workload, scenario, dtype, params
    std::map<std::string, Value> values;   // by origin
};

struct Fleet {
    std::vector<std::string> origins;
    std::vector<FleetRow> rows;
    std::vector<std::string> notes;
};

const std::vector<std::string> kKeyColumns = {"backend", "device", "workload", "scenario", "dtype", "params"};

Fleet fleet_of(const RunDocument& d) {
    Fleet f;
    const std::string single = run_host_label(d.run, d.system);
    std::map<std::vector<std::string>, size_t> index;
    auto add_origin = [&](const std::string& o) {
        if (std::find(f.origins.begin(), f.origins.end(), o) == f.origins.end()) f.origins.push_back(o);
    };
    for (const auto& c : d.cells) {
        const std::string origin = c.origin.value_or(single);
        add_origin(origin);
        std::vector<std::string> key = {c.spec.backend, std::to_string(c.spec.device), c.spec.workload,
                                        std::string(to_string(c.spec.scenario)), c.spec.dtype, params_text(c.spec)};
        auto [it, added] = index.emplace(key, f.rows.size());
        if (added) f.rows.push_back({key, {}});
        auto& slot = f.rows[it->second].values;
        Value v = value_of(c);
        // Two cells of one run in one row (they differ in what the row does not show, e.g. a seed).
        if (auto old = slot.find(origin); old != slot.end()) {
            v.display = old->second.display + " / " + v.display;
            v.raw = old->second.raw;
            v.status = old->second.status + " / " + v.status;
            f.notes.push_back(fmt::format("{}: several cells of run {} share one row (first shown in csv)", c.id, origin));
        }
        slot[origin] = v;
    }
    if (d.runs.is_object())
        for (const auto& [o, r] : d.runs.items()) add_origin(o);

    std::vector<std::string> run_lines;  // one per run, before the other notes
    for (const auto& o : f.origins) {
        json run = d.run, system = d.system;
        std::string source;
        if (d.runs.is_object() && d.runs.contains(o)) {
            run = object_at(d.runs[o], "run");
            system = object_at(d.runs[o], "system");
            source = text(d.runs[o], "source");
        }
        std::vector<std::string> parts;
        for (const std::string& s : {text(object_at(system, "cpu"), "model"), text(run, "timestamp_utc")})
            if (!s.empty()) parts.push_back(s);
        if (const std::string git = text(run, "git_hash"); !git.empty())
            parts.push_back(fmt::format("git {}{}", git, text(run, "build_type").empty() ? "" : " " + text(run, "build_type")));
        if (!source.empty()) parts.push_back(source);
        std::string line = o + ":";
        for (size_t i = 0; i < parts.size(); ++i) line += (i ? ", " : " ") + parts[i];
        run_lines.push_back(line);
    }
    f.notes.insert(f.notes.begin(), run_lines.begin(), run_lines.end());
    f.notes.push_back("tokens/s of each run; [x]: uncertified (its parity group did not PASS or its own output was not "
                      "verified); parity rows: the parity verdict; otherwise the cell's status");
    return f;
}

}  // namespace

void write_fleet_table(const RunDocument& d, ReportFormat format, std::ostream& out) {
    const Fleet f = fleet_of(d);
    std::vector<std::string> header = kKeyColumns;
    header.insert(header.end(), f.origins.begin(), f.origins.end());
    auto display_row = [&](const FleetRow& r) {
        auto cells = r.key;
        for (const auto& o : f.origins) cells.push_back(r.values.count(o) ? r.values.at(o).display : "");
        return cells;
    };
    switch (format) {
        case ReportFormat::table: {
            std::vector<std::vector<std::string>> rows;
            for (const auto& r : f.rows) rows.push_back(display_row(r));
            write_text_table(out, header, rows, [](size_t i) { return i >= kKeyColumns.size(); });
            out << "\n";
            for (const auto& n : f.notes) out << "  " << n << "\n";
            return;
        }
        case ReportFormat::md: {
            auto cell = [](const std::string& s) {
                std::string o;
                for (char c : s) o += c == '|' ? std::string("\\|") : std::string(1, c);
                return o;
            };
            auto line = [&](const std::vector<std::string>& cells) {
                out << "|";
                for (const auto& c : cells) out << " " << cell(c) << " |";
                out << "\n";
            };
            line(header);
            out << "|";
            for (size_t i = 0; i < header.size(); ++i) out << (i >= kKeyColumns.size() ? " ---: |" : " --- |");
            out << "\n";
            for (const auto& r : f.rows) line(display_row(r));
            out << "\n";
            for (const auto& n : f.notes) out << "- " << cell(n) << "\n";
            return;
        }
        case ReportFormat::csv: {
            auto field = [](const std::string& s) {  // RFC 4180 quoting
                if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
                std::string q = "\"";
                for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
                return q + "\"";
            };
            auto line = [&](const std::vector<std::string>& cells) {
                for (size_t i = 0; i < cells.size(); ++i) out << (i ? "," : "") << field(cells[i]);
                out << "\r\n";
            };
            std::vector<std::string> h = kKeyColumns;
            for (const auto& o : f.origins) h.insert(h.end(), {o + " tok/s", o + " status"});
            line(h);
            for (const auto& r : f.rows) {
                auto cells = r.key;
                for (const auto& o : f.origins) {
                    const auto it = r.values.find(o);
                    cells.push_back(it == r.values.end() ? "" : it->second.raw);
                    cells.push_back(it == r.values.end() ? "" : it->second.status);
                }
                line(cells);
            }
            return;
        }
        case ReportFormat::json: break;
    }
    throw std::invalid_argument("the fleet table is written as table, md or csv (the merged document is the JSON)");
}

}  // namespace rwkvb
