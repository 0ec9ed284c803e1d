// Element types shared by safetensors files, the plugin ABI and the command line.
#pragma once
#include <rwkvbench/backend.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace rwkvb {

enum class DType : int32_t {
    F64 = RWKVB_F64,
    F32 = RWKVB_F32,
    F16 = RWKVB_F16,
    BF16 = RWKVB_BF16,
    I32 = RWKVB_I32,
    I8 = RWKVB_I8,
    U8 = RWKVB_U8,
};

size_t dtype_size(DType t);
// Safetensors spelling: "F64", "F32", "F16", "BF16", "I32", "I8", "U8".
std::string_view dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view safetensors_name);
// Command-line spelling of weight dtypes: "f64", "f32", "f16", "bf16", "int8".
std::string_view dtype_cli_name(DType t);
std::optional<DType> dtype_from_cli_name(std::string_view name);

// Widening is exact and inline: backends widen f16/bf16 weights inside their dot products.
inline float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);  // round to nearest even
inline float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }
uint16_t f32_to_bf16(float f);  // round to nearest even

// Element i of a float-typed buffer (F64, F32, F16, BF16) as double. `data` need not be
// aligned. Throws std::logic_error for an integer dtype (a caller's bug).
double load_as_double(DType t, const void* data, size_t i);

namespace detail {
// Portable conversions; the functions above use F16C when the build enables it. Exposed so
// tests can check both paths agree bit for bit.
inline float f16_to_f32_soft(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1Fu;
    const uint32_t mant = h & 0x3FFu;
    if (exp == 0x1F) {
        // Inf, or NaN made quiet with its payload kept (what VCVTPH2PS does).
        return std::bit_cast<float>(sign | 0x7F800000u | (mant << 13) | (mant ? 0x00400000u : 0u));
    }
    if (exp == 0) {
        // Zero or subnormal: mant × 2^-24 is exact in float.
        const float v = float(mant) * 0x1p-24f;
        return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(v));
    }
    return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}
uint16_t f32_to_f16_soft(float f);
}  // namespace detail

inline float f16_to_f32(uint16_t h) {
#if defined(__F16C__)
    return _cvtsh_ss(h);
#else
    return detail::f16_to_f32_soft(h);
#endif
}

}  // namespace rwkvb
