#include "results.hpp"

#include <map>
#include <set>
#include <tuple>

namespace rwkvb {
namespace {

using nlohmann::json;

using GroupKey = std::tuple<std::string, int64_t, std::string, std::string>;

GroupKey group_of(const json& cell) {
    const json& s = cell.contains("spec") && cell["spec"].is_object() ? cell["spec"] : json::object();
    auto str = [&](const char* k) { return s.contains(k) && s[k].is_string() ? s[k].get<std::string>() : std::string(); };
    const int64_t dev = s.contains("device") && s["device"].is_number_integer() ? s["device"].get<int64_t>() : 0;
    return {str("backend"), dev, str("workload"), str("dtype")};
}

std::string scenario_of(const json& cell) {
    if (!cell.contains("spec") || !cell["spec"].is_object()) return "";
    return text_field(cell["spec"], "scenario", "");
}

bool failed_to_run(const std::string& status) {
    return status == "crashed" || status == "timeout" || status == "oom" || status == "load-error" || status == "error";
}

}  // namespace

std::string text_field(const json& j, const char* key, const std::string& fallback) {
    if (!j.is_object()) return fallback;
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

bool flag_field(const json& j, const char* key) {
    if (!j.is_object()) return false;
    const auto it = j.find(key);
    return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::string own_parity_verdict(const json& cell) {
    if (text_field(cell, "status", "") != "ok") return "";
    auto p = cell.find("parity");
    if (p == cell.end() || !p->is_object()) return "";
    return text_field(*p, "verdict", "");
}

std::string verification_verdict(const json& cell) {
    auto v = cell.find("verification");
    if (v == cell.end() || !v->is_object()) return "";
    return text_field(*v, "verdict", "");
}

const json* primary_timing(const json& cell) {
    auto t = cell.find("timings");
    if (t == cell.end() || !t->is_object()) return nullptr;
    for (const char* key : {"forward", "step", "token"})
        if (auto it = t->find(key); it != t->end() && it->is_object()) return &*it;
    return nullptr;
}

json make_run_document(json run_metadata, json system, json limits, json cells) {
    if (!cells.is_array()) cells = json::array();
    if (!limits.is_object()) limits = json::object();

    // Parity verdict per group: the parity cell's verdict, or NOT_RUN when it did not finish.
    std::map<GroupKey, std::pair<std::string, std::string>> groups;  // key → (verdict, cell id)
    int pass = 0, fail = 0;
    for (const auto& c : cells) {
        if (scenario_of(c) != "parity") continue;
        std::string v = own_parity_verdict(c);
        if (v == "PASS") ++pass;
        else if (v == "FAIL") ++fail;
        else v = "NOT_RUN";
        auto& slot = groups[group_of(c)];
        if (slot.first.empty() || v == "FAIL") slot = {v, text_field(c, "id", "")};  // a FAIL is never hidden
    }

    json by_status = json::object(), uncertified = json::array(), noisy = json::array(), invalid = json::array();
    for (auto& c : cells) {
        // Not a record at all (a results file edited by hand, say): counted as a cell that errored.
        if (!c.is_object()) c = {{"status", "error"}, {"status_detail", "error: not a cell record"}};
        const std::string status = text_field(c, "status", "error");
        by_status[status] = by_status.value(status, 0) + 1;
        std::string verdict = "NONE";
        if (auto it = groups.find(group_of(c)); it != groups.end()) verdict = it->second.first;
        // A timed cell's speed is certified only when its own output was checked and matched the
        // golden too (DESIGN.md §6): a PASSing parity cell does not vouch for a cell that skipped work.
        const bool timed = scenario_of(c) != "parity";
        const bool output_verified = !timed || verification_verdict(c) == "PASS";
        const bool certified = status == "ok" && verdict == "PASS" && output_verified;
        if (status == "invalid") invalid.push_back(text_field(c, "id", ""));
        c["certification"] = {{"group_verdict", verdict}, {"certified", certified}};
        if (status == "ok" && scenario_of(c) != "parity" && !certified) uncertified.push_back(text_field(c, "id", ""));
        // Noise matters for performance figures only; a parity cell's timing is not one.
        if (flag_field(c, "noisy") && scenario_of(c) != "parity") noisy.push_back(text_field(c, "id", ""));
    }
    json group_list = json::array();
    for (const auto& [key, v] : groups)
        group_list.push_back({{"backend", std::get<0>(key)}, {"device", std::get<1>(key)}, {"workload", std::get<2>(key)},
                              {"dtype", std::get<3>(key)}, {"verdict", v.first}, {"cell", v.second}});

    json doc = {{"schema", "rwkvbench-results"},
                {"schema_version", kResultsSchemaVersion},
                {"run", run_metadata.is_object() ? run_metadata : json::object()},
                {"system", system.is_object() ? system : json::object()},
                {"limits", limits},
                {"cells", cells}};
    doc["summary"] = {{"cells", cells.size()},
                      {"by_status", by_status},
                      {"parity", {{"pass", pass}, {"fail", fail}}},
                      {"parity_groups", group_list},
                      {"uncertified_cells", uncertified},
                      {"noisy_cells", noisy},
                      {"invalid_cells", invalid},
                      {"exit_code", 0}};
    doc["summary"]["exit_code"] = run_exit_code(doc);
    return doc;
}

bool nothing_ran(const json& doc) {
    if (auto cells = doc.find("cells"); cells != doc.end() && cells->is_array())
        for (const auto& c : *cells)
            if (text_field(c, "status", "error") != "skipped") return false;
    return true;
}

int run_exit_code(const json& doc) {
    bool parity_fail = false, cell_failed = false;
    if (auto cells = doc.find("cells"); cells != doc.end() && cells->is_array())
        for (const auto& c : *cells) {
            if (scenario_of(c) == "parity" && own_parity_verdict(c) == "FAIL") parity_fail = true;
            if (text_field(c, "status", "") == "invalid") parity_fail = true;  // its own output failed the golden
            if (failed_to_run(text_field(c, "status", "error"))) cell_failed = true;
        }
    if (parity_fail) return 3;  // smallest applicable code wins
    // 0 means "everything ran and passed" (DESIGN.md §8): a run where nothing ran did not pass.
    if (cell_failed || nothing_ran(doc)) return 4;
    return 0;
}

}  // namespace rwkvb
