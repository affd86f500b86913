/*
 * kernels_simd_common.h — scalar helpers shared by the SIMD kernel files (kernels_avx2.c,
 * kernels_avx512.c). Include only from files compiled with F16C enabled: f16_scalar uses it.
 */
#ifndef TTT_KERNELS_SIMD_COMMON_H
#define TTT_KERNELS_SIMD_COMMON_H

#include <immintrin.h>
#include <string.h>

#include "kernels.h"

#define INLINE static inline __attribute__((always_inline))

/* Activation bytes per panel of the prefill GEMMs (kept in L2 across weight tiles). */
enum { PANEL_BYTES = 1 << 20 };

/* How weights are stored; a compile-time constant in every kernel instantiation. */
typedef enum weight_kind { W_F32, W_BF16, W_F16, W_Q8_0, W_Q8_0_Q8 } weight_kind;

static inline float f16_scalar(const uint8_t *p) {
  uint16_t h;
  memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

/* Prefetches `bytes` bytes at `offset` of each of the rw rows of the next weight tile (NULL: none)
 * into L2. */
INLINE void prefetch_next(const uint8_t *next, size_t row_bytes, int rw, size_t offset,
                          size_t bytes) {
  if (!next) return;
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++)
    for (size_t b = 0; b < bytes; b += 64)
      _mm_prefetch((const char *)(next + (size_t)r * row_bytes + offset + b), _MM_HINT_T1);
}

/* Weight rows per decode tile for the GEMV (m = 1) of bf16 and f16 weights: 2 demand streams (the
 * next 2 rows prefetched) rather than the 4 other weights use. Measured (bench_kernels, one
 * thread, Llama-3.2-1B shapes, 2-core AMD EPYC Zen 4, read probe 29-30 GB/s): AVX-512 27-31 GB/s
 * instead of 22-25, AVX2 (--isa avx2) 28-29 instead of 20-28; 3 rows measured close to 2, f32
 * weights stream fastest with 4 and q8_0 ones are indifferent. Why 4 streams of 16-bit rows fall
 * short of the read rate while 4 of f32 rows do not is not understood: a measured choice. */
enum { DECODE_ROWS_16BIT = 2 };

/* Whether a problem is the decode GEMV of 16-bit weights (tiles of DECODE_ROWS_16BIT rows). */
static inline bool is_16bit_decode(const ttt_gemm_problem *p, weight_kind kind) {
  return p->m == 1 && (kind == W_BF16 || kind == W_F16);
}

/* Activation rows per panel: as many as fit in PANEL_BYTES, a multiple of rx, at least rx. */
static inline int64_t panel_rows(int64_t row_bytes, int64_t rx) {
  int64_t rows = PANEL_BYTES / (row_bytes > 0 ? row_bytes : 1);
  rows -= rows % rx;
  return rows < rx ? rx : rows;
}

/* Bytes of one weight row of k values. */
static inline size_t weight_row_bytes(weight_kind kind, int64_t k) {
  switch (kind) {
  case W_F32:
    return (size_t)k * 4;
  case W_BF16:
  case W_F16:
    return (size_t)k * 2;
  case W_Q8_0:
  case W_Q8_0_Q8:
    break;
  }
  return (size_t)(k / TTT_Q8_0_BLOCK) * TTT_Q8_0_BLOCK_BYTES;
}

#endif
