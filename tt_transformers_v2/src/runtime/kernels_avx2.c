/*
 * AVX2 GEMM/GEMV kernels. This file is compiled with -mavx2 -mfma -mf16c; its functions run only
 * when the device has those ISA bits (linear.c's gemm_table).
 *
 * Same structure as kernels_avx512.c: RW weight rows × RX activation rows per register tile, with
 * activation panels sized for L2 and each weight tile reused for every row of a panel. With 16 ymm
 * registers the tile is 4 × 2 (8 accumulators, 2 activation vectors, 1 weight vector).
 * Columns past the last whole chunk (k % 32 for f32/f16/bf16) are summed by a scalar tail. The
 * first activation tile over weight tile j prefetches tile j + 1, as in kernels_avx512.c.
 */
#include "kernels_simd_common.h"

enum {
  RW = 4,     /* weight rows per tile */
  RX = 2,     /* activation rows per tile */
  VEC = 8,    /* f32 lanes */
  CHUNK = 32, /* columns per inner step: four vectors, one q8_0 block */
};

static float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* 8 weights of a row starting at column t, widened to f32 (q8_0 not yet scaled). */
INLINE __m256 load_w(weight_kind kind, const uint8_t *row, int64_t t) {
  switch (kind) {
  case W_F32:
    return _mm256_loadu_ps((const float *)(const void *)row + t);
  case W_BF16: {
    __m128i h = _mm_loadu_si128((const void *)((const uint16_t *)(const void *)row + t));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  case W_F16:
    return _mm256_cvtph_ps(
        _mm_loadu_si128((const void *)((const uint16_t *)(const void *)row + t)));
  case W_Q8_0:
  case W_Q8_0_Q8:
    break;
  }
  const uint8_t *block = row + (t / TTT_Q8_0_BLOCK) * TTT_Q8_0_BLOCK_BYTES;
  __m128i q = _mm_loadl_epi64((const void *)(block + 2 + t % TTT_Q8_0_BLOCK));
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
}

/* One weight value as f32 (scalar tail; never q8_0, whose rows are whole blocks). */
INLINE float load_w1(weight_kind kind, const uint8_t *row, int64_t t) {
  float f;
  uint16_t h;
  switch (kind) {
  case W_F32:
    memcpy(&f, row + 4 * t, 4);
    return f;
  case W_BF16:
    memcpy(&h, row + 2 * t, 2);
    return ttt_bf16_to_f32(h);
  case W_F16:
    return f16_scalar(row + 2 * t);
  case W_Q8_0:
  case W_Q8_0_Q8:
    break;
  }
  return 0.0f;
}

INLINE void float_chunk(weight_kind kind, const uint8_t *const *w, const float *const *x,
                        __m256 acc[RW][RX], int rw, int rx, int64_t t) {
  __m256 scale[RW];
  if (kind == W_Q8_0) {
#pragma GCC unroll 4
    for (int r = 0; r < rw; r++)
      scale[r] = _mm256_set1_ps(f16_scalar(w[r] + (t / TTT_Q8_0_BLOCK) * TTT_Q8_0_BLOCK_BYTES));
  }
#pragma GCC unroll 4
  for (int v = 0; v < CHUNK / VEC; v++) {
    int64_t col = t + v * VEC;
    __m256 xv[RX];
#pragma GCC unroll 2
    for (int c = 0; c < rx; c++) xv[c] = _mm256_loadu_ps(x[c] + col);
#pragma GCC unroll 4
    for (int r = 0; r < rw; r++) {
      __m256 wv = load_w(kind, w[r], col);
      if (kind == W_Q8_0) wv = _mm256_mul_ps(wv, scale[r]);
#pragma GCC unroll 2
      for (int c = 0; c < rx; c++) acc[r][c] = _mm256_fmadd_ps(xv[c], wv, acc[r][c]);
    }
  }
}

INLINE void float_tile(const ttt_gemm_problem *p, weight_kind kind, int64_t j, int rw, int64_t i,
                       int rx, const uint8_t *next) {
  size_t row_bytes = weight_row_bytes(kind, p->k);
  const uint8_t *w[RW];
  const float *x[RX];
  __m256 acc[RW][RX];
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    w[r] = (const uint8_t *)p->w + (size_t)(j + r) * row_bytes;
#pragma GCC unroll 2
    for (int c = 0; c < rx; c++) acc[r][c] = _mm256_setzero_ps();
  }
#pragma GCC unroll 2
  for (int c = 0; c < rx; c++) x[c] = p->x + (i + c) * p->k;
  int64_t full = p->k - p->k % CHUNK;
  size_t chunk_bytes = weight_row_bytes(kind, CHUNK);
  for (int64_t t = 0; t < full; t += CHUNK) {
    prefetch_next(next, row_bytes, rw, weight_row_bytes(kind, t), chunk_bytes);
    float_chunk(kind, w, x, acc, rw, rx, t);
  }
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    float bias = p->bias ? p->bias[j + r] : 0.0f;
#pragma GCC unroll 2
    for (int c = 0; c < rx; c++) {
      float tail = 0.0f;
      for (int64_t t = full; t < p->k; t++) tail += x[c][t] * load_w1(kind, w[r], t);
      p->y[(i + c) * p->ldy + j + r] = hsum(acc[r][c]) + tail + bias;
    }
  }
}

