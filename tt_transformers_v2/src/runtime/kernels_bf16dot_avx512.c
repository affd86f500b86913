/*
 * bf16 weights × bf16 activations on AVX-512 (the bf16-activation option; the accuracy default
 * keeps f32 activations). Compiled with the flags of kernels_avx512.c. Activations arrive as the
 * prepared bf16 rows of p->xq (kernels.h: row stride ttt_bf16_activation_stride(k), the pad of an
 * odd k is 0), written by ttt_convert_rows_bf16_avx512.
 *
 * Both operands hold pairs of bf16 values per dword, the operand layout of vdpbf16ps, which adds
 * the two products of each 32-bit lane's pair to an f32 accumulator (products of two bf16 values
 * are exact in f32). Two variants share every loop: `native` uses vdpbf16ps (AVX512_BF16, gemm
 * table entry bf16_bf16_avx512bf16); otherwise each pair is widened to two f32 vectors (a 16-bit
 * shift for the low half, a mask for the high half) and summed by two FMAs (bf16_bf16_avx512, for
 * AVX-512 machines without AVX512_BF16). vdpbf16ps treats bf16 subnormal inputs as zero and flushes
 * subnormal results (|x| < 2^-126), unlike the FMA variant; at transformer activation scales the
 * difference is far below the bf16 rounding of the activations.
 *
 * Two paths, as for the f32-activation kernels in kernels_avx512.c:
 *   - dot_drive (m < GEMM_MIN_M, and every m in the row-invariant mode): row dot products, 32
 *     values per step, register tiles of DW weight rows × DX activation rows, horizontal sums at the
 *     end; a row's sums are the same whichever tile it is in, so results do not depend on m. Unlike
 *     the f32-activation kernels (GEMM from 8 rows), this path stays as fast as the GEMM up to
 *     m = 64: bench_kernels, one thread, GFLOP/s dot / GEMM: m = 8 127-166 / 60-82, m = 32
 *     137-158 / 131-150, m = 48 153-160 / 132-149, m = 64 157-171 / 153-174, m = 128 162-170 /
 *     181-191.
 *   - gemm_drive (prefill): output columns in lanes. Per k slice of BK values, a tile of BV·16
 *     weight rows is repacked into the workspace as [BK/2 pairs][BV·16 dwords] (pair q of row r at
 *     dword r: w[r][2q] low, w[r][2q + 1] high), by a 16 × 16 dword transpose of 32 columns of 16
 *     rows. Each activation row then contributes one broadcast dword per pair, read straight from
 *     its bf16 row: one vdpbf16ps adds 2 products to 16 output columns. A register tile is BV
 *     vectors × BX activation rows (24 accumulators); cache blocking as in kernels_avx512.c (panels
 *     of FM rows, column blocks of FN, the packed slice in L2). A 4 × 6 tile (64 columns, fewer
 *     broadcasts per vdpbf16ps, slices of 1024 values to fit the workspace) measured the same at
 *     m = 128 and slower for k = 8192 (more passes over y).
 * Measured (2-core AMD EPYC, Zen 4 class, bench_kernels, one thread's CPU time, m = 128,
 * Llama-3.2-1B shapes): 181-191 GFLOP/s, 77-82% of the vdpbf16ps peak (twice the 117 GFLOP/s f32
 * FMA peak), against 95-101 for bf16 weights with f32 activations.
 * The FMA variant (the ISA bit masked): 102-108 GFLOP/s, 88-93% of the f32 FMA peak. No AMX-BF16
 * tile version: the machine this was written on has none, so it could not be tested.
 */
#include "kernels_avx512_lanes.h"
#include "kernels_simd_common.h"
#include "simd_math.h"

enum {
  VEC = 16,        /* f32 lanes; also bf16 pairs per vector */
  STEP = 2 * VEC,  /* bf16 values per vector */
  DW = 4,          /* dot path: weight rows per tile */
  DX = 4,          /* dot path: activation rows per tile */
  BV = 2,          /* GEMM: vectors of 16 output columns per tile */
  BX = 12,         /* GEMM: activation rows per tile */
  BK = 2048,       /* GEMM: k values per slice (BK / 2 pairs) */
  FM = 128,        /* GEMM: activation rows per panel */
  FN = 512,        /* GEMM: output columns per block */
  GEMM_MIN_M = 64, /* fewer rows: the dot path (measured crossover, see above) */
  PAIR_BYTES = 4,  /* one bf16 pair */
  VALUE_BYTES = 2, /* one bf16 value */
  BF16_SHIFT = 16, /* bf16 is the top half of an f32 */
};

