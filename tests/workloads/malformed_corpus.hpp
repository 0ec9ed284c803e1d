// A corpus of malformed safetensors files, written by the tests themselves into a temporary
// directory (no binary files in the repository). Shared by the reader tests, the CLI test and
// the fuzz replay.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rwkvb::testing {

struct MalformedFile {
    std::string label;              // what is wrong, for test output
    std::filesystem::path path;
    std::string tensor;             // the tensor the error must name ("" for file-level problems)
};

// Writes every case into `dir` (which must exist) and returns them. Includes a directory and a
// path that does not exist.
std::vector<MalformedFile> write_malformed_corpus(const std::filesystem::path& dir);

// Raw safetensors bytes: little-endian `header_len` then `header` then `data`.
std::string raw_safetensors(uint64_t header_len, const std::string& header, const std::string& data);
std::string raw_safetensors(const std::string& header, const std::string& data);

void write_file(const std::filesystem::path& path, const std::string& bytes);

// A fresh directory under the system temporary directory, removed by the destructor.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

}  // namespace rwkvb::testing
