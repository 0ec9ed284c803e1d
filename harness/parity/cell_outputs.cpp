#include "parity/cell_outputs.hpp"

#include "errors.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace rwkvb {

std::filesystem::path outputs_file(const std::filesystem::path& work_dir, const std::string& cell_id) {
    return work_dir / (cell_id + ".outputs.safetensors");
}

CellOutputs::CellOutputs(std::vector<OutputCheck> checks, int vocab, DType logits_dtype)
    : checks_(std::move(checks)), vocab_(vocab), dtype_(logits_dtype) {
    const size_t row_bytes = size_t(vocab_) * dtype_size(dtype_);
    for (const auto& c : checks_) {
        auto& bytes = rows_[c.name];
        bytes.resize(c.steps.size() * row_bytes);
        const size_t n = bytes.size() / dtype_size(dtype_);
        if (dtype_ == DType::F64) std::fill_n(reinterpret_cast<double*>(bytes.data()), n, std::numeric_limits<double>::quiet_NaN());
        else std::fill_n(reinterpret_cast<float*>(bytes.data()), n, std::numeric_limits<float>::quiet_NaN());
    }
}

const OutputCheck& CellOutputs::check(const std::string& name) const {
    for (const auto& c : checks_)
        if (c.name == name) return c;
    throw std::logic_error("no output check named " + name);
}

size_t CellOutputs::row_of(const std::string& name, int step) const {
    const auto& steps = check(name).steps;
    const auto it = std::find(steps.begin(), steps.end(), step);
    if (it == steps.end()) throw std::logic_error(fmt::format("output check {} has no step {}", name, step));
    return size_t(it - steps.begin());
}

void CellOutputs::capture(const std::string& name, size_t row, const std::byte* logits_row) {
    if (row >= check(name).steps.size()) throw std::logic_error(fmt::format("output check {} has no row {}", name, row));
    const size_t row_bytes = size_t(vocab_) * dtype_size(dtype_);
    std::memcpy(rows_.at(name).data() + row * row_bytes, logits_row, row_bytes);
}

void CellOutputs::write(const std::filesystem::path& path, const std::string& cell_id) const {
    SafetensorsWriter w;
    w.set_metadata("rwkvbench", "cell-outputs/1");
    w.set_metadata("cell", cell_id);
    for (const auto& c : checks_)
        w.add_bytes(c.name, dtype_, {int64_t(c.steps.size()), vocab_}, rows_.at(c.name));
    w.write(path, SafetensorsWriter::Sync::NoSync);
}

CellOutputsReader::CellOutputsReader(const std::filesystem::path& path, const std::vector<OutputCheck>& checks,
                                     int vocab)
    : file_(SafetensorsFile::open(path)) {
    for (const auto& c : checks) {
        const TensorView* t = file_.find(c.name);
        if (!t) throw InputError(fmt::format("{}: the outputs of check '{}' are missing", path.string(), c.name));
        const std::vector<int64_t> shape{int64_t(c.steps.size()), vocab};
        if ((t->dtype != DType::F32 && t->dtype != DType::F64) || t->shape != shape)
            throw InputError(fmt::format("{}: check '{}' holds {} {}, expected F32 or F64 [{}, {}]", path.string(),
                                         c.name, dtype_name(t->dtype), fmt::join(t->shape, "x"), shape[0], shape[1]));
    }
}

std::vector<double> CellOutputsReader::rows(const std::string& check) const {
    const TensorView& t = file_.at(check);
    std::vector<double> v(t.nbytes / dtype_size(t.dtype));
    for (size_t i = 0; i < v.size(); ++i) v[i] = load_as_double(t.dtype, t.data, i);
    return v;
}

}  // namespace rwkvb
