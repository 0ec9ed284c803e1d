// Fuzz target for the run plan that `run --resume` reads back (plan.json): RunDirectory::read_plan,
// then the cells and synthetic models as cmd_run.cpp takes them (PlannedCell,
// CellSpec, ScenarioParams and SyntheticModel from_json), and what resume does with them next:
// each cell's id names its record file, its spec goes to a worker as JSON, and the run metadata
// goes into the results document.
//
// Any bytes must end in InputError (read_plan) or a nlohmann::json::exception from the
// conversions (cmd_run.cpp turns it into InputError "malformed plan"), or in cells whose ids
// are safe file names and whose specs survive the round trip. Anything else is a bug: another
// exception, a crash, a sanitizer report, a hang.
//
// Real fuzzing needs clang (see CMakeLists.txt); other compilers run the same function under
// json_replay_main.cpp.
#include "errors.hpp"
#include "json_fuzz_support.hpp"
#include "run/plan.hpp"
#include "results.hpp"
#include "run/run_directory.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

constexpr const char* kTarget = "fuzz_run_plan";

// What CellSpec::id promises: one file name, made of [A-Za-z0-9_+-] fields joined by '.'.
void check_id(const std::string& id) {
    if (id.empty() || id == "." || id == "..") rwkvb::fuzz::invariant_broken(kTarget, "empty or dot id: " + id);
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '-' || c == '+' || c == '.';
        if (!ok) rwkvb::fuzz::invariant_broken(kTarget, "id is not a plain file name: " + id);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using rwkvb::PlannedCell;
    using rwkvb::SyntheticModel;
    // Opened once (open() takes the directory's lock and reads the plan as read_plan does): the
    // parsing under test is read_plan, run on every input.
    static const rwkvb::RunDirectory dir = [] {
        const std::string empty_plan = R"({"cells": []})";
        const auto& root = rwkvb::fuzz::scratch_run_dir();
        rwkvb::fuzz::put_bytes(root / "plan.json", reinterpret_cast<const uint8_t*>(empty_plan.data()), empty_plan.size());
        return rwkvb::RunDirectory::open(root);
    }();
    rwkvb::fuzz::put_bytes(dir.plan_file(), data, size);

    nlohmann::json plan;
    try {
        plan = dir.read_plan();
    } catch (const rwkvb::InputError&) {
        return 0;  // refused with one line: fine
    }
    std::vector<PlannedCell> cells;
    std::vector<SyntheticModel> models;
    try {  // exactly as cmd_run.cpp, which reports these as "malformed plan"
        cells = plan.at("cells").get<std::vector<PlannedCell>>();
        models = plan.value("models", nlohmann::json::array()).get<std::vector<SyntheticModel>>();
    } catch (const nlohmann::json::exception&) {
        return 0;
    }
    // cmd_run.cpp takes the stored run metadata as it is and notes who resumed it.
    nlohmann::json metadata = plan.value("run", nlohmann::json::object());
    metadata["resumed_by"] = "rwkvbench run --resume DIR";

    for (const PlannedCell& c : cells) {
        const std::string id = c.spec.id();
        check_id(id);
        (void)rwkvb::spec_hash(c.spec);  // stored beside each planned cell and record
        const nlohmann::json handed_to_worker = c.spec;
        (void)handed_to_worker.dump(2);
        if (handed_to_worker.get<rwkvb::CellSpec>().id() != id)
            rwkvb::fuzz::invariant_broken(kTarget, "the spec a worker reads back has another id than " + id);
    }
    for (const SyntheticModel& m : models) (void)nlohmann::json(m).dump();
    rwkvb::fuzz::check_document_renders(kTarget, rwkvb::make_run_document(metadata, {}, {}, {}));
    return 0;
}
