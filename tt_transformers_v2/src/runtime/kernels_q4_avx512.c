/*
 * q4_0 weights × q8_0 activations, AVX-512 VNNI (compiled with the AVX-512 flags; selected only
 * when the device has AVX-512 F/BW/VL and VNNI). Two blocks share one zmm: lanes 0-7 hold block b,
 * lanes 8-15 block b+1 (zero when the row has an odd block count and b is the last). vpdpbusd
 * multiplies the unsigned weight codes (0..15) by the signed activations; the code offset is
 * removed by starting each accumulation from −Σ 8·x, taken once per activation block pair with a
 * vpdpbusd of 8s: Σ (c − 8)·x = Σ c·x − Σ 8·x. Tiles of RW weight rows × RX activation rows, and
 * activation panels kept in L2 while every weight tile passes over them.
 */
#include "kernels_simd_common.h"

enum { RW = 4, RX = 4 };

INLINE __m256i unpack_codes(const uint8_t *block) {
  const __m128i low4 = _mm_set1_epi8(0x0f);
  __m128i packed = _mm_loadu_si128((const void *)(block + 2));
  __m128i lo = _mm_and_si128(packed, low4);
  __m128i hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low4);
  return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/* Codes of weight blocks b and b+1 (the second zero when single). */
INLINE __m512i load_codes(const uint8_t *block, bool single) {
  __m512i lo = _mm512_zextsi256_si512(unpack_codes(block));
  if (single) return lo;
  return _mm512_inserti64x4(lo, unpack_codes(block + TTT_Q4_0_BLOCK_BYTES), 1);
}

/* Quants of activation blocks b and b+1 (the second zero when single). */
INLINE __m512i load_quants(const uint8_t *block, bool single) {
  __m256i lo = _mm256_loadu_si256((const void *)(block + 2));
  if (single) return _mm512_zextsi256_si512(lo);
  __m256i hi = _mm256_loadu_si256((const void *)(block + TTT_Q8_0_BLOCK_BYTES + 2));
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Lanes 0-7 = the f16 scale at `block`, lanes 8-15 = the one `stride` bytes on (0 when single). */
INLINE __m512 pair_scales(const uint8_t *block, size_t stride, bool single) {
  __m256 lo = _mm256_set1_ps(f16_scalar(block));
  __m256 hi = single ? _mm256_setzero_ps() : _mm256_set1_ps(f16_scalar(block + stride));
  return _mm512_castpd_ps(
      _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
}

INLINE void q4_step(const uint8_t *const *w, const uint8_t *const *x, __m512 acc[RW][RX], int rw,
                    int rx, int64_t b, bool single) {
  const __m512i eights = _mm512_set1_epi8(8);
  __m512i xq[RX], start[RX];
  __m512 xs[RX];
#pragma GCC unroll 4
  for (int c = 0; c < rx; c++) {
    const uint8_t *xb = x[c] + b * TTT_Q8_0_BLOCK_BYTES;
    xq[c] = load_quants(xb, single);
    start[c] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                _mm512_dpbusd_epi32(_mm512_setzero_si512(), eights, xq[c]));
    xs[c] = pair_scales(xb, TTT_Q8_0_BLOCK_BYTES, single);
  }
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    const uint8_t *wb = w[r] + b * TTT_Q4_0_BLOCK_BYTES;
    __m512i codes = load_codes(wb, single);
    __m512 ws = pair_scales(wb, TTT_Q4_0_BLOCK_BYTES, single);
#pragma GCC unroll 4
    for (int c = 0; c < rx; c++) {
      __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start[c], codes, xq[c]));
      acc[r][c] = _mm512_fmadd_ps(dot, _mm512_mul_ps(ws, xs[c]), acc[r][c]);
    }
  }
}

INLINE void q4_tile(const ttt_gemm_problem *p, int64_t j, int rw, int64_t i, int rx) {
  int64_t blocks = p->k / TTT_Q4_0_BLOCK;
  size_t w_row = (size_t)blocks * TTT_Q4_0_BLOCK_BYTES,
         x_row = (size_t)blocks * TTT_Q8_0_BLOCK_BYTES;
  const uint8_t *w[RW], *x[RX];
  __m512 acc[RW][RX];
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    w[r] = (const uint8_t *)p->w + (size_t)(j + r) * w_row;
#pragma GCC unroll 4
    for (int c = 0; c < rx; c++) acc[r][c] = _mm512_setzero_ps();
  }
#pragma GCC unroll 4
  for (int c = 0; c < rx; c++) x[c] = (const uint8_t *)p->xq + (size_t)(i + c) * x_row;
  int64_t b = 0;
  for (; b + 2 <= blocks; b += 2) q4_step(w, x, acc, rw, rx, b, false);
  if (b < blocks) q4_step(w, x, acc, rw, rx, b, true);
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    float bias = p->bias ? p->bias[j + r] : 0.0f;
#pragma GCC unroll 4
    for (int c = 0; c < rx; c++)
      p->y[(i + c) * p->ldy + j + r] = _mm512_reduce_add_ps(acc[r][c]) + bias;
  }
}

INLINE void q4_panel(const ttt_gemm_problem *p, int64_t j, int rw, int64_t i0, int64_t i1) {
  int64_t i = i0;
  for (; i + RX <= i1; i += RX) q4_tile(p, j, rw, i, RX);
  switch (i1 - i) {
  case 3:
    q4_tile(p, j, rw, i, 3);
    break;
  case 2:
    q4_tile(p, j, rw, i, 2);
    break;
  case 1:
    q4_tile(p, j, rw, i, 1);
    break;
  default:
    break;
  }
}

void ttt_gemm_q4_0_q8_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  int64_t rows = panel_rows((p->k / TTT_Q8_0_BLOCK) * TTT_Q8_0_BLOCK_BYTES, RX);
  for (int64_t i0 = 0; i0 < p->m; i0 += rows) {
    int64_t i1 = i0 + rows < p->m ? i0 + rows : p->m;
    int64_t j = n0;
    for (; j + RW <= n1; j += RW) q4_panel(p, j, RW, i0, i1);
    for (; j < n1; j++) q4_panel(p, j, 1, i0, i1);
  }
}
