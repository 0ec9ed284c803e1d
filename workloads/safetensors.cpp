#include "safetensors.hpp"

#include "errors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

namespace rwkvb {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // real headers are kilobytes
constexpr size_t kMaxJsonDepth = 16;                 // a valid header nests 3 deep
constexpr size_t kMaxRank = 64;

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if it is not one.
size_t utf8_length(std::string_view s, size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
    return n;
}

// Error messages quote bytes from untrusted files (names, JSON excerpts): keep them on one
// printable line, escaping control characters and bytes that are not valid UTF-8.
std::string one_line(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7F)
                out += fmt::format("\\x{:02x}", c);
            else
                out += char(c);
            ++i;
        } else if (const size_t n = utf8_length(s, i)) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += fmt::format("\\x{:02x}", c);
            ++i;
        }
    }
    return out;
}

[[noreturn]] void fail(const std::filesystem::path& path, std::string_view problem) {
    throw InputError(one_line(fmt::format("{}: {}", path.string(), problem)));
}

[[noreturn]] void fail_tensor(const std::filesystem::path& path, std::string_view name,
                              std::string_view problem) {
    throw InputError(one_line(fmt::format("{}: tensor '{}': {}", path.string(), name, problem)));
}

std::string errno_text(int e) { return std::strerror(e); }

struct Fd {  // closes on scope exit
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

// Thrown from the parser callback to stop parsing at the first structural problem.
struct HeaderShapeError {
    std::string problem;
};

// Parses the header, refusing duplicate keys in any object (nlohmann would silently keep one)
// and nesting deeper than any valid header, before the whole document is built.
json parse_header(const std::filesystem::path& path, std::string_view text) {
    std::vector<std::optional<std::set<std::string>>> open;  // one entry per open object/array
    std::string entry;  // the top-level key being parsed: a tensor name or __metadata__
    auto cb = [&](int, json::parse_event_t ev, json& parsed) -> bool {
        switch (ev) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start:
                if (open.size() >= kMaxJsonDepth)
                    throw HeaderShapeError{fmt::format("header nests deeper than {} levels", kMaxJsonDepth)};
                if (ev == json::parse_event_t::object_start)
                    open.emplace_back(std::set<std::string>{});
                else
                    open.emplace_back(std::nullopt);
                break;
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end:
                if (!open.empty()) open.pop_back();
                break;
            case json::parse_event_t::key:
                if (!open.empty() && open.back()) {
                    const auto& key = parsed.get_ref<const std::string&>();
                    const bool fresh = open.back()->insert(key).second;
                    if (open.size() == 1) {
                        entry = key;
                        if (!fresh) throw HeaderShapeError{fmt::format("tensor '{}': duplicate name in header", key)};
                    } else if (!fresh) {
                        if (entry == "__metadata__")
                            throw HeaderShapeError{fmt::format("__metadata__: duplicate key '{}'", key)};
                        throw HeaderShapeError{fmt::format("tensor '{}': duplicate field '{}'", entry, key)};
                    }
                }
                break;
            case json::parse_event_t::value:
                break;
        }
        return true;
    };
    try {
        return json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true);
    } catch (const HeaderShapeError& e) {
        fail(path, e.problem);
    } catch (const json::exception& e) {
        // Drop nlohmann's "[json.exception.parse_error.101] " prefix: it means nothing to a user.
        std::string_view what = e.what();
        if (what.starts_with("[json.exception.")) what.remove_prefix(std::min(what.size(), what.find("] ") + 2));
        fail(path, fmt::format("header is not valid JSON: {}", what));
    }
}

// A JSON number that is a non-negative integer representable as int64.
std::optional<uint64_t> as_u63(const json& v) {
    if (!v.is_number_unsigned()) return std::nullopt;
    const uint64_t u = v.get<uint64_t>();
    if (u > uint64_t(INT64_MAX)) return std::nullopt;
    return u;
}

}  // namespace

