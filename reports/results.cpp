#include "results.hpp"

#include <fmt/format.h>

#include <map>
#include <stdexcept>
#include <tuple>

namespace rwkvb {
namespace {

using nlohmann::json;

using GroupKey = std::tuple<std::string, int64_t, std::string, std::string>;

GroupKey group_of(const CellResult& c) {
    return {c.spec.backend, c.spec.device, c.spec.workload, c.spec.dtype};
}

RunSummary summarize(std::vector<CellResult>& cells) {
    RunSummary s;
    s.cells = cells.size();
    // Parity verdict per group: the parity cell's verdict, or NOT_RUN when it did not finish. A
    // merged document holds a group once per run, so the run of origin is part of the key.
    std::map<std::pair<std::string, GroupKey>, std::pair<GroupVerdict, std::string>> groups;
    auto key_of = [](const CellResult& c) { return std::pair{c.origin.value_or(""), group_of(c)}; };
    for (const auto& c : cells) {
        if (c.spec.scenario != Scenario::parity) continue;
        GroupVerdict v = GroupVerdict::not_run;
        if (const auto own = c.parity_verdict()) {
            v = *own == Verdict::pass ? GroupVerdict::pass : GroupVerdict::fail;
            ++(v == GroupVerdict::pass ? s.parity_pass : s.parity_fail);
        }
        auto& slot = groups[key_of(c)];
        if (slot.second.empty() || v == GroupVerdict::fail) slot = {v, c.id};  // a FAIL is never hidden
    }
    for (auto& c : cells) {
        ++s.by_status[std::string(to_string(c.status))];
        GroupVerdict verdict = GroupVerdict::none;
        if (auto it = groups.find(key_of(c)); it != groups.end()) verdict = it->second.first;
        // A timed cell's speed is certified only when its own output was checked and matched the
        // golden too (DESIGN.md §6): a PASSing parity cell does not vouch for a cell that skipped work.
        const bool output_verified = !c.timed() || (c.verification && c.verification->verdict == Verdict::pass);
        const bool certified = c.status == CellStatus::ok && verdict == GroupVerdict::pass && output_verified;
        c.certification = Certification{verdict, certified};
        if (c.status == CellStatus::invalid) s.invalid_cells.push_back(c.id);
        if (c.status == CellStatus::ok && c.timed() && !certified) s.uncertified_cells.push_back(c.id);
        // Noise and contention matter for performance figures only; a parity cell's timing is not one.
        if (c.noisy()) s.noisy_cells.push_back(c.id);
        if (c.timed() && c.contended()) s.contended_cells.push_back(c.id);
    }
    for (const auto& [key, v] : groups) {
        const auto& [backend, device, workload, dtype] = key.second;
        s.parity_groups.push_back({backend, workload, dtype, device, v.first, v.second});
    }
    s.exit_code = run_exit_code(cells);
    return s;
}

json summary_json(const RunSummary& s) {
    json groups = json::array();
    for (const auto& g : s.parity_groups)
        groups.push_back({{"backend", g.backend}, {"device", g.device}, {"workload", g.workload}, {"dtype", g.dtype},
                          {"verdict", g.verdict}, {"cell", g.cell}});
    return {{"cells", s.cells},
            {"by_status", s.by_status},
            {"parity", {{"pass", s.parity_pass}, {"fail", s.parity_fail}}},
            {"parity_groups", groups},
            {"uncertified_cells", s.uncertified_cells},
            {"noisy_cells", s.noisy_cells},
            {"invalid_cells", s.invalid_cells},
            {"contended_cells", s.contended_cells},
            {"exit_code", s.exit_code}};
}

json object_or_empty(const json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_object() ? *it : json::object();
}

}  // namespace

bool nothing_ran(const std::vector<CellResult>& cells) {
    for (const auto& c : cells)
        if (c.status != CellStatus::skipped) return false;
    return true;
}

int run_exit_code(const std::vector<CellResult>& cells) {
    bool parity_fail = false, cell_failed = false;
    for (const auto& c : cells) {
        if (c.parity_verdict() == Verdict::fail) parity_fail = true;
        if (c.status == CellStatus::invalid) parity_fail = true;  // its own output failed the golden
        if (failed_to_run(c.status)) cell_failed = true;
    }
    if (parity_fail) return kExitParityFail;  // smallest applicable code wins
    // 0 means "everything ran and passed" (DESIGN.md §8): a run where nothing ran did not pass.
    if (cell_failed || nothing_ran(cells)) return kExitCellFailed;
    return kExitOk;
}

RunDocument make_run_document(json run_metadata, json system, json limits, std::vector<CellResult> cells) {
    RunDocument d;
    d.schema_version = kResultsSchemaVersion;
    d.run = run_metadata.is_object() ? std::move(run_metadata) : json::object();
    d.system = system.is_object() ? std::move(system) : json::object();
    d.limits = limits.is_object() ? std::move(limits) : json::object();
    d.cells = std::move(cells);
    d.summary = summarize(d.cells);
    return d;
}

void to_json(json& j, const RunDocument& d) {
    j = {{"schema", "rwkvbench-results"},
         {"schema_version", kResultsSchemaVersion},
         {"run", d.run},
         {"system", d.system},
         {"limits", d.limits},
         {"cells", d.cells},
         {"summary", summary_json(d.summary)}};
    if (d.runs.is_object()) j["runs"] = d.runs;
}

RunDocument run_document_from_json(const json& j) {
    if (!j.is_object() || j.value("schema", json()) != "rwkvbench-results")
        throw std::invalid_argument("not an rwkvbench results document (no \"schema\": \"rwkvbench-results\")");
    const auto version = j.find("schema_version");
    if (version == j.end() || !version->is_number_integer() || version->get<int64_t>() < 1 ||
        version->get<int64_t>() > kResultsSchemaVersion)
        throw std::invalid_argument(fmt::format("results schema_version {} is not one this rwkvbench reads (1 to {}); "
                                                "use a newer rwkvbench",
                                                version == j.end() ? "(missing)" : version->dump(),
                                                kResultsSchemaVersion));
    std::vector<CellResult> cells;
    if (const auto it = j.find("cells"); it != j.end() && it->is_array())
        for (const auto& c : *it) cells.push_back(cell_result_from_json(c));
    RunDocument d = make_run_document(object_or_empty(j, "run"), object_or_empty(j, "system"),
                                      object_or_empty(j, "limits"), std::move(cells));
    d.schema_version = int(version->get<int64_t>());
    if (const auto runs = j.find("runs"); runs != j.end() && runs->is_object()) d.runs = *runs;
    return d;
}

}  // namespace rwkvb
