// dtype names and sizes; f16/bf16 conversions against hand-worked edge cases, and the portable
// conversion against the F16C one, bit for bit.
#include "dtype.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace rwkvb {
namespace {

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }
float from_bits(uint32_t u) { return std::bit_cast<float>(u); }

TEST(DType, SizesAndNames) {
    const DType all[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I32, DType::I8, DType::U8};
    const size_t sizes[] = {8, 4, 2, 2, 4, 1, 1};
    const char* names[] = {"F64", "F32", "F16", "BF16", "I32", "I8", "U8"};
    for (int i = 0; i < 7; ++i) {
        EXPECT_EQ(dtype_size(all[i]), sizes[i]);
        EXPECT_EQ(dtype_name(all[i]), names[i]);
        EXPECT_EQ(dtype_from_name(names[i]), all[i]);
    }
    EXPECT_EQ(dtype_from_name("f32"), std::nullopt);  // safetensors spelling is upper case
    EXPECT_EQ(dtype_from_name("F8_E4M3"), std::nullopt);
    EXPECT_EQ(dtype_from_name(""), std::nullopt);
    EXPECT_EQ(dtype_from_cli_name("int8"), DType::I8);
    EXPECT_EQ(dtype_from_cli_name("bf16"), DType::BF16);
    EXPECT_EQ(dtype_from_cli_name("F32"), std::nullopt);
    for (DType t : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I8})
        EXPECT_EQ(dtype_from_cli_name(dtype_cli_name(t)), t);
    EXPECT_EQ(int(DType::BF16), RWKVB_BF16);
}

TEST(F16, EdgeCases) {
    EXPECT_EQ(f32_to_f16(0.0f), 0x0000);
    EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
    EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
    EXPECT_EQ(f32_to_f16(-2.0f), 0xC000);
    EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);                      // largest finite
    EXPECT_EQ(f32_to_f16(std::nextafter(65520.0f, 0.0f)), 0x7BFF);  // just below the tie
    EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);                      // tie rounds to even = Inf
    EXPECT_EQ(f32_to_f16(1e10f), 0x7C00);
    EXPECT_EQ(f32_to_f16(-1e10f), 0xFC00);
    EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7C00);
    EXPECT_EQ(f32_to_f16(1.0f + 0x1p-11f), 0x3C00);       // tie, even below
    EXPECT_EQ(f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3C02);   // tie, even above
    EXPECT_EQ(f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01);
    EXPECT_EQ(f32_to_f16(0x1p-14f), 0x0400);              // smallest normal
    EXPECT_EQ(f32_to_f16(0x1p-24f), 0x0001);              // smallest subnormal
    EXPECT_EQ(f32_to_f16(0x1p-25f), 0x0000);              // tie to even (zero)
    EXPECT_EQ(f32_to_f16(3 * 0x1p-25f), 0x0002);          // tie to even (2)
    EXPECT_EQ(f32_to_f16(0x1p-25f * 1.0001f), 0x0001);
    EXPECT_EQ(f32_to_f16(0x1p-14f - 0x1p-25f), 0x0400);   // largest subnormal's tie rounds up to normal
    EXPECT_EQ(f32_to_f16(-0x1p-30f), 0x8000);             // underflow keeps the sign
    EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::denorm_min()), 0x0000);
    const uint16_t nan = f32_to_f16(std::numeric_limits<float>::quiet_NaN());
    EXPECT_EQ(nan & 0x7C00, 0x7C00);
    EXPECT_NE(nan & 0x03FF, 0);
    EXPECT_NE(f32_to_f16(from_bits(0x7F800001u)) & 0x03FF, 0);  // signalling NaN never becomes Inf

    EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
    EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
    EXPECT_EQ(f16_to_f32(0x0001), 0x1p-24f);
    EXPECT_EQ(f16_to_f32(0x03FF), 1023 * 0x1p-24f);
    EXPECT_EQ(bits(f16_to_f32(0x8000)), 0x80000000u);
    EXPECT_EQ(f16_to_f32(0x7C00), std::numeric_limits<float>::infinity());
    EXPECT_EQ(f16_to_f32(0xFC00), -std::numeric_limits<float>::infinity());
    EXPECT_TRUE(std::isnan(f16_to_f32(0x7E00)));
    EXPECT_TRUE(std::isnan(f16_to_f32(0x7C01)));
}

