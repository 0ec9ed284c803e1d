// Drives LLVMFuzzerTestOneInput without libFuzzer, so every compiler's CI exercises the fuzz
// target: replays each given file (directories: every file inside, recursively), the generated
// malformed corpus, and a valid file of every dtype written by our writer, then a fixed-seed
// series of mutations of each. Deterministic: the same inputs on every run.
//
//   fuzz_safetensors_replay [--mutations N] [--seed S] [--malformed] [FILE|DIR]...
#include "malformed_corpus.hpp"
#include "safetensors.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::string read_all(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// A small valid file touching every dtype, metadata, a scalar and an empty tensor.
std::string valid_seed(const std::filesystem::path& dir) {
    rwkvb::SafetensorsWriter w;
    w.set_metadata("format", "pt");
    const rwkvb::DType dtypes[] = {rwkvb::DType::F64, rwkvb::DType::F32, rwkvb::DType::F16, rwkvb::DType::BF16,
                                   rwkvb::DType::I32, rwkvb::DType::I8,  rwkvb::DType::U8};
    int i = 0;
    for (rwkvb::DType t : dtypes) {
        w.add(std::string(rwkvb::dtype_name(t)), t, {2, 3}, [i](std::span<std::byte> s) {
            for (size_t k = 0; k < s.size(); ++k) s[k] = std::byte(uint8_t(k * 7 + i));
        });
        ++i;
    }
    w.add("scalar", rwkvb::DType::F32, {}, [](std::span<std::byte> s) { std::memset(s.data(), 0x3F, s.size()); });
    w.add("empty", rwkvb::DType::F16, {0, 5}, nullptr);
    w.add("tokens", rwkvb::DType::I32, {4}, [](std::span<std::byte> s) { std::memset(s.data(), 1, s.size()); });
    const auto path = dir / "valid.safetensors";
    w.write(path);
    return read_all(path);
}

// Mutations aimed at the header, where every check lives; raw engine output only, so the
// sequence is the same with every standard library.
std::string mutate(std::string s, std::mt19937_64& rng) {
    static const char interesting[] = "{}[]\",:-0123456789e.E \\\x00\xff";
    auto pick = [&](uint64_t n) { return n == 0 ? uint64_t(0) : rng() % n; };
    uint64_t header_end = s.size();
    if (s.size() >= 8) {
        uint64_t n = 0;
        std::memcpy(&n, s.data(), 8);
        header_end = std::min<uint64_t>(s.size(), n + 8 + 16);
    }
    const int n_ops = 1 + int(pick(3));
    for (int op = 0; op < n_ops; ++op) {
        const uint64_t pos = pick(5) != 0 ? pick(std::min<uint64_t>(header_end, s.size())) : pick(s.size());
        switch (pick(7)) {
            case 0:
                if (!s.empty()) s[pos] = char(s[pos] ^ (1 << pick(8)));
                break;
            case 1:
                if (!s.empty()) s[pos] = interesting[pick(sizeof interesting - 1)];
                break;
            case 2:
                s.resize(pick(s.size() + 1));
                break;
            case 3:
                if (!s.empty()) s.erase(pos, 1 + pick(16));
                break;
            case 4:
                s.insert(std::min<uint64_t>(pos, s.size()), std::string(1 + pick(4), interesting[pick(sizeof interesting - 1)]));
                break;
            case 5: {  // a header length chosen to sit on a boundary
                if (s.size() < 8) break;
                const uint64_t sz = s.size();
                const uint64_t choices[] = {0, sz - 8, sz - 7, sz, uint64_t(1) << 63, ~uint64_t(0), rng(), (sz - 8) / 2};
                const uint64_t v = choices[pick(8)];
                std::memcpy(s.data(), &v, 8);
                break;
            }
            case 6: {  // a huge or negative number in place of a digit
                const size_t d = s.find_first_of("0123456789", size_t(pos));
                if (d == std::string::npos || d >= header_end) break;
                const char* numbers[] = {"18446744073709551616", "9223372036854775807", "-1", "4294967296", "1e400"};
                s.replace(d, 1, numbers[pick(5)]);
                break;
            }
        }
    }
    return s;
}

void collect(const std::filesystem::path& p, std::vector<std::filesystem::path>& out) {
    if (std::filesystem::is_directory(p)) {
        for (const auto& e : std::filesystem::recursive_directory_iterator(p))
            if (e.is_regular_file()) out.push_back(e.path());
    } else {
        out.push_back(p);
    }
}

}  // namespace

int main(int argc, char** argv) {
    uint64_t mutations = 0, seed = 1;
    bool malformed = false;
    std::vector<std::filesystem::path> inputs;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--mutations" && i + 1 < argc) {
            mutations = std::stoull(argv[++i]);
        } else if (a == "--seed" && i + 1 < argc) {
            seed = std::stoull(argv[++i]);
        } else if (a == "--malformed") {
            malformed = true;
        } else if (a.starts_with("--")) {
            std::fprintf(stderr, "usage: %s [--mutations N] [--seed S] [--malformed] [FILE|DIR]...\n", argv[0]);
            return 2;
        } else if (!std::filesystem::exists(a)) {
            std::fprintf(stderr, "%s: no such file or directory\n", a.c_str());
            return 2;
        } else {
            collect(a, inputs);
        }
    }
    rwkvb::testing::TempDir dir;
    std::vector<std::string> seeds = {valid_seed(dir.path())};
    if (malformed)
        for (const auto& m : rwkvb::testing::write_malformed_corpus(dir.path()))
            if (std::filesystem::is_regular_file(m.path)) seeds.push_back(read_all(m.path));
    for (const auto& p : inputs) seeds.push_back(read_all(p));

    std::mt19937_64 rng(seed);
    uint64_t runs = 0;
    for (const std::string& s : seeds) {
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
        ++runs;
        for (uint64_t m = 0; m < mutations; ++m) {
            const std::string x = mutate(s, rng);
            LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(x.data()), x.size());
            ++runs;
        }
    }
    std::printf("fuzz_safetensors_replay: %zu seed inputs, %llu runs, no crash\n", seeds.size(),
                (unsigned long long)runs);
    return 0;
}
