#include "json_fuzz_support.hpp"

#include "report_writers.hpp"
#include "results.hpp"
#include "io/utf8.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace rwkvb::fuzz {
namespace {

struct ScratchDir {
    ScratchDir() {
        // In memory where there is a tmpfs: rewriting one small file per input on a disk file
        // system waits on its writeback heuristics (ten times the cost of the parsing).
        std::error_code ec;
        const auto base = std::filesystem::is_directory("/dev/shm", ec) ? std::filesystem::path("/dev/shm")
                                                                         : std::filesystem::temp_directory_path();
        std::string pattern = (base / "rwkvb-fuzz-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) std::abort();
        root = pattern;
        std::filesystem::create_directories(root / "cells");
        std::filesystem::create_directories(root / "work");
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(root, ec);
    }
    std::filesystem::path root;
};

}  // namespace

const std::filesystem::path& scratch_run_dir() {
    static const ScratchDir dir;
    return dir.root;
}

void put_bytes(const std::filesystem::path& path, const uint8_t* data, size_t size) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), std::streamsize(size));
    if (!f) std::abort();
}

void invariant_broken(const char* target, std::string_view what) {
    std::fprintf(stderr, "%s: invariant broken: %.*s\n", target, int(what.size()), what.data());
    std::abort();
}

void check_document_renders(const char* target, const RunDocument& document) {
    const int code = run_exit_code(document.cells);
    if (code != 0 && code != 3 && code != 4) invariant_broken(target, "run_exit_code is not 0, 3 or 4");
    (void)nothing_ran(document.cells);
    // results.json is written with dump(): the parent must be able to write what it assembled,
    // and what it wrote must read back as a document.
    const nlohmann::json written = document;
    (void)written.dump(2);
    (void)run_document_from_json(written);
    for (const auto& [format, name] : Vocabulary<ReportFormat>::names) {
        std::ostringstream out;
        write_report(document, format, out);
        const std::string text = out.str();
        if (valid_utf8(text) != text) invariant_broken(target, "the " + std::string(name) + " report is not valid UTF-8");
        if (format == ReportFormat::json && nlohmann::json::parse(text, nullptr, false).is_discarded())
            invariant_broken(target, "the json report does not parse back");
    }
}

// Reading a results file: refused with std::invalid_argument, or read and rendered.
void check_results_file_renders(const char* target, const nlohmann::json& document) {
    try {
        check_document_renders(target, run_document_from_json(document));
    } catch (const std::invalid_argument&) {
        // not a results document of a version we read: the one-line refusal
    }
}

}  // namespace rwkvb::fuzz
