/* quant.h — internal helpers for the block-quantized dtypes (quant_q4.c). */
#ifndef TTT_QUANT_H
#define TTT_QUANT_H

#include <ttt.h>

/* Bytes per 32-value block of a block dtype; 0 for other dtypes. */
size_t ttt_block_bytes(ttt_dtype dtype);
/* Index of the first NaN or infinite value of x[0..n), or -1. */
int64_t ttt_first_non_finite(const float *x, int64_t n);
/* "NaN", "+Inf" or "-Inf" for a non-finite value. */
const char *ttt_non_finite_name(float v);
/* Value i (0..31) of one q4_0 block, as f32. */
float ttt_q4_0_value(const uint8_t *block, int i);

#endif
