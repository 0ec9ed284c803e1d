#include "dtype.hpp"

#include <rwkvbench/backend.h>

#include <cstring>

namespace rwkvb::ocl {

float half_to_float(uint16_t h) {
    const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            uint32_t m = man;
            do { ++e; m <<= 1; } while (!(m & 0x400));
            bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t float_to_half(float f) {  // round to nearest even
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));
    if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow → inf
    if (absx < 0x38800000u) {  // subnormal or zero in half
        if (absx < 0x33000000u) return static_cast<uint16_t>(sign);
        const uint32_t e = absx >> 23, m = (absx & 0x7fffff) | 0x800000;
        const int shift = 126 - static_cast<int>(e);  // 14 - (e - 112)
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (r & 1))) ++r;
        return static_cast<uint16_t>(sign | r);
    }
    uint32_t r = ((absx - 0x38000000u) >> 13);
    const uint32_t rem = absx & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) ++r;
    return static_cast<uint16_t>(sign | r);
}

double element(int dtype, const void* data, size_t i) {
    const auto* p = static_cast<const unsigned char*>(data);
    switch (dtype) {
    case RWKVB_F64: { double d; std::memcpy(&d, p + 8 * i, 8); return d; }
    case RWKVB_F32: { float f; std::memcpy(&f, p + 4 * i, 4); return f; }
    case RWKVB_F16: { uint16_t h; std::memcpy(&h, p + 2 * i, 2); return half_to_float(h); }
    case RWKVB_BF16: {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        const uint32_t bits = static_cast<uint32_t>(h) << 16;
        float f;
        std::memcpy(&f, &bits, 4);
        return f;
    }
    default: return 0;
    }
}

size_t dtype_bytes(int dtype) {
    switch (dtype) {
    case RWKVB_F64: return 8;
    case RWKVB_F32: return 4;
    case RWKVB_F16: case RWKVB_BF16: return 2;
    default: return 0;
    }
}

}  // namespace rwkvb::ocl