_Static_assert(BK / 2 * BV * VEC * PAIR_BYTES <= TTT_GEMM_WORKSPACE_BYTES, "workspace too small");
_Static_assert(BK % STEP == 0, "slices start at whole vectors");

/* acc + w.lo·x.lo + w.hi·x.hi in each 32-bit lane (w, x: 16 bf16 pairs). */
INLINE __m512 dot_pairs(__m512 acc, __m512i w, __m512i x, bool native) {
  if (native) return _mm512_dpbf16_ps(acc, (__m512bh)w, (__m512bh)x);
  const __m512i high = _mm512_set1_epi32((int)0xffff0000u); /* the high bf16, in place */
  __m512 w_lo = _mm512_castsi512_ps(_mm512_slli_epi32(w, BF16_SHIFT));
  __m512 x_lo = _mm512_castsi512_ps(_mm512_slli_epi32(x, BF16_SHIFT));
  __m512 w_hi = _mm512_castsi512_ps(_mm512_and_si512(w, high));
  __m512 x_hi = _mm512_castsi512_ps(_mm512_and_si512(x, high));
  return _mm512_fmadd_ps(w_hi, x_hi, _mm512_fmadd_ps(w_lo, x_lo, acc));
}

/* ---- dot path ---- */

/* y for weight rows [j, j + rw) × activation rows [i, i + rx); the rows of the next weight tile
 * (`next`, NULL: none) are prefetched one step ahead. */
INLINE void dot_tile(const ttt_gemm_problem *p, int64_t j, int rw, int64_t i, int rx,
                     const uint8_t *next, bool native) {
  int64_t stride = ttt_bf16_activation_stride(p->k);
  size_t row_bytes = (size_t)p->k * VALUE_BYTES;
  const uint16_t *w[DW], *x[DX];
  __m512 acc[DW][DX];
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    w[r] = (const uint16_t *)p->w + (j + r) * p->k;
#pragma GCC unroll 4
    for (int c = 0; c < rx; c++) acc[r][c] = _mm512_setzero_ps();
  }
#pragma GCC unroll 4
  for (int c = 0; c < rx; c++) x[c] = (const uint16_t *)p->xq + (i + c) * stride;
  for (int64_t t = 0; t < p->k; t += STEP) {
    int64_t rest = p->k - t;
    __mmask32 mask = rest < STEP ? (__mmask32)((1u << rest) - 1u) : (__mmask32)0xffffffffu;
    prefetch_next(next, row_bytes, rw, (size_t)t * VALUE_BYTES, STEP * VALUE_BYTES);
    __m512i xv[DX];
#pragma GCC unroll 4
    for (int c = 0; c < rx; c++) xv[c] = _mm512_maskz_loadu_epi16(mask, x[c] + t);
#pragma GCC unroll 4
    for (int r = 0; r < rw; r++) {
      __m512i wv = _mm512_maskz_loadu_epi16(mask, w[r] + t);
#pragma GCC unroll 4
      for (int c = 0; c < rx; c++) acc[r][c] = dot_pairs(acc[r][c], wv, xv[c], native);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    float bias = p->bias ? p->bias[j + r] : 0.0f;
#pragma GCC unroll 4
    for (int c = 0; c < rx; c++)
      p->y[(i + c) * p->ldy + j + r] = _mm512_reduce_add_ps(acc[r][c]) + bias;
  }
}

/* All activation rows [i0, i1) for weight rows [j, j + rw); the first tile prefetches `next`. */
INLINE void dot_panel(const ttt_gemm_problem *p, int64_t j, int rw, int64_t i0, int64_t i1,
                      const uint8_t *next, bool native) {
  int64_t i = i0;
  for (; i + DX <= i1; i += DX) dot_tile(p, j, rw, i, DX, i == i0 ? next : NULL, native);
  switch (i1 - i) {
  case 3:
    dot_tile(p, j, rw, i, 3, i == i0 ? next : NULL, native);
    break;
  case 2:
    dot_tile(p, j, rw, i, 2, i == i0 ? next : NULL, native);
    break;
  case 1:
    dot_tile(p, j, rw, i, 1, i == i0 ? next : NULL, native);
    break;
  default:
    break;
  }
}

/* Activation rows in panels that stay in L2 (PANEL_BYTES); each weight tile of DW rows is used
 * for the whole panel while it is in cache, so a decode (one panel) streams the weights once. */
