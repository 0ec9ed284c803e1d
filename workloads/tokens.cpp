#include "tokens.hpp"

#include "errors.hpp"
#include "safetensors.hpp"

#include <fmt/format.h>

#include <cstring>

namespace rwkvb {
namespace {

// splitmix64's finaliser: a bijective 64-bit mix, good enough to turn counters into noise.
uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

// Draw `attempt` for position `index`: depends only on (seed, index, attempt), so any slice of
// the stream is computed identically whatever the count or the machine.
uint64_t draw(uint64_t key, uint64_t index, uint64_t attempt) {
    return mix64(key + mix64(index * kGolden + attempt));
}

// Uniform in [0, n) without bias (Lemire's multiply-shift with rejection); rejections take the
// next attempt for the same position. With n < 2^31 a rejection has probability < 2^-33.
int32_t uniform_id(uint64_t key, uint64_t index, uint32_t n) {
    const uint64_t threshold = (0 - uint64_t(n)) % n;  // 2^64 mod n
    for (uint64_t attempt = 0;; ++attempt) {
        const unsigned __int128 m = (unsigned __int128)draw(key, index, attempt) * n;
        if (uint64_t(m) >= threshold) return int32_t(uint64_t(m >> 64));
    }
}

}  // namespace

std::vector<int32_t> synthetic_tokens(uint64_t seed, size_t count, int32_t vocab_size) {
    return synthetic_tokens(seed, 0, count, vocab_size);
}

std::vector<int32_t> synthetic_tokens(uint64_t seed, uint64_t stream, size_t count, int32_t vocab_size) {
    if (vocab_size <= 0) throw InputError(fmt::format("vocabulary size {} is not positive", vocab_size));
    // "tokens" separates these from other seeded streams. The stream index goes through its own
    // mix (mix64(0) = 0, so stream 0 keeps the single-stream key): keys of different (seed,
    // stream) pairs are unrelated, unlike seed + stream.
    const uint64_t key = mix64(seed ^ 0x746F6B656E73ull) ^ mix64(stream * kGolden);
    std::vector<int32_t> ids(count);
    for (size_t i = 0; i < count; ++i) ids[i] = uniform_id(key, i, uint32_t(vocab_size));
    return ids;
}

std::vector<int32_t> read_tokens(const std::filesystem::path& path, int32_t vocab_size) {
    const SafetensorsFile file = SafetensorsFile::open(path);
    const std::string where = fmt::format("{}: tensor 'tokens'", path.string());
    const TensorView* t = file.find("tokens");
    if (!t) throw InputError(fmt::format("{}: no tensor 'tokens' (expected I32 [T] token ids)", path.string()));
    if (t->dtype != DType::I32)
        throw InputError(fmt::format("{}: dtype is {}, expected I32", where, dtype_name(t->dtype)));
    if (t->shape.size() != 1)
        throw InputError(fmt::format("{}: has {} dimensions, expected 1 ([T])", where, t->shape.size()));
    if (t->shape[0] == 0) throw InputError(fmt::format("{}: is empty, expected at least one token", where));
    std::vector<int32_t> ids(size_t(t->shape[0]));
    std::memcpy(ids.data(), t->data, ids.size() * sizeof(int32_t));  // data may be unaligned
    for (size_t i = 0; i < ids.size(); ++i)
        if (ids[i] < 0 || ids[i] >= vocab_size)
            throw InputError(fmt::format("{}: id {} at position {} is outside the vocabulary [0, {})", where,
                                         ids[i], i, vocab_size));
    return ids;
}

}  // namespace rwkvb
