#include "io/results_input.hpp"

#include "errors.hpp"
#include "io/atomic_file.hpp"
#include "io/untrusted_json.hpp"

#include <fmt/format.h>

namespace rwkvb {

std::filesystem::path results_document_path(const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return path / "results.json";
    return path;
}

RunDocument read_results_document(const std::filesystem::path& given) {
    const auto path = results_document_path(given);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw InputError(fmt::format("{}: no such results file (give a results.json or a run directory)", path.string()));
    std::string bytes;
    try {
        bytes = read_file(path);
    } catch (const std::exception& e) {
        throw InputError(fmt::format("{}: cannot be read: {}", path.string(), e.what()));
    }
    const auto j = parse_untrusted_json(bytes);
    if (j.is_discarded()) throw InputError(fmt::format("{}: not JSON (an rwkvbench results document was expected)", path.string()));
    try {
        return run_document_from_json(j);
    } catch (const std::invalid_argument& e) {
        throw InputError(fmt::format("{}: {}", path.string(), e.what()));
    }
}

}  // namespace rwkvb