INLINE void dot_drive(const ttt_gemm_problem *p, int64_t n0, int64_t n1, bool native) {
  size_t row_bytes = (size_t)p->k * VALUE_BYTES;
  int64_t rows = panel_rows(ttt_bf16_activation_stride(p->k) * VALUE_BYTES, DX);
  const uint8_t *w = p->w;
  for (int64_t i0 = 0; i0 < p->m; i0 += rows) {
    int64_t i1 = i0 + rows < p->m ? i0 + rows : p->m;
    int64_t j = n0;
    for (; j + DW <= n1; j += DW) {
      const uint8_t *next = j + 2 * DW <= n1 ? w + (size_t)(j + DW) * row_bytes : NULL;
      dot_panel(p, j, DW, i0, i1, next, native);
    }
    for (; j < n1; j++)
      dot_panel(p, j, 1, i0, i1, j + 2 <= n1 ? w + (size_t)(j + 1) * row_bytes : NULL, native);
  }
}

/* ---- GEMM path ---- */

/* Repacks columns [t0, t0 + len) of weight rows [j, j + rows) (rows <= 16; missing rows, and the
 * pad of an odd len, are zero) into buf[q·BV·16 + r] (pair q of row j + r). */
INLINE void pack_group(const ttt_gemm_problem *p, int64_t j, int rows, int64_t t0, int64_t len,
                       uint32_t *buf) {
  size_t row_bytes = (size_t)p->k * VALUE_BYTES;
  const uint8_t *base = (const uint8_t *)p->w + (size_t)j * row_bytes + (size_t)t0 * VALUE_BYTES;
  for (int64_t t = 0; t < len; t += STEP) {
    int64_t rest = len - t;
    __mmask32 mask = rest < STEP ? (__mmask32)((1u << rest) - 1u) : (__mmask32)0xffffffffu;
    __m512 r[VEC];
    for (int q = 0; q < VEC; q++)
      r[q] = q < rows ? _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(
                            mask, base + (size_t)q * row_bytes + (size_t)t * VALUE_BYTES))
                      : _mm512_setzero_ps();
    transpose16_ps(r); /* r[d]: pair t/2 + d of the 16 rows */
    int64_t pairs = rest < STEP ? (rest + 1) / 2 : VEC;
    for (int64_t d = 0; d < pairs; d++) _mm512_store_ps(buf + (t / 2 + d) * BV * VEC, r[d]);
  }
}

/* Activation rows [i, i + rx) against packed groups [0, bv) (output columns [j, j + 16·bv), the
 * last group limited to `last` columns) for k slice [t0, t0 + len). The first slice writes
 * y = sum + bias, later ones add to y. */
INLINE void gemm_tile(const ttt_gemm_problem *p, const uint32_t *buf, int64_t j, int bv, int last,
                      int64_t i, int rx, int64_t t0, int64_t len, bool native) {
  int64_t stride = ttt_bf16_activation_stride(p->k);
  __m512 acc[BV][BX];
  const uint16_t *x[BX];
#pragma GCC unroll 12
  for (int c = 0; c < rx; c++) {
    x[c] = (const uint16_t *)p->xq + (i + c) * stride + t0;
#pragma GCC unroll 2
    for (int v = 0; v < bv; v++) acc[v][c] = _mm512_setzero_ps();
  }
  int64_t pairs = (len + 1) / 2; /* an odd last slice reads the activation row's zero pad */
  for (int64_t q = 0; q < pairs; q++) {
    __m512i wv[BV];
#pragma GCC unroll 2
    for (int v = 0; v < bv; v++) wv[v] = _mm512_load_si512(buf + q * BV * VEC + v * VEC);
#pragma GCC unroll 12
    for (int c = 0; c < rx; c++) {
      uint32_t pair;
      memcpy(&pair, x[c] + 2 * q, PAIR_BYTES);
      __m512i xb = _mm512_set1_epi32((int)pair);
#pragma GCC unroll 2
      for (int v = 0; v < bv; v++) acc[v][c] = dot_pairs(acc[v][c], wv[v], xb, native);
    }
  }
#pragma GCC unroll 2
  for (int v = 0; v < bv; v++)
    store_column_lanes(p, acc[v], j + v * VEC, v == bv - 1 ? last : VEC, i, rx, t0 == 0);
}

