// Fuzz target for the safetensors reader (DESIGN.md §8: parsers of untrusted bytes are fuzzed).
// Any input must either open, with every tensor inside the file, or be refused with InputError;
// any other exception, crash, hang or sanitizer report is a bug.
//
// Real fuzzing needs clang (libFuzzer), e.g.:
//   CXX=clang++ CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo
//   cmake --build build-fuzz --target fuzz_safetensors
//   mkdir -p /tmp/fuzz-corpus
//   build-fuzz/bin/fuzz_safetensors /tmp/fuzz-corpus ../shared/fixtures/rwkv7-tiny -max_len=4096 -timeout=5
// (libFuzzer ships in Debian's libclang-rt-14-dev). With other compilers the same function is
// driven by replay_main.cpp, which ctest runs on a generated corpus and seeded mutations.
#include "errors.hpp"
#include "safetensors.hpp"
#include "tokens.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

[[noreturn]] void invariant_broken(const char* what) {
    std::fprintf(stderr, "fuzz_safetensors: invariant broken: %s\n", what);
    std::abort();
}

void check_file(const rwkvb::SafetensorsFile& f) {
    const std::byte* prev_end = nullptr;
    volatile unsigned sink = 0;
    unsigned sum = 0;
    for (const rwkvb::TensorView& t : f.tensors()) {
        if (uint64_t(t.numel()) * rwkvb::dtype_size(t.dtype) != t.nbytes) invariant_broken("nbytes != numel × size");
        if (t.nbytes > 0) {
            if (prev_end && t.data < prev_end) invariant_broken("tensors overlap or are out of order");
            prev_end = t.data + t.nbytes;
        }
        // Touch every byte: out-of-range views fault here (or trip AddressSanitizer).
        for (uint64_t i = 0; i < t.nbytes; ++i) sum += unsigned(t.data[i]);
        switch (t.dtype) {
            case rwkvb::DType::F64:
            case rwkvb::DType::F32:
            case rwkvb::DType::F16:
            case rwkvb::DType::BF16:
                if (t.numel() > 0) sum += unsigned(rwkvb::load_as_double(t.dtype, t.data, size_t(t.numel() - 1)) != 0);
                break;
            default:
                break;
        }
        if (f.find(t.name) == nullptr) invariant_broken("find() misses a listed tensor");
    }
    sink = sum;
    (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A memfd is a regular file that never touches the disk: the reader's real path (open,
    // fstat, mmap) runs on exactly these bytes.
    const int fd = memfd_create("fuzz_safetensors", MFD_CLOEXEC);
    if (fd < 0) std::abort();
    for (size_t done = 0; done < size;) {
        const ssize_t n = ::write(fd, data + done, size - done);
        if (n <= 0) std::abort();
        done += size_t(n);
    }
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    try {
        const auto f = rwkvb::SafetensorsFile::open(path);
        check_file(f);
    } catch (const rwkvb::InputError&) {
        // refused cleanly: fine
    }
    try {
        (void)rwkvb::read_tokens(path, 1000);
    } catch (const rwkvb::InputError&) {
    }
    ::close(fd);
    return 0;
}
