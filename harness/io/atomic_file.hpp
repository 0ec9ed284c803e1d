// Writing a file so that a reader (or a resumed run) sees either the old content or the whole
// new content, never a torn one: write a temporary beside it, fsync, rename.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace rwkvb {

// Throws InputError naming the path on failure (an unwritable destination is the user's to fix).
void write_file_atomically(const std::filesystem::path& path, std::string_view content);
// Whole file as a string; InputError naming the path if it cannot be read.
std::string read_file(const std::filesystem::path& path);
// The same for a file an untrusted process may have placed: only a regular file (never a symlink,
// FIFO or device, which could block the reader or never end) of at most `max_bytes`.
std::string read_regular_file(const std::filesystem::path& path, uintmax_t max_bytes);
// True when `path` itself (not a link's target) is a regular file.
bool is_plain_regular_file(const std::filesystem::path& path);

}  // namespace rwkvb