/* Activation rows [i0, i1) against one packed tile of bv groups. */
INLINE void gemm_rows(const ttt_gemm_problem *p, const uint32_t *buf, int64_t j, int bv, int last,
                      int64_t i0, int64_t i1, int64_t t0, int64_t len, bool native) {
  int64_t i = i0;
  for (; i + BX <= i1; i += BX) gemm_tile(p, buf, j, bv, last, i, BX, t0, len, native);
  for (; i + 4 <= i1; i += 4) gemm_tile(p, buf, j, bv, last, i, 4, t0, len, native);
  switch (i1 - i) {
  case 3:
    gemm_tile(p, buf, j, bv, last, i, 3, t0, len, native);
    break;
  case 2:
    gemm_tile(p, buf, j, bv, last, i, 2, t0, len, native);
    break;
  case 1:
    gemm_tile(p, buf, j, bv, last, i, 1, t0, len, native);
    break;
  default:
    break;
  }
}

/* Output columns [j, j + cols) (cols <= BV·16) for rows [i0, i1) and k slice [t0, t0 + len). */
INLINE void gemm_block(const ttt_gemm_problem *p, uint32_t *buf, int64_t j, int64_t cols,
                       int64_t i0, int64_t i1, int64_t t0, int64_t len, bool native) {
  int bv = (int)((cols + VEC - 1) / VEC);
  int last = (int)(cols - (bv - 1) * VEC);
  for (int v = 0; v < bv; v++)
    pack_group(p, j + v * VEC, v == bv - 1 ? last : VEC, t0, len, buf + v * VEC);
  if (bv == BV)
    gemm_rows(p, buf, j, BV, last, i0, i1, t0, len, native);
  else
    gemm_rows(p, buf, j, 1, last, i0, i1, t0, len, native);
}

INLINE void gemm_drive(const ttt_gemm_problem *p, int64_t n0, int64_t n1, bool native) {
  uint32_t *buf = p->workspace; /* [BK / 2][BV·16] */
  for (int64_t i0 = 0; i0 < p->m; i0 += FM) {
    int64_t i1 = i0 + FM < p->m ? i0 + FM : p->m;
    for (int64_t c0 = n0; c0 < n1; c0 += FN) {
      int64_t c1 = c0 + FN < n1 ? c0 + FN : n1;
      for (int64_t t0 = 0; t0 < p->k; t0 += BK) {
        int64_t len = p->k - t0 < BK ? p->k - t0 : BK;
        for (int64_t j = c0; j < c1; j += BV * VEC) {
          int64_t cols = c1 - j < BV * VEC ? c1 - j : BV * VEC;
          gemm_block(p, buf, j, cols, i0, i1, t0, len, native);
        }
      }
    }
  }
}

INLINE void dispatch(const ttt_gemm_problem *p, int64_t n0, int64_t n1, bool native) {
  if (p->m >= GEMM_MIN_M && !p->row_invariant)
    gemm_drive(p, n0, n1, native);
  else
    dot_drive(p, n0, n1, native);
}

void ttt_gemm_bf16_bf16_avx512bf16(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  dispatch(p, n0, n1, true);
}

void ttt_gemm_bf16_bf16_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  dispatch(p, n0, n1, false);
}

/* ---- activation conversion ----
 * Bit for bit ttt_f32_to_bf16 (AVX-512F/BW only, so both kernels above can use it): round to
 * nearest even by adding 0x7fff plus the lowest kept bit, NaN made quiet. vcvtneps2bf16 would
 * also round to nearest even but flushes subnormal inputs to zero. */
INLINE __m256i round_bf16(__m512i u) {
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, BF16_SHIFT), _mm512_set1_epi32(1));
  __m512i rounded = _mm512_srli_epi32(
      _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb)), BF16_SHIFT);
  __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs_mask), inf);
  __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(u, BF16_SHIFT), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(rounded, nan, quiet));
}

void ttt_convert_rows_bf16_avx512(const float *x, int64_t k, int64_t i0, int64_t i1, uint8_t *xq,
                                  float *scale, int32_t *sum) {
  (void)scale, (void)sum; /* bf16 rows have no side arrays */
  int64_t stride = ttt_bf16_activation_stride(k);
  for (int64_t i = i0; i < i1; i++) {
    const float *row = x + i * k;
    uint16_t *out = (uint16_t *)(void *)xq + i * stride;
    for (int64_t t = 0; t < k; t += VEC) {
      int64_t rest = k - t;
      __mmask16 mask = rest < VEC ? (__mmask16)((1u << rest) - 1u) : (__mmask16)0xffffu;
      __m512i u = _mm512_castps_si512(_mm512_maskz_loadu_ps(mask, row + t));
      _mm256_mask_storeu_epi16(out + t, mask, round_bf16(u));
    }
    if (stride > k) out[k] = 0;
  }
}