int64_t TensorView::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;  // checked against overflow when the file was opened
    return n;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
    SafetensorsFile f;
    f.path_ = path;

    // O_NONBLOCK: opening a FIFO must not hang; fstat below refuses anything not regular.
    Fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
    if (fd.fd < 0) fail(path, fmt::format("cannot open: {}", errno_text(errno)));
    struct stat st {};
    if (::fstat(fd.fd, &st) != 0) fail(path, fmt::format("cannot stat: {}", errno_text(errno)));
    if (S_ISDIR(st.st_mode)) fail(path, "is a directory, expected a .safetensors file");
    if (!S_ISREG(st.st_mode)) fail(path, "is not a regular file, expected a .safetensors file");
    const uint64_t size = uint64_t(st.st_size);
    if (size == 0) fail(path, "file is empty, expected a safetensors file");
    if (size < 8) fail(path, fmt::format("file is {} bytes, too short for a safetensors header", size));

    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.fd, 0);
    if (map == MAP_FAILED) fail(path, fmt::format("cannot map {} bytes: {}", size, errno_text(errno)));
    f.map_ = map;  // owned by f from here on: any throw below unmaps it
    f.size_ = size;
    const auto* base = static_cast<const std::byte*>(map);

    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | uint64_t(base[i]);  // little-endian
    if (header_len > size - 8)
        fail(path, fmt::format("header length {} runs past the end of the {}-byte file (truncated?)",
                               header_len, size));
    if (header_len > kMaxHeaderBytes)
        fail(path, fmt::format("header length {} exceeds the {} MiB limit", header_len, kMaxHeaderBytes >> 20));
    const std::string_view text(reinterpret_cast<const char*>(base + 8), header_len);
    const json header = parse_header(path, text);
    if (!header.is_object()) fail(path, "header is not a JSON object");

    const std::byte* data = base + 8 + header_len;
    const uint64_t data_size = size - 8 - header_len;

    struct Range {
        uint64_t begin, end;
        size_t index;
    };
    std::vector<Range> ranges;
    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") {
            if (!entry.is_object()) fail(path, "__metadata__ is not an object of strings");
            for (const auto& [k, v] : entry.items()) {
                if (!v.is_string())
                    fail(path, fmt::format("__metadata__ entry '{}' is not a string", k));
                f.metadata_.emplace(k, v.get<std::string>());
            }
            continue;
        }
        if (!entry.is_object()) fail_tensor(path, name, "entry is not an object");

        const auto dt = entry.find("dtype");
        if (dt == entry.end() || !dt->is_string()) fail_tensor(path, name, "missing or non-string 'dtype'");
        const auto dtype = dtype_from_name(dt->get_ref<const std::string&>());
        if (!dtype)
            fail_tensor(path, name, fmt::format("unsupported dtype '{}' (known: F64 F32 F16 BF16 I32 I8 U8)",
                                                dt->get_ref<const std::string&>()));

        const auto sh = entry.find("shape");
        if (sh == entry.end() || !sh->is_array()) fail_tensor(path, name, "missing or non-array 'shape'");
        if (sh->size() > kMaxRank) fail_tensor(path, name, fmt::format("shape has more than {} dimensions", kMaxRank));
        std::vector<int64_t> shape;
        uint64_t numel = 1;
        for (const json& d : *sh) {
            const auto u = as_u63(d);
            if (!u)
                fail_tensor(path, name, fmt::format("shape entry {} is not a non-negative 64-bit integer", d.dump()));
            shape.push_back(int64_t(*u));
            if (__builtin_mul_overflow(numel, *u, &numel) || numel > uint64_t(INT64_MAX))
                fail_tensor(path, name, "shape's element count overflows 64 bits");
        }
        uint64_t nbytes = 0;
        if (__builtin_mul_overflow(numel, uint64_t(dtype_size(*dtype)), &nbytes))
            fail_tensor(path, name, "shape's byte size overflows 64 bits");

        const auto off = entry.find("data_offsets");
        if (off == entry.end() || !off->is_array() || off->size() != 2)
            fail_tensor(path, name, "missing 'data_offsets' [begin, end]");
        const auto begin = as_u63((*off)[0]);
        const auto end = as_u63((*off)[1]);
        if (!begin || !end) fail_tensor(path, name, "data_offsets are not non-negative 64-bit integers");
        if (*begin > *end) fail_tensor(path, name, fmt::format("data_offsets begin {} > end {}", *begin, *end));
        if (*end > data_size)
            fail_tensor(path, name, fmt::format("data_offsets end {} runs past the {}-byte data area (truncated?)",
                                                *end, data_size));
        if (*end - *begin != nbytes)
            fail_tensor(path, name, fmt::format("data_offsets cover {} bytes but shape × {} needs {}",
                                                *end - *begin, dtype_name(*dtype), nbytes));

        ranges.push_back({*begin, *end, f.tensors_.size()});
        f.tensors_.push_back(TensorView{name, *dtype, std::move(shape), data + *begin, nbytes});
    }

    // Overlap check in offset order. Empty tensors hold no bytes, so they overlap nothing.
    std::sort(ranges.begin(), ranges.end(), [&](const Range& a, const Range& b) {
        return std::tie(a.begin, a.end, f.tensors_[a.index].name) < std::tie(b.begin, b.end, f.tensors_[b.index].name);
    });
    const Range* widest = nullptr;  // the non-empty range reaching furthest so far
    for (const Range& r : ranges) {
        if (r.begin == r.end) continue;
        if (widest && r.begin < widest->end)
            fail_tensor(path, f.tensors_[r.index].name,
                        fmt::format("bytes [{}, {}) overlap tensor '{}' [{}, {})", r.begin, r.end,
                                    f.tensors_[widest->index].name, widest->begin, widest->end));
        if (!widest || r.end > widest->end) widest = &r;
    }
    std::vector<TensorView> sorted;
    sorted.reserve(ranges.size());
    for (const Range& r : ranges) sorted.push_back(std::move(f.tensors_[r.index]));
    f.tensors_ = std::move(sorted);
    f.by_name_.resize(f.tensors_.size());
    for (size_t i = 0; i < f.by_name_.size(); ++i) f.by_name_[i] = i;
    std::sort(f.by_name_.begin(), f.by_name_.end(),
              [&](size_t a, size_t b) { return f.tensors_[a].name < f.tensors_[b].name; });
    return f;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept
    : path_(std::move(o.path_)),
      map_(std::exchange(o.map_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      tensors_(std::move(o.tensors_)),
      by_name_(std::move(o.by_name_)),
      metadata_(std::move(o.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& o) noexcept {
    if (this != &o) {
        if (map_) ::munmap(map_, size_);
        path_ = std::move(o.path_);
        map_ = std::exchange(o.map_, nullptr);
        size_ = std::exchange(o.size_, 0);
        tensors_ = std::move(o.tensors_);
        by_name_ = std::move(o.by_name_);
        metadata_ = std::move(o.metadata_);
    }
    return *this;
}

SafetensorsFile::~SafetensorsFile() {
    if (map_) ::munmap(map_, size_);
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
    const auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                                     [&](size_t i, std::string_view n) { return tensors_[i].name < n; });
    if (it == by_name_.end() || tensors_[*it].name != name) return nullptr;
    return &tensors_[*it];
}

const TensorView& SafetensorsFile::at(std::string_view name) const {
    if (const TensorView* t = find(name)) return *t;
    fail(path_, fmt::format("no tensor '{}'", name));
}

// ---------------------------------------------------------------------------------------------

void SafetensorsWriter::set_metadata(std::string key, std::string value) {
    metadata_[std::move(key)] = std::move(value);
}

void SafetensorsWriter::add(std::string name, DType dtype, std::vector<int64_t> shape, Filler fill) {
    entries_.push_back(Entry{std::move(name), dtype, std::move(shape), std::move(fill)});
}

void SafetensorsWriter::add_bytes(std::string name, DType dtype, std::vector<int64_t> shape,
                                  std::span<const std::byte> bytes) {
    std::vector<std::byte> copy(bytes.begin(), bytes.end());
    add(std::move(name), dtype, std::move(shape), [copy = std::move(copy)](std::span<std::byte> out) {
        if (out.size() != copy.size())
            throw std::invalid_argument(fmt::format("add_bytes: {} bytes given for a {}-byte tensor",
                                                    copy.size(), out.size()));
        // An empty tensor's vector has no buffer: memcpy from NULL is undefined even for 0 bytes.
        if (!copy.empty()) std::memcpy(out.data(), copy.data(), copy.size());
    });
}

void SafetensorsWriter::write(const std::filesystem::path& path, Sync sync) const {
    // Lay out the header: tensors contiguous in the order added.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata_.empty()) header["__metadata__"] = metadata_;
    std::vector<uint64_t> offsets, sizes;
    uint64_t data_size = 0;
    std::set<std::string_view> names;
    for (const Entry& e : entries_) {
        if (e.name == "__metadata__") fail_tensor(path, e.name, "name is reserved");
        if (!names.insert(e.name).second) fail_tensor(path, e.name, "added twice");
        uint64_t n = dtype_size(e.dtype);
        for (int64_t d : e.shape) {
            if (d < 0) fail_tensor(path, e.name, fmt::format("negative dimension {}", d));
            if (__builtin_mul_overflow(n, uint64_t(d), &n)) fail_tensor(path, e.name, "size overflows 64 bits");
        }
        offsets.push_back(data_size);
        sizes.push_back(n);
        if (__builtin_add_overflow(data_size, n, &data_size)) fail_tensor(path, e.name, "file size overflows 64 bits");
        header[e.name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape},
                          {"data_offsets", {offsets.back(), data_size}}};
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::json::exception&) {  // strings must be valid UTF-8 in JSON
        fail(path, "a tensor name or metadata string is not valid UTF-8");
    }
    text.resize((text.size() + 7) / 8 * 8, ' ');  // pad so the data area starts 8-aligned
    const uint64_t total = 8 + text.size() + data_size;

    // Errors name `path`, the file the user asked for, not the temporary beside it.
    const std::filesystem::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
    Fd fd{::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (fd.fd < 0) fail(path, fmt::format("cannot create: {}", errno_text(errno)));
    auto fail_io = [&](std::string_view what, int err) {
        ::unlink(tmp.c_str());
        fail(path, fmt::format("{}: {}", what, errno_text(err)));
    };
    // Reserve every block now: a sparse file (ftruncate) on a full disk would turn the first
    // store into an unwritable page into SIGBUS instead of an error.
    // (ENOSPC, EDQUOT or EFBIG then read "cannot reserve ...: No space left on device".)
    if (const int err = ::posix_fallocate(fd.fd, 0, off_t(total)); err != 0)
        fail_io(fmt::format("cannot reserve {} bytes ({:.1f} MiB) on disk", total, double(total) / (1 << 20)), err);
    void* map = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd, 0);
    if (map == MAP_FAILED) fail_io("cannot map", errno);
    auto* base = static_cast<std::byte*>(map);
    for (int i = 0; i < 8; ++i) base[i] = std::byte((uint64_t(text.size()) >> (8 * i)) & 0xFF);
    std::memcpy(base + 8, text.data(), text.size());
    std::byte* data = base + 8 + text.size();

    // Fillers are independent: run them on a small pool, biggest first to balance the load.
    std::vector<size_t> order(entries_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sizes[a] > sizes[b]; });
    std::atomic<size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto work = [&] {
        for (size_t k; (k = next.fetch_add(1)) < order.size();) {
            const size_t i = order[k];
            try {
                if (entries_[i].fill) entries_[i].fill(std::span<std::byte>(data + offsets[i], sizes[i]));
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!error) error = std::current_exception();
                next = order.size();  // stop handing out work
            }
        }
    };
    const size_t n_threads = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), order.size());
    std::vector<std::thread> pool;
    for (size_t t = 1; t < n_threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();

    const int unmap_err = ::munmap(map, total) == 0 ? 0 : errno;
    if (error) {
        ::unlink(tmp.c_str());
        std::rethrow_exception(error);
    }
    if (unmap_err) fail_io("cannot unmap", unmap_err);
    // fsync before rename: after a crash the name points at complete bytes or the old file.
    if (sync == Sync::Durable && ::fsync(fd.fd) != 0) fail_io("cannot sync", errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        fail(path, fmt::format("cannot rename {} into place: {}", tmp.string(), errno_text(err)));
    }
}

}  // namespace rwkvb
