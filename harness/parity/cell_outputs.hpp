// The logits a cell captured for its output checks (output_checks.hpp), on their way from the
// worker, which shares its address space with the plugin under test, to the parent, which
// judges them. One safetensors file per cell: one [rows, vocab] tensor per check, in the
// plugin's logits dtype, rows in the order of the check's steps.
#pragma once
#include "dtype.hpp"
#include "parity/output_checks.hpp"
#include "safetensors.hpp"

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace rwkvb {

// Where the worker of cell `cell_id` leaves its outputs: beside its result record in `work_dir`.
std::filesystem::path outputs_file(const std::filesystem::path& work_dir, const std::string& cell_id);

// Worker side: rows start as NaN, so a row the scenario never captured fails its check.
class CellOutputs {
public:
    CellOutputs(std::vector<OutputCheck> checks, int vocab, DType logits_dtype);

    // Copies one row of logits (vocab elements of the logits dtype) as row `row` of check
    // `name`. Throws std::logic_error on an unknown check or row: a bug in a scenario.
    void capture(const std::string& name, size_t row, const std::byte* logits_row);
    // Row index of `step` in check `name` (its position in the check's steps).
    size_t row_of(const std::string& name, int step) const;
    const std::vector<OutputCheck>& checks() const { return checks_; }

    // Atomic write, without fsync: the parent reads it as soon as the worker exits.
    void write(const std::filesystem::path& path, const std::string& cell_id) const;

private:
    const OutputCheck& check(const std::string& name) const;
    std::vector<OutputCheck> checks_;
    std::map<std::string, std::vector<std::byte>> rows_;
    int vocab_;
    DType dtype_;
};

// Parent side. Opening checks every check's tensor against the plan (present, F32 or F64,
// [rows, vocab]) and throws InputError naming the file and the check otherwise; rows() converts
// one check at a time, so a long parity cell's outputs are never all in memory as float64.
class CellOutputsReader {
public:
    CellOutputsReader(const std::filesystem::path& path, const std::vector<OutputCheck>& checks, int vocab);
    std::vector<double> rows(const std::string& check) const;  // rows × vocab

private:
    SafetensorsFile file_;
};

}  // namespace rwkvb
