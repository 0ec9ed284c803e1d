#include "golden_cache.hpp"

#include "errors.hpp"
#include "plugin.hpp"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cstring>
#include <fstream>

namespace rwkvb {
namespace {

constexpr uint64_t kWholeFileLimit = uint64_t(512) << 20;
constexpr uint64_t kBlock = uint64_t(1) << 20;
constexpr int kSampledBlocks = 64;
const char* kGoldenBackend = "reference";

uint64_t mix64(uint64_t z) {  // splitmix64 finalizer: full avalanche
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// A fast non-cryptographic 128-bit hash: four multiply-xor lanes over 8-byte words (independent
// lanes keep the multiplier busy), folded with a full-avalanche finalizer. Not for adversaries:
// it only has to tell different checkpoints and token streams apart.
class Hasher {
public:
    void update(const void* data, size_t n) {
        const auto* p = static_cast<const unsigned char*>(data);
        total_ += n;
        while (n > 0) {
            const size_t take = std::min(n, sizeof buf_ - fill_);
            std::memcpy(buf_ + fill_, p, take);
            fill_ += take, p += take, n -= take;
            if (fill_ == sizeof buf_) {
                absorb(buf_);
                fill_ = 0;
            }
        }
    }
    void update_u64(uint64_t v) { update(&v, sizeof v); }
    void update_str(const std::string& s) {
        update_u64(s.size());
        update(s.data(), s.size());
    }
    std::string hex() {
        std::memset(buf_ + fill_, 0, sizeof buf_ - fill_);
        absorb(buf_);
        const uint64_t a = mix64(lane_[0] ^ mix64(lane_[2] + total_));
        const uint64_t b = mix64(lane_[1] ^ mix64(lane_[3] ^ (total_ * 0x9e3779b97f4a7c15ull)));
        return fmt::format("{:016x}{:016x}", a, b);
    }

private:
    void absorb(const unsigned char* block) {
        for (int i = 0; i < 4; ++i) {
            uint64_t w;
            std::memcpy(&w, block + 8 * i, 8);
            lane_[i] = (lane_[i] ^ w) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull * (i + 1);
            lane_[i] ^= lane_[i] >> 29;
        }
    }
    std::array<uint64_t, 4> lane_{0xcbf29ce484222325ull, 0x84222325cbf29ce4ull, 0x6a09e667f3bcc908ull,
                                  0xbb67ae8584caa73bull};
    unsigned char buf_[32]{};
    size_t fill_ = 0;
    uint64_t total_ = 0;
};

void hash_range(std::ifstream& in, uint64_t offset, uint64_t length, Hasher& h, const std::string& where) {
    std::vector<char> buf(std::min<uint64_t>(length, 4 * kBlock));
    in.seekg(static_cast<std::streamoff>(offset));
    while (length > 0) {
        const auto n = std::min<uint64_t>(length, buf.size());
        if (!in.read(buf.data(), static_cast<std::streamsize>(n)))
            throw InputError(fmt::format("{}: read failed while hashing the checkpoint", where));
        h.update(buf.data(), n);
        length -= n;
    }
}

void write_golden(const std::filesystem::path& path, const GoldenLogits& g, std::span<const int32_t> tokens) {
    SafetensorsWriter w;
    w.set_metadata("rwkvbench", "golden-logits/1");
    w.set_metadata("key", g.key);
    w.set_metadata("golden_backend", g.golden_backend);
    w.set_metadata("golden_version", g.golden_version);
    w.add_bytes("tokens", DType::I32, {int64_t(tokens.size())}, std::as_bytes(tokens));
    w.add_bytes("logits", DType::F64, {g.steps, g.vocab}, std::as_bytes(std::span(g.logits)));
    std::filesystem::create_directories(path.parent_path());
    w.write(path);
}

// The cached logits if `path` holds exactly these tokens and a steps × vocab F64 tensor.
bool read_golden(const std::filesystem::path& path, std::span<const int32_t> tokens, int vocab, GoldenLogits& g) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return false;
    try {
        auto f = SafetensorsFile::open(path);
        const TensorView* t = f.find("tokens");
        const TensorView* l = f.find("logits");
        if (!t || !l || t->dtype != DType::I32 || l->dtype != DType::F64) return false;
        if (t->nbytes != tokens.size_bytes() || std::memcmp(t->data, tokens.data(), t->nbytes) != 0) return false;
        if (l->shape != std::vector<int64_t>{int64_t(tokens.size()), vocab}) return false;
        g.logits.resize(tokens.size() * size_t(vocab));
        std::memcpy(g.logits.data(), l->data, l->nbytes);
        return true;
    } catch (const InputError&) {
        return false;  // a damaged cache entry is recomputed, not fatal
    }
}

}  // namespace

std::string checkpoint_digest(const std::filesystem::path& checkpoint) {
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(checkpoint, ec);
    if (ec) throw InputError(fmt::format("{}: cannot read the checkpoint size: {}", checkpoint.string(), ec.message()));
    std::ifstream in(checkpoint, std::ios::binary);
    if (!in) throw InputError(fmt::format("{}: cannot open the checkpoint", checkpoint.string()));
    Hasher h;
    h.update_u64(size);
    if (size <= kWholeFileLimit) {
        hash_range(in, 0, size, h, checkpoint.string());
    } else {
        for (int i = 0; i < kSampledBlocks; ++i) {
            const uint64_t off = (size - kBlock) / (kSampledBlocks - 1) * uint64_t(i);
            hash_range(in, i == kSampledBlocks - 1 ? size - kBlock : off, kBlock, h, checkpoint.string());
        }
    }
    return h.hex();
}

std::string golden_key(const std::string& digest, std::span<const int32_t> tokens, const std::string& backend,
                       const std::string& version) {
    Hasher h;
    h.update_str("rwkvbench golden logits v1");
    h.update_str(digest);
    h.update_u64(tokens.size());
    h.update(tokens.data(), tokens.size_bytes());
    h.update_str(backend);
    h.update_str(version);
    return h.hex();
}

GoldenLogits golden_logits(const std::filesystem::path& cache_dir, const SafetensorsFile& checkpoint,
                           const ModelConfig& config, std::span<const int32_t> tokens, int threads) {
    if (tokens.empty()) throw InputError("parity: the token stream is empty");
    auto plugin = find_plugin(kGoldenBackend);
    GoldenLogits g;
    g.golden_backend = plugin->name();
    g.golden_version = plugin->version();
    g.steps = static_cast<int>(tokens.size());
    g.vocab = config.vocab_size;
    g.key = golden_key(checkpoint_digest(checkpoint.path()), tokens, g.golden_backend, g.golden_version);
    g.path = cache_dir / "golden" / (g.key + ".safetensors");
    if (read_golden(g.path, tokens, g.vocab, g)) {
        g.from_cache = true;
        return g;
    }

    const auto t0 = std::chrono::steady_clock::now();
    Session s(plugin, 0, fmt::format("threads={}", threads));
    const auto mask = s.device().weight_dtypes;
    s.load(config, checkpoint.tensors(), (mask & RWKVB_DTYPE_BIT(RWKVB_F64)) ? DType::F64 : DType::F32);
    rwkvb_state* state = s.new_state(1);
    const size_t v = size_t(g.vocab);
    std::vector<std::byte> row(v * dtype_size(s.logits_dtype()));
    g.logits.resize(tokens.size() * v);
    try {
        for (size_t t = 0; t < tokens.size(); ++t) {
            s.forward(state, &tokens[t], 1, 1, row.data(), RWKVB_LOGITS_LAST);
            for (size_t i = 0; i < v; ++i) g.logits[t * v + i] = load_as_double(s.logits_dtype(), row.data(), i);
        }
        s.synchronize();
    } catch (...) {
        s.free_state(state);
        throw;
    }
    s.free_state(state);
    g.compute_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    write_golden(g.path, g, tokens);
    return g;
}

}  // namespace rwkvb
