/*
 * kernels_avx512_lanes.h — the epilogue shared by the AVX-512 GEMMs that keep 16 output columns in
 * the lanes of each accumulator (the f32-activation GEMM in kernels_avx512.c, the bf16-activation
 * GEMM in kernels_bf16dot_avx512.c, the VNNI GEMMs in kernels_qgemm_avx512.c and
 * kernels_grouped_avx512.c). Include only from
 * files compiled with the AVX-512 F flags.
 */
#ifndef TTT_KERNELS_AVX512_LANES_H
#define TTT_KERNELS_AVX512_LANES_H

#include "kernels_simd_common.h"

/* acc[c] holds 16 output columns from `col` of activation row i + c, c < rx, summed over one k
 * slice; the lanes in `mask` are stored (the others are neither read nor written). The first slice
 * writes y = sum + bias; later slices add to y. */
INLINE void store_lanes(const ttt_gemm_problem *p, const __m512 *acc, int64_t col, __mmask16 mask,
                        int64_t i, int rx, bool first_slice) {
  __m512 bias =
      first_slice && p->bias ? _mm512_maskz_loadu_ps(mask, p->bias + col) : _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int c = 0; c < rx; c++) {
    float *y = p->y + (i + c) * p->ldy + col;
    __m512 base = first_slice ? bias : _mm512_maskz_loadu_ps(mask, y);
    _mm512_mask_storeu_ps(y, mask, _mm512_add_ps(acc[c], base));
  }
}

/* store_lanes for output columns [col, col + cols) (cols <= 16). */
INLINE void store_column_lanes(const ttt_gemm_problem *p, const __m512 *acc, int64_t col, int cols,
                               int64_t i, int rx, bool first_slice) {
  store_lanes(p, acc, col, (__mmask16)((1u << cols) - 1u), i, rx, first_slice);
}

#endif
