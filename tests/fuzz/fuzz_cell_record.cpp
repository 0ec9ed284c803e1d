// Fuzz target for a cell record read back from disk — cells/<id>.json by `run --resume`
// (RunDirectory::read_cell), or the record a worker wrote, which a plugin in that worker can
// write anything into (the parent accepts it under the same rule) — and for everything the
// record then feeds: the check that it was made for the plan's spec (record_spec_mismatch), the
// worker's outcome (classify_outcome, stamp_spec), the record file written back,
// the results document (make_run_document, run_exit_code, nothing_ran) and every report writer.
//
// Any bytes must end in "not ours" (read_cell returns nothing: the cell is simply run again) or
// in a document that every writer renders as valid UTF-8. Anything else is a bug: an exception,
// a crash, a sanitizer report, a hang.
//
// Real fuzzing needs clang (see CMakeLists.txt); other compilers run the same function under
// json_replay_main.cpp.
#include "run/cell.hpp"
#include "json_fuzz_support.hpp"
#include "results.hpp"
#include "run/run_directory.hpp"
#include "io/untrusted_json.hpp"
#include "run/worker_process.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace {

constexpr const char* kTarget = "fuzz_cell_record";

// The id the record claims, when it is one a real plan could hold (CellSpec::id makes file names
// of [A-Za-z0-9_+-.]); otherwise a fixed one, under which the record is simply "not ours".
std::string claimed_id(const uint8_t* data, size_t size) {
    const auto j = rwkvb::parse_untrusted_json({reinterpret_cast<const char*>(data), size});
    std::string id = "reference.0.rwkv7-tiny.decode.f32";
    if (!j.is_object()) return id;
    const auto it = j.find("id");
    if (it == j.end() || !it->is_string()) return id;
    const std::string claimed = it->get<std::string>();
    if (claimed.empty() || claimed.size() > 200 || claimed == "." || claimed == "..") return id;
    for (char c : claimed)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '+' || c == '.'))
            return id;
    return claimed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const rwkvb::RunDirectory dir = [] {
        const std::string empty_plan = R"({"cells": []})";
        const auto& root = rwkvb::fuzz::scratch_run_dir();
        rwkvb::fuzz::put_bytes(root / "plan.json", reinterpret_cast<const uint8_t*>(empty_plan.data()), empty_plan.size());
        return rwkvb::RunDirectory::open(root);
    }();
    const std::string id = claimed_id(data, size);
    rwkvb::fuzz::put_bytes(dir.cell_file(id), data, size);
    const auto record = dir.read_cell(id);
    std::filesystem::remove(dir.cell_file(id));
    if (!record) return 0;  // not ours: resume runs the cell again

    // --resume: was the record made for the plan's spec? Asked with the spec it holds (the match
    // path) and with another (the path that lists differences).
    rwkvb::CellSpec own;
    try {
        own = record->at("spec").get<rwkvb::CellSpec>();
    } catch (const nlohmann::json::exception&) {
        // no usable spec: the default one stands in
    }
    (void)rwkvb::record_spec_mismatch(*record, own);
    (void)rwkvb::record_spec_mismatch(*record, rwkvb::CellSpec{});

    // The same record as a worker's: the parent classifies it, adds host load, stamps its own
    // spec and stores it.
    rwkvb::ProcessOutcome clean_exit;
    clean_exit.exit_code = rwkvb::kWorkerOk;
    rwkvb::CellResult stored =
        rwkvb::cell_result_from_json(rwkvb::classify_outcome(own, clean_exit, *record, rwkvb::WorkerLimits{}));
    stored.host_load = {{"before", nlohmann::json::object()}, {"after", nlohmann::json::object()}};
    rwkvb::stamp_spec(stored, own);
    dir.write_cell(stored);
    std::filesystem::remove(dir.cell_file(id));

    const rwkvb::CellResult as_read = rwkvb::cell_result_from_json(*record);
    for (const auto& cells : {std::vector<rwkvb::CellResult>{as_read}, std::vector<rwkvb::CellResult>{stored, as_read}}) {
        const auto doc = rwkvb::make_run_document(nlohmann::json::object(), nlohmann::json::object(),
                                                  nlohmann::json::object(), cells);
        rwkvb::fuzz::check_document_renders(kTarget, doc);
    }
    return 0;
}
