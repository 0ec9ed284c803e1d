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

void check_document_renders(const char* target, const nlohmann::json& document) {
    const int code = run_exit_code(document);
    if (code != 0 && code != 3 && code != 4) invariant_broken(target, "run_exit_code is not 0, 3 or 4");
    (void)nothing_ran(document);
    // results.json is written with dump(): the parent must be able to write what it assembled.
    (void)document.dump(2);
    for (const std::string& format : report_formats()) {
        std::ostringstream out;
        write_report(document, format, out);
        const std::string text = out.str();
        if (valid_utf8(text) != text) invariant_broken(target, "the " + format + " report is not valid UTF-8");
        if (format == "json" && nlohmann::json::parse(text, nullptr, false).is_discarded())
            invariant_broken(target, "the json report does not parse back");
    }
}

}  // namespace rwkvb::fuzz
