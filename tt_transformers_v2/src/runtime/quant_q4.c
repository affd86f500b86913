/* q4_0 block quantization (layout in ttt/core.h) and the block-dtype helpers of tensor.c. */
#include <math.h>
#include <string.h>

#include <ttt.h>

#include "quant.h"

bool ttt_dtype_is_block(ttt_dtype dtype) { return dtype == TTT_Q8_0 || dtype == TTT_Q4_0; }

size_t ttt_block_bytes(ttt_dtype dtype) {
  return dtype == TTT_Q8_0 ? TTT_Q8_0_BLOCK_BYTES : dtype == TTT_Q4_0 ? TTT_Q4_0_BLOCK_BYTES : 0;
}

int64_t ttt_first_non_finite(const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return i;
  return -1;
}

const char *ttt_non_finite_name(float v) { return isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf"; }

/* Round to nearest, ties to even, for |v| < 2^22 (as in tensor.c: no libm call). */
static float round_even(float v) {
  const float magic = 12582912.0f;
  return (v + magic) - magic;
}

static uint8_t code_of(float v, float inverse) {
  float c = round_even(v * inverse) + 8.0f;
  return (uint8_t)(c < 0.0f ? 0.0f : c > 15.0f ? 15.0f : c);
}

/* One block of finite values. The inverse uses the stored (f16-rounded) scale, so the codes are the
 * nearest ones for the scale that dequantization will use. */
static void quantize_block(const float *x, uint8_t *block) {
  float max = 0.0f;
  for (int i = 0; i < TTT_Q4_0_BLOCK; i++)
    if (fabsf(x[i]) > fabsf(max)) max = x[i];
  uint16_t scale_h = ttt_f32_to_f16(max / -8.0f);
  float scale = ttt_f16_to_f32(scale_h);
  float inverse = scale != 0.0f ? 1.0f / scale : 0.0f;
  memcpy(block, &scale_h, 2);
  for (int i = 0; i < TTT_Q4_0_BLOCK / 2; i++)
    block[2 + i] = (uint8_t)(code_of(x[i], inverse) | code_of(x[i + 16], inverse) << 4);
}

ttt_status ttt_quantize_q4_0(const float *src, int64_t n, void *dst) {
  if (!src || !dst || n <= 0 || n % TTT_Q4_0_BLOCK != 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_quantize_q4_0: need non-NULL buffers and n a positive multiple of 32 "
                         "(got %lld)",
                         (long long)n);
  int64_t bad = ttt_first_non_finite(src, n);
  if (bad >= 0)
    return ttt_set_error(TTT_ERR_INVALID_ARGUMENT,
                         "ttt_quantize_q4_0: element %lld is %s; q4_0 holds finite values only",
                         (long long)bad, ttt_non_finite_name(src[bad]));
  /* The scale m / −8 must be a finite f16: |m| ≤ 8 · 65504. */
  for (int64_t i = 0; i < n; i++)
    if (fabsf(src[i]) > 8.0f * 65504.0f)
      return ttt_set_error(TTT_ERR_OUT_OF_RANGE,
                           "ttt_quantize_q4_0: element %lld is %g; q4_0 holds |x| <= %g only",
                           (long long)i, (double)src[i], 8.0 * 65504.0);
  uint8_t *out = dst;
  for (int64_t b = 0; b < n / TTT_Q4_0_BLOCK; b++)
    quantize_block(src + b * TTT_Q4_0_BLOCK, out + b * TTT_Q4_0_BLOCK_BYTES);
  return TTT_OK;
}

float ttt_q4_0_value(const uint8_t *block, int i) {
  uint16_t scale_h;
  memcpy(&scale_h, block, 2);
  uint8_t byte = block[2 + i % 16];
  int code = i < 16 ? byte & 0x0f : byte >> 4;
  return ttt_f16_to_f32(scale_h) * (float)(code - 8);
}

ttt_status ttt_dequantize_q4_0(const void *src, int64_t n, float *dst) {
  if (!src || !dst || n <= 0 || n % TTT_Q4_0_BLOCK != 0)
    return ttt_set_error(
        TTT_ERR_INVALID_ARGUMENT,
        "ttt_dequantize_q4_0: need non-NULL buffers and n a positive multiple of 32 (got %lld)",
        (long long)n);
  const uint8_t *in = src;
  for (int64_t b = 0; b < n / TTT_Q4_0_BLOCK; b++)
    for (int i = 0; i < TTT_Q4_0_BLOCK; i++)
      dst[b * TTT_Q4_0_BLOCK + i] = ttt_q4_0_value(in + b * TTT_Q4_0_BLOCK_BYTES, i);
  return TTT_OK;
}
