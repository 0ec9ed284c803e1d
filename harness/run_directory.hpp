// The on-disk layout of one run (DESIGN.md §3), which is what makes a killed run resumable:
//   plan.json          run metadata + every planned cell (written first)
//   environment.json   what workers need besides their spec (cache dir, machine limits)
//   cells/<id>.json    each finished cell's record, written atomically before the next starts
//   work/              specs handed to workers and the records they write back
//   results.json       the whole run document, rewritten atomically after every cell
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace rwkvb {

class RunDirectory {
public:
    // A new run directory; InputError if `dir` already holds a run (plan.json).
    static RunDirectory create(const std::filesystem::path& dir);
    // An existing run (for --resume); InputError naming the directory if it has no valid plan.
    static RunDirectory open(const std::filesystem::path& dir);
    // ./rwkvbench-results/<UTC timestamp>-<host>, made unique with a suffix if taken.
    static std::filesystem::path default_location(const std::filesystem::path& base = "rwkvbench-results");

    const std::filesystem::path& root() const { return root_; }
    std::filesystem::path plan_file() const { return root_ / "plan.json"; }
    std::filesystem::path environment_file() const { return root_ / "environment.json"; }
    std::filesystem::path results_file() const { return root_ / "results.json"; }
    std::filesystem::path work_dir() const { return root_ / "work"; }
    std::filesystem::path cell_file(const std::string& id) const { return root_ / "cells" / (id + ".json"); }

    void write_plan(const nlohmann::json& plan) const;
    nlohmann::json read_plan() const;
    void write_environment(const nlohmann::json& env) const;
    // Writes cells/<id>.json atomically; the record must carry "id".
    void write_cell(const nlohmann::json& record) const;
    // The finished record of cell `id`, if its file exists, parses and matches the id.
    std::optional<nlohmann::json> read_cell(const std::string& id) const;
    void write_results(const nlohmann::json& document) const;

private:
    explicit RunDirectory(std::filesystem::path root) : root_(std::move(root)) {}
    std::filesystem::path root_;
};

// "2024-05-01T12:34:56Z"
std::string utc_timestamp();
std::string host_name();

}  // namespace rwkvb