// Every half survives f16 -> f32 -> f16; the portable path matches the F16C one on all of them.
TEST(F16, ExhaustiveRoundTripAndPortablePathAgrees) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = f16_to_f32(uint16_t(h));
        ASSERT_EQ(bits(detail::f16_to_f32_soft(uint16_t(h))), bits(f)) << std::hex << h;
        if (std::isnan(f)) {
            ASSERT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
            continue;
        }
        ASSERT_EQ(f32_to_f16(f), h) << std::hex << h;
        ASSERT_EQ(detail::f32_to_f16_soft(f), h) << std::hex << h;
    }
}

// f32 -> f16 on the values where rounding is decided: each midpoint between neighbouring halves
// and its float neighbours, plus a spread of random bit patterns (NaNs included).
TEST(F16, PortableNarrowingMatchesHardware) {
    auto check = [](float f) {
        const uint16_t hw = f32_to_f16(f), sw = detail::f32_to_f16_soft(f);
        if (std::isnan(f)) {
            ASSERT_TRUE(std::isnan(f16_to_f32(sw))) << std::hex << bits(f);
            ASSERT_EQ(sw & 0x8000, hw & 0x8000);
        } else {
            ASSERT_EQ(sw, hw) << std::hex << bits(f);
        }
    };
    for (uint32_t h = 0; h < 0x7C00; ++h) {
        const double mid = (double(f16_to_f32(uint16_t(h))) + double(f16_to_f32(uint16_t(h + 1)))) / 2;
        const float m = float(mid);  // exact: halves' midpoints fit in a float
        ASSERT_EQ(double(m), mid);
        for (float f : {m, std::nextafter(m, 0.0f), std::nextafter(m, 1e30f)}) {
            check(f);
            check(-f);
        }
    }
    std::mt19937_64 rng(7);
    for (int i = 0; i < 1'000'000; ++i) check(from_bits(uint32_t(rng())));
}

TEST(BF16, EdgeCases) {
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
    EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
    EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f), 0x3F80);      // tie, even below
    EXPECT_EQ(f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);  // tie, even above
    EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);
    EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds to Inf
    EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7F80);
    EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xFF80);
    EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::denorm_min()), 0x0000);
    EXPECT_EQ(f32_to_bf16(from_bits(0x00018000u)), 0x0002);  // subnormal tie to even
    EXPECT_EQ(f32_to_bf16(from_bits(0x7F800001u)), 0x7FC0);  // signalling NaN stays NaN
    EXPECT_EQ(f32_to_bf16(from_bits(0xFFC00000u)), 0xFFC0);
    for (uint32_t b = 0; b < 0x10000; ++b) {
        const float f = bf16_to_f32(uint16_t(b));
        ASSERT_EQ(bits(f), b << 16);
        if (!std::isnan(f)) {
            ASSERT_EQ(f32_to_bf16(f), b);
        }
    }
    // Against a double-precision reference rounding on random finite floats.
    std::mt19937_64 rng(11);
    for (int i = 0; i < 200'000; ++i) {
        const float f = from_bits(uint32_t(rng()));
        if (!std::isfinite(f)) continue;
        const uint16_t b = f32_to_bf16(f);
        if (std::isinf(bf16_to_f32(b))) {  // only above bf16's largest finite + half an ulp
            ASSERT_GE(std::fabs(f), from_bits(0x7F7F8000u));
            continue;
        }
        const double err = std::fabs(double(bf16_to_f32(b)) - double(f));
        const double ulp = std::ldexp(1.0, std::max(std::ilogb(f), -126) - 7);  // subnormals: 2^-133
        ASSERT_LE(err, ulp / 2 + 1e-300) << std::hex << bits(f);
    }
}

TEST(DType, LoadAsDoubleUnaligned) {
    alignas(8) unsigned char buf[64] = {};
    unsigned char* p = buf + 1;  // deliberately misaligned
    const double d[2] = {3.25, -1e300};
    std::memcpy(p, d, sizeof d);
    EXPECT_EQ(load_as_double(DType::F64, p, 1), -1e300);
    const float f[2] = {0.5f, 7.0f};
    std::memcpy(p, f, sizeof f);
    EXPECT_EQ(load_as_double(DType::F32, p, 1), 7.0);
    const uint16_t h[2] = {0x3C00, 0xC100};  // 1.0, -2.5
    std::memcpy(p, h, sizeof h);
    EXPECT_EQ(load_as_double(DType::F16, p, 1), -2.5);
    const uint16_t b[2] = {0x3F80, 0x4040};  // 1.0, 3.0
    std::memcpy(p, b, sizeof b);
    EXPECT_EQ(load_as_double(DType::BF16, p, 1), 3.0);
    EXPECT_THROW(load_as_double(DType::I32, p, 0), std::logic_error);
}

}  // namespace
}  // namespace rwkvb
