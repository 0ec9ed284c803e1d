// Element types of the checkpoint tensors: reading any of them as a number, and the f16 storage
// of weights (round to nearest even, as the device's vload_half expects).
#pragma once
#include <cstddef>
#include <cstdint>

namespace rwkvb::ocl {

// Bytes per element of an rwkvb_dtype this backend reads (F64, F32, F16, BF16); 0 for others.
size_t dtype_bytes(int dtype);

// Element i of a tensor of `dtype` (one of the above).
double element(int dtype, const void* data, size_t i);

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

}  // namespace rwkvb::ocl
