#include "dtype.hpp"

#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace rwkvb {

size_t dtype_size(DType t) {
    switch (t) {
        case DType::F64: return 8;
        case DType::F32: return 4;
        case DType::F16: return 2;
        case DType::BF16: return 2;
        case DType::I32: return 4;
        case DType::I8: return 1;
        case DType::U8: return 1;
    }
    throw std::logic_error("dtype_size: invalid DType value");
}

std::string_view dtype_name(DType t) {
    switch (t) {
        case DType::F64: return "F64";
        case DType::F32: return "F32";
        case DType::F16: return "F16";
        case DType::BF16: return "BF16";
        case DType::I32: return "I32";
        case DType::I8: return "I8";
        case DType::U8: return "U8";
    }
    return "?";
}

std::optional<DType> dtype_from_name(std::string_view n) {
    for (DType t : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I32, DType::I8, DType::U8})
        if (dtype_name(t) == n) return t;
    return std::nullopt;
}

std::string_view dtype_cli_name(DType t) {
    switch (t) {
        case DType::F64: return "f64";
        case DType::F32: return "f32";
        case DType::F16: return "f16";
        case DType::BF16: return "bf16";
        case DType::I8: return "int8";
        case DType::I32: return "i32";
        case DType::U8: return "u8";
    }
    return "?";
}

std::optional<DType> dtype_from_cli_name(std::string_view n) {
    // Only weight dtypes have a command-line spelling; i32/u8 never name weights.
    for (DType t : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I8})
        if (dtype_cli_name(t) == n) return t;
    return std::nullopt;
}

namespace detail {

uint16_t f32_to_f16_soft(float f) {
    uint32_t x = std::bit_cast<uint32_t>(f);
    const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
    x &= 0x7FFFFFFFu;
    if (x >= 0x7F800000u) {  // Inf or NaN; a NaN stays a (quiet) NaN with the top payload bits
        if (x == 0x7F800000u) return sign | 0x7C00u;
        return uint16_t(sign | 0x7E00u | ((x >> 13) & 0x3FFu));
    }
    if (x >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520 rounds (to even) to Inf
    if (x < 0x38800000u) {
        // Result is subnormal or zero: adding 0.5f lines the half's ulp (2^-24) up with the
        // float's last mantissa bit, so the FPU's own round-to-nearest-even does the rounding.
        const float shifted = std::bit_cast<float>(x) + 0.5f;
        return uint16_t(sign | (std::bit_cast<uint32_t>(shifted) - 0x3F000000u));
    }
    const uint32_t odd = (x >> 13) & 1u;
    x -= 112u << 23;        // rebias exponent 127 -> 15
    x += 0xFFFu + odd;      // round to nearest, ties to even
    return uint16_t(sign | (x >> 13));
}

}  // namespace detail

uint16_t f32_to_f16(float f) {
#if defined(__F16C__)
    return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#else
    return detail::f32_to_f16_soft(f);
#endif
}

uint16_t f32_to_bf16(float f) {
    const uint32_t x = std::bit_cast<uint32_t>(f);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((x >> 16) | 0x0040u);  // quiet NaN
    // Ties to even; a carry out of the mantissa correctly bumps the exponent (up to Inf).
    return uint16_t((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

double load_as_double(DType t, const void* data, size_t i) {
    // memcpy: tensor data inside a safetensors mapping need not be aligned.
    const auto* p = static_cast<const unsigned char*>(data);
    switch (t) {
        case DType::F64: {
            double v;
            std::memcpy(&v, p + i * 8, 8);
            return v;
        }
        case DType::F32: {
            float v;
            std::memcpy(&v, p + i * 4, 4);
            return v;
        }
        case DType::F16: {
            uint16_t v;
            std::memcpy(&v, p + i * 2, 2);
            return f16_to_f32(v);
        }
        case DType::BF16: {
            uint16_t v;
            std::memcpy(&v, p + i * 2, 2);
            return bf16_to_f32(v);
        }
        default:
            throw std::logic_error("load_as_double: " + std::string(dtype_name(t)) +
                                   " is not a floating-point dtype");
    }
}

}  // namespace rwkvb
