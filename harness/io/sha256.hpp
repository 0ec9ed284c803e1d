// SHA-256 (OpenSSL's libcrypto): the content hash that keys and guards every cache whose contents
// decide a verdict — checkpoints, golden logits, synthetic weights. A fast non-cryptographic hash
// would do to tell honest files apart; SHA-256 is used because the thing guarded against is a
// plugin or a person editing a cache file on purpose.
#pragma once
#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace rwkvb {

class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    Sha256& update(const void* data, size_t n);
    Sha256& update(std::span<const std::byte> bytes) { return update(bytes.data(), bytes.size()); }
    // A length-prefixed field, so that ("ab", "c") and ("a", "bc") hash differently.
    Sha256& field(std::string_view text);
    std::string hex();  // 64 lowercase hex digits; the object is spent afterwards

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::span<const std::byte> bytes);
// Every byte of the file, read in 4 MiB blocks. InputError naming the file if it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace rwkvb