/* ---- q8_0 weights × q8_0 activations ----
 * vpmaddubsw multiplies unsigned by signed bytes: |w| times x carrying w's sign gives w·x, and the
 * pair sums stay within int16 (2·127·127 < 32767). vpmaddwd with ones then sums to 8 int32 lanes.
 */

INLINE __m256i load_quants(const uint8_t *block) {
  return _mm256_loadu_si256((const void *)(block + 2));
}

INLINE void q8_step(const uint8_t *const *w, const uint8_t *const *x, __m256 acc[RW][RX], int rw,
                    int rx, size_t offset) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i xq[RX];
  float xs[RX];
#pragma GCC unroll 2
  for (int c = 0; c < rx; c++) {
    xq[c] = load_quants(x[c] + offset);
    xs[c] = f16_scalar(x[c] + offset);
  }
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    __m256i wq = load_quants(w[r] + offset);
    __m256i wabs = _mm256_sign_epi8(wq, wq);
    float ws = f16_scalar(w[r] + offset);
#pragma GCC unroll 2
    for (int c = 0; c < rx; c++) {
      __m256i products = _mm256_maddubs_epi16(wabs, _mm256_sign_epi8(xq[c], wq));
      __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(products, ones));
      acc[r][c] = _mm256_fmadd_ps(dot, _mm256_set1_ps(ws * xs[c]), acc[r][c]);
    }
  }
}

INLINE void q8_tile(const ttt_gemm_problem *p, int64_t j, int rw, int64_t i, int rx,
                    const uint8_t *next) {
  int64_t blocks = p->k / TTT_Q8_0_BLOCK;
  size_t row_bytes = (size_t)blocks * TTT_Q8_0_BLOCK_BYTES;
  const uint8_t *w[RW], *x[RX];
  __m256 acc[RW][RX];
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    w[r] = (const uint8_t *)p->w + (size_t)(j + r) * row_bytes;
#pragma GCC unroll 2
    for (int c = 0; c < rx; c++) acc[r][c] = _mm256_setzero_ps();
  }
#pragma GCC unroll 2
  for (int c = 0; c < rx; c++) x[c] = (const uint8_t *)p->xq + (size_t)(i + c) * row_bytes;
  for (int64_t b = 0; b < blocks; b++) {
    prefetch_next(next, row_bytes, rw, (size_t)b * TTT_Q8_0_BLOCK_BYTES, TTT_Q8_0_BLOCK_BYTES);
    q8_step(w, x, acc, rw, rx, (size_t)b * TTT_Q8_0_BLOCK_BYTES);
  }
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    float bias = p->bias ? p->bias[j + r] : 0.0f;
#pragma GCC unroll 2
    for (int c = 0; c < rx; c++) p->y[(i + c) * p->ldy + j + r] = hsum(acc[r][c]) + bias;
  }
}

/* ---- drivers ---- */

INLINE void tile(const ttt_gemm_problem *p, weight_kind kind, int64_t j, int rw, int64_t i, int rx,
                 const uint8_t *next) {
  if (kind == W_Q8_0_Q8)
    q8_tile(p, j, rw, i, rx, next);
  else
    float_tile(p, kind, j, rw, i, rx, next);
}

INLINE void panel(const ttt_gemm_problem *p, weight_kind kind, int64_t j, int rw, int64_t i0,
                  int64_t i1, const uint8_t *next) {
  int64_t i = i0;
  for (; i + RX <= i1; i += RX) tile(p, kind, j, rw, i, RX, i == i0 ? next : NULL);
  if (i < i1) tile(p, kind, j, rw, i, 1, i == i0 ? next : NULL);
}

INLINE void drive(const ttt_gemm_problem *p, int64_t n0, int64_t n1, weight_kind kind) {
  size_t row_bytes = weight_row_bytes(kind, p->k);
  int64_t x_row_bytes = kind == W_Q8_0_Q8 ? (int64_t)row_bytes : p->k * 4;
  int64_t rows = panel_rows(x_row_bytes, RX);
  const uint8_t *w = p->w;
  for (int64_t i0 = 0; i0 < p->m; i0 += rows) {
    int64_t i1 = i0 + rows < p->m ? i0 + rows : p->m;
    int64_t j = n0;
    for (; j + RW <= n1; j += RW) {
      const uint8_t *next = j + 2 * RW <= n1 ? w + (size_t)(j + RW) * row_bytes : NULL;
      panel(p, kind, j, RW, i0, i1, next);
    }
    for (; j < n1; j++)
      panel(p, kind, j, 1, i0, i1, j + 2 <= n1 ? w + (size_t)(j + 1) * row_bytes : NULL);
  }
}

void ttt_gemm_f32_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  drive(p, n0, n1, W_F32);
}

void ttt_gemm_bf16_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  drive(p, n0, n1, W_BF16);
}

void ttt_gemm_f16_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  drive(p, n0, n1, W_F16);
}

void ttt_gemm_q8_0_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  drive(p, n0, n1, W_Q8_0);
}

void ttt_gemm_q8_0_q8_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  drive(p, n0, n1, W_Q8_0_Q8);
}
