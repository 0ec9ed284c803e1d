// safetensors I/O. The reader maps the file read-only and hands out zero-copy views; it trusts
// nothing in the file (see SafetensorsFile::open). The writer streams tensors straight into a
// mapped output file and renames it into place, so a reader never sees a half-written file.
#pragma once
#include "dtype.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rwkvb {

struct TensorView {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    // Inside the read-only mapping; valid while the SafetensorsFile lives. NOT necessarily
    // aligned to the element size: the data area starts at 8 + header length, which official
    // writers (and ours) pad to a multiple of 8, but a foreign or hostile file need not. Copy
    // (memcpy, load_as_double) or check alignment before reading it as float/double/int32.
    const std::byte* data = nullptr;
    uint64_t nbytes = 0;

    int64_t numel() const;
};

class SafetensorsFile {
public:
    // Opens and validates: header length bounded by the file and a sane cap, well-formed JSON,
    // known dtypes, shape × element size == byte range, every range inside the data area, no
    // overlaps, no duplicate names. Throws InputError "<path>: tensor '<name>': <problem>".
    static SafetensorsFile open(const std::filesystem::path& path);

    SafetensorsFile(SafetensorsFile&&) noexcept;
    SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;
    ~SafetensorsFile();

    const std::filesystem::path& path() const { return path_; }
    const std::vector<TensorView>& tensors() const { return tensors_; }  // in data-offset order
    const TensorView* find(std::string_view name) const;                   // nullptr if absent
    const TensorView& at(std::string_view name) const;                     // throws InputError
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    uint64_t file_size() const { return size_; }

private:
    SafetensorsFile() = default;
    std::filesystem::path path_;
    void* map_ = nullptr;
    uint64_t size_ = 0;
    std::vector<TensorView> tensors_;
    std::vector<size_t> by_name_;  // indices into tensors_, sorted by name: find() is O(log n)
    std::map<std::string, std::string> metadata_;
};

class SafetensorsWriter {
public:
    // Fills the tensor's bytes in place (the span has exactly shape × element size bytes).
    using Filler = std::function<void(std::span<std::byte>)>;

    void set_metadata(std::string key, std::string value);
    void add(std::string name, DType dtype, std::vector<int64_t> shape, Filler fill);
    void add_bytes(std::string name, DType dtype, std::vector<int64_t> shape,
                   std::span<const std::byte> bytes);
    // Durable: fsync before the rename, so after a power loss `path` holds the old file or the
    // complete new one. NoSync skips that (the rename stays atomic for running processes) for
    // files that are only a regenerable cache: fsync can cost more than generating the bytes.
    enum class Sync { Durable, NoSync };

    // Writes everything to `path` atomically ("<path>.tmp.<pid>" + rename). Tensors appear in
    // the order they were added, contiguous, the header padded with spaces to a multiple of 8
    // (the data area is 8-aligned). Fillers run in parallel (up to hardware_concurrency
    // threads), so they must be independent. Throws InputError on a duplicate or reserved name,
    // a negative dimension or an I/O failure; an exception from a filler propagates. On any
    // failure the temporary file is removed and an existing `path` is left untouched.
    void write(const std::filesystem::path& path, Sync sync = Sync::Durable) const;

private:
    struct Entry {
        std::string name;
        DType dtype;
        std::vector<int64_t> shape;
        Filler fill;
    };
    std::vector<Entry> entries_;
    std::map<std::string, std::string> metadata_;
};

}  // namespace rwkvb
