// Shared small pieces of the oneDNN backend: the error type that carries an ABI status,
// 64-byte aligned buffers, and the weight storage types.
#pragma once
#include <rwkvbench/backend.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <sys/mman.h>
#include <stdexcept>
#include <string>
#include <utility>

namespace rwkvd {

// Thrown inside the plugin, turned into a status + last_error at the ABI boundary.
struct Error : std::runtime_error {
    rwkvb_status status;
    Error(rwkvb_status s, const std::string& msg) : std::runtime_error(msg), status(s) {}
};

// A 64-byte aligned array (cache line / AVX2 friendly). Contents are uninitialised on resize.
template <class T>
class Buffer {
public:
    Buffer() = default;
    explicit Buffer(size_t n) { resize(n); }
    Buffer(Buffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
    Buffer& operator=(Buffer&& o) noexcept {
        if (this != &o) {
            std::free(p_);
            p_ = std::exchange(o.p_, nullptr);
            n_ = std::exchange(o.n_, 0);
        }
        return *this;
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { std::free(p_); }

    // Grows only; never shrinks (workspaces are reused across calls).
    void resize(size_t n) {
        if (n <= n_) return;
        size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
        // Large buffers (the weights) on 2 MiB pages where the kernel allows it (THP "madvise"):
        // decode streams every matrix once per token, and with 4 KiB pages a 200 MB head costs
        // ~50k page walks per pass. Only whole 2 MiB extents are marked, so the tail stays on
        // small pages and no memory beyond the buffer is touched.
        const bool huge = bytes >= kHugeMin;
        void* p = std::aligned_alloc(huge ? kHuge : 64, bytes);
        if (!p) throw std::bad_alloc();
        if (huge) madvise(p, bytes / kHuge * kHuge, MADV_HUGEPAGE);  // a hint: failure only costs speed
        std::free(p_);
        p_ = static_cast<T*>(p);
        n_ = n;
    }
    T* data() { return p_; }
    const T* data() const { return p_; }
    T& operator[](size_t i) { return p_[i]; }
    const T& operator[](size_t i) const { return p_[i]; }
    size_t size() const { return n_; }
    size_t bytes() const { return n_ * sizeof(T); }

private:
    static constexpr size_t kHuge = size_t(2) << 20, kHugeMin = size_t(4) << 20;
    T* p_ = nullptr;
    size_t n_ = 0;
};

// Storage of a matrix weight. F32 goes to oneDNN for GEMMs; the others are our own kernels.
enum class WType { F32, F16, BF16, S8 };
inline int64_t wtype_bytes(WType t) { return t == WType::F32 ? 4 : t == WType::S8 ? 1 : 2; }
inline const char* wtype_name(WType t) {
    return t == WType::F32 ? "f32" : t == WType::F16 ? "f16" : t == WType::BF16 ? "bf16" : "int8";
}

}  // namespace rwkvd
