#include "io/sha256.hpp"

#include "errors.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace rwkvb {

struct Sha256::Impl {
    EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
    impl_->ctx = EVP_MD_CTX_new();
    if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

Sha256& Sha256::update(const void* data, size_t n) {
    if (n && EVP_DigestUpdate(impl_->ctx, data, n) != 1) throw std::runtime_error("OpenSSL: SHA-256 update failed");
    return *this;
}

Sha256& Sha256::field(std::string_view text) {
    const uint64_t n = text.size();
    update(&n, sizeof n);
    return update(text.data(), text.size());
}

std::string Sha256::hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(impl_->ctx, digest, &len) != 1) throw std::runtime_error("OpenSSL: SHA-256 final failed");
    std::string out;
    for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", digest[i]);
    return out;
}

std::string sha256_hex(std::span<const std::byte> bytes) { return Sha256().update(bytes).hex(); }

std::string sha256_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(fmt::format("{}: cannot open to hash it: {}", path.string(), std::strerror(errno)));
    Sha256 h;
    std::vector<char> buf(size_t(4) << 20);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        h.update(buf.data(), static_cast<size_t>(in.gcount()));
    }
    if (in.bad()) throw InputError(fmt::format("{}: read failed while hashing it", path.string()));
    return h.hex();
}

}  // namespace rwkvb
