// The on-disk layout of one run (DESIGN.md §3), which is what makes a killed run resumable:
//   plan.json          run metadata + every planned cell (written first)
//   environment.json   what workers need besides their spec (cache dir, machine limits)
//   cells/<id>.json    each finished cell's record, written atomically before the next starts
//   work/              specs handed to workers and the records they write back
//   results.json       the whole run document, rewritten atomically after every cell
//   .lock              flock()ed by the one `run` using the directory
//
// The root is made absolute when the directory is created or opened, before any worker starts:
// every path handed to a worker names the same file whatever directory a plugin chdir()s to.
//
// Stale temporaries: write_file_atomically leaves `<file>.tmp.<pid>` behind when a writer is
// killed mid-write (kill -9). Holding the lock, we know no other run writes here, and the
// workers of an earlier one died with it (PR_SET_PDEATHSIG), so every such file is stale and is
// removed on create and open. Where the file system cannot lock, only those whose pid is gone.
// (flock locks belong to an open file: two RunDirectory objects of one directory cannot coexist,
// even in one process.)
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace rwkvb {

class RunDirectory {
public:
    // A new run directory; InputError if `dir` already holds a run (plan.json) or another run is
    // using it.
    static RunDirectory create(const std::filesystem::path& dir);
    // An existing run (for --resume); InputError naming the directory if it has no valid plan or
    // another run is using it.
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
    explicit RunDirectory(std::filesystem::path root);
    // Takes the lock (InputError if another run holds it) and removes stale temporaries.
    void claim();
    std::filesystem::path root_;
    std::shared_ptr<const int> lock_fd_;  // closed, so unlocked, with the last copy
};

// "2024-05-01T12:34:56Z"
std::string utc_timestamp();
std::string host_name();

}  // namespace rwkvb
