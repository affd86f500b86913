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

/* ---- the grouped block dtypes (quant_grouped.c; layout in ttt/core.h) ---- */
bool ttt_dtype_is_grouped(ttt_dtype dtype);
/* The row-major dtype of a grouped one's blocks (q8_0_g16 → q8_0), and back; others unchanged. */
ttt_dtype ttt_grouped_base(ttt_dtype dtype);
ttt_dtype ttt_grouped_of(ttt_dtype dtype);
/* Code bytes of one block of a group (16 rows); bytes of one group of rows of k values (padded
 * to 64); bytes of `rows` rows (0 on overflow). */
size_t ttt_grouped_code_bytes(ttt_dtype dtype);
size_t ttt_grouped_group_bytes(ttt_dtype dtype, int64_t k);
size_t ttt_grouped_bytes(ttt_dtype dtype, int64_t rows, int64_t k);
/* Row r of a grouped tensor [*, k] from / to its k/32 row-major blocks (ttt_grouped_base format),
 * byte for byte. */
void ttt_grouped_store_row(ttt_dtype dtype, uint8_t *data, int64_t k, int64_t r,
                           const uint8_t *blocks);
void ttt_grouped_load_row(ttt_dtype dtype, const uint8_t *data, int64_t k, int64_t r,
                          uint8_t *blocks);
/* Row r as k f32 values (no allocation: MLA's absorbed decode reads weight rows this way). */
void ttt_grouped_dequantize_row(ttt_dtype dtype, const uint8_t *data, int64_t k, int64_t r,
                                float *dst);
/* Value t of row r. */
float ttt_grouped_value(ttt_dtype dtype, const uint8_t *data, int64_t k, int64_t r, int64_t t);

#endif
