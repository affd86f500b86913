/*
 * AVX-512 GEMM/GEMV kernels. This file is compiled with -mavx512f/bw/vl/vnni/bf16 (and AVX2, FMA,
 * F16C); its functions run only when the device has the ISA bits listed for them in linear.c's
 * gemm_table.
 *
 * Register blocking: a tile is RW weight rows × RX activation rows. Every weight vector loaded (and
 * widened to f32) feeds RX FMAs, every activation vector RW FMAs, and the RW·RX accumulators stay
 * in registers for the whole dot product of length k.
 *
 * Loop order (drive): activation rows are cut into panels that fit in L2 (PANEL_BYTES); for each
 * panel, the weight rows are visited RW at a time and each weight tile is used for all rows of the
 * panel while it is in L1/L2. Decode (m = 1) is a single panel, so weights stream from memory once.
 *
 * Prefetch: rows are short (a 2048-wide q8_0 row is 2 KB), too short for the hardware prefetcher to
 * ramp up on each new row. While the first activation tile of a panel runs over weight tile j, it
 * prefetches tile j + 1 (into L2) at the same offsets, so the next tile's rows arrive one tile
 * ahead.
 *
 * Three paths here: drive() serves decode-sized problems (m < GEMM_MIN_M, or m < TTT_QGEMM_MIN_M
 * for q8_0 × q8_0, and batched decodes in the row-invariant mode); gemm_drive() is the k-blocked
 * prefill GEMM for weights with f32 activations; gv_drive() the decode GEMV (m = 1) for q8_0 ×
 * q8_0, which sums whole blocks in int32 before scaling. Larger q8_0 × q8_0 problems go to the
 * VNNI GEMM of kernels_qgemm_avx512.c. Both GEMMs put 16 output columns in the lanes of each
 * accumulator and repack weight tiles on the fly (no load-time layout). Measured on a 2-core AMD
 * EPYC (Zen 4 class; Llama-3.2-1B projection shapes, bench_kernels, CPU time of 1 thread, f32 FMA
 * peak 117 GFLOP/s): bf16 weights with f32 activations 91-97% of the peak at m = 128 with 3 × 8
 * register tiles (84-89% with 2 × 12; details at gemm_drive).
 */
#include "kernels_avx512_fold.h"
#include "kernels_avx512_lanes.h"
#include "kernels_simd_common.h"
#include "simd_math.h"

enum {
  RW = 4,     /* weight rows per tile (capacity of the tile arrays) */
  RX = 6,     /* activation rows per tile (capacity) */
  VEC = 16,   /* f32 lanes */
  CHUNK = 32, /* columns per inner step: two vectors, one q8_0 block */
};

/* 16 weights of a float-valued row starting at column t, widened to f32. `mask` selects lanes in
 * the tail (masked lanes are not read and come back as 0). q8_0 values are not scaled here. */
INLINE __m512 load_w(weight_kind kind, const uint8_t *row, int64_t t, bool masked, __mmask16 mask) {
  switch (kind) {
  case W_F32: {
    const float *w = (const float *)(const void *)row + t;
    return masked ? _mm512_maskz_loadu_ps(mask, w) : _mm512_loadu_ps(w);
  }
  case W_BF16: {
    const uint16_t *w = (const uint16_t *)(const void *)row + t;
    __m256i h = masked ? _mm256_maskz_loadu_epi16(mask, w) : _mm256_loadu_si256((const void *)w);
    /* bf16 is the top half of an f32: widening is a shift. */
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  case W_F16: {
    const uint16_t *w = (const uint16_t *)(const void *)row + t;
    __m256i h = masked ? _mm256_maskz_loadu_epi16(mask, w) : _mm256_loadu_si256((const void *)w);
    return _mm512_cvtph_ps(h);
  }
  case W_Q8_0:
  case W_Q8_0_Q8:
    break;
  }
  const uint8_t *block = row + (t / TTT_Q8_0_BLOCK) * TTT_Q8_0_BLOCK_BYTES;
  __m128i q = _mm_loadu_si128((const void *)(block + 2 + t % TTT_Q8_0_BLOCK));
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
}

/* One CHUNK of columns starting at t for an rw × rx tile. In the tail (masked), m0/m1 select the
 * valid lanes of the two vectors. */
INLINE void float_chunk(weight_kind kind, const uint8_t *const *w, const float *const *x,
                        __m512 acc[RW][RX], int rw, int rx, int64_t t, bool masked, __mmask16 m0,
                        __mmask16 m1) {
  __m512 scale[RW];
  if (kind == W_Q8_0) {
#pragma GCC unroll 6
    for (int r = 0; r < rw; r++)
      scale[r] = _mm512_set1_ps(f16_scalar(w[r] + (t / TTT_Q8_0_BLOCK) * TTT_Q8_0_BLOCK_BYTES));
  }
#pragma GCC unroll 2
  for (int v = 0; v < 2; v++) {
    __mmask16 mask = v == 0 ? m0 : m1;
    int64_t col = t + v * VEC;
    __m512 xv[RX];
#pragma GCC unroll 6
    for (int c = 0; c < rx; c++)
      xv[c] = masked ? _mm512_maskz_loadu_ps(mask, x[c] + col) : _mm512_loadu_ps(x[c] + col);
#pragma GCC unroll 6
    for (int r = 0; r < rw; r++) {
      __m512 wv = load_w(kind, w[r], col, masked, mask);
      if (kind == W_Q8_0) wv = _mm512_mul_ps(wv, scale[r]);
      /* The empty asm makes wv opaque, so the compiler keeps one widened load in a register
       * instead of folding a load (and conversion) into each of the rx FMAs. */
      if (rx > 1) __asm__("" : "+v"(wv));
#pragma GCC unroll 6
      for (int c = 0; c < rx; c++) acc[r][c] = _mm512_fmadd_ps(xv[c], wv, acc[r][c]);
    }
  }
}

/* Writes y[i + c, j + r] = sum of acc[r][c] (+ bias[j + r]). */
INLINE void store_tile(const ttt_gemm_problem *p, __m512 acc[RW][RX], int64_t j, int rw, int64_t i,
                       int rx) {
#pragma GCC unroll 6
  for (int r = 0; r < rw; r++) {
    float bias = p->bias ? p->bias[j + r] : 0.0f;
#pragma GCC unroll 6
    for (int c = 0; c < rx; c++)
      p->y[(i + c) * p->ldy + j + r] = _mm512_reduce_add_ps(acc[r][c]) + bias;
  }
}

/* y for weight rows [j, j + rw) × activation rows [i, i + rx), f32 activations. */
INLINE void float_tile(const ttt_gemm_problem *p, weight_kind kind, int64_t j, int rw, int64_t i,
                       int rx, const uint8_t *next) {
  size_t row_bytes = weight_row_bytes(kind, p->k);
  const uint8_t *w[RW];
  const float *x[RX];
  __m512 acc[RW][RX];
#pragma GCC unroll 6
  for (int r = 0; r < rw; r++) {
    w[r] = (const uint8_t *)p->w + (size_t)(j + r) * row_bytes;
#pragma GCC unroll 6
    for (int c = 0; c < rx; c++) acc[r][c] = _mm512_setzero_ps();
  }
#pragma GCC unroll 6
  for (int c = 0; c < rx; c++) x[c] = p->x + (i + c) * p->k;
  int64_t full = p->k - p->k % CHUNK; /* q8_0 rows are whole blocks: never a tail */
  size_t chunk_bytes = weight_row_bytes(kind, CHUNK);
  for (int64_t t = 0; t < full; t += CHUNK) {
    /* The chunk's offset within a row (q8_0: t is a multiple of the block size). */
    prefetch_next(next, row_bytes, rw, weight_row_bytes(kind, t), chunk_bytes);
    float_chunk(kind, w, x, acc, rw, rx, t, false, 0, 0);
  }
  int64_t rest = p->k - full;
  if (rest > 0) {
    __mmask16 m0 = (__mmask16)(rest >= VEC ? 0xffffu : (1u << rest) - 1u);
    __mmask16 m1 = (__mmask16)(rest > VEC ? (1u << (rest - VEC)) - 1u : 0u);
    float_chunk(kind, w, x, acc, rw, rx, full, true, m0, m1);
  }
  store_tile(p, acc, j, rw, i, rx);
}

/* ---- q8_0 weights × q8_0 activations (VNNI) ----
 * vpdpbusd multiplies unsigned by signed bytes. Activations are made unsigned by adding 128
 * (x ^ 0x80; q8_0 values are in [-127, 127]), and the excess 128·Σw of each 4-byte group is
 * subtracted by starting the accumulation from -128·Σw, computed once per weight row and reused
 * for every activation row. Two blocks share one zmm: lanes 0-7 hold block b, lanes 8-15 block b+1.
 */

/* The 32 quants of one or two blocks starting at `block` (high half zero when single). */
INLINE __m512i load_quants(const uint8_t *block, bool single) {
  __m256i lo = _mm256_loadu_si256((const void *)(block + 2));
  if (single) return _mm512_zextsi256_si512(lo);
  __m256i hi = _mm256_loadu_si256((const void *)(block + TTT_Q8_0_BLOCK_BYTES + 2));
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Lane scales: the f16 scale of block b in lanes 0-7 and of block b+1 in lanes 8-15 (0 if single).
 * The scales sit at bytes 0 and 34, i.e. 16-bit words 0 and 17 of the 64 bytes at `block`. */
static const uint16_t scale_words[32] = {0, 0, 0, 0, 0, 0, 0, 0, 17, 17, 17, 17, 17, 17, 17, 17};

INLINE __m512 load_scales(const uint8_t *block, bool single) {
  /* Single: only the 17 words of one block may be read. */
  __m512i raw = single ? _mm512_maskz_loadu_epi16(0x1ffffu, block) : _mm512_loadu_si512(block);
  __m512i words = _mm512_permutexvar_epi16(_mm512_loadu_si512(scale_words), raw);
  return _mm512_cvtph_ps(_mm512_castsi512_si256(words));
}

INLINE void q8_step(const uint8_t *const *w, const uint8_t *const *x, __m512 acc[RW][RX], int rw,
                    int rx, size_t offset, bool single) {
  const __m512i bias128 = _mm512_set1_epi8((char)0x80);
  __m512i xu[RX];
  __m512 xs[RX];
#pragma GCC unroll 6
  for (int c = 0; c < rx; c++) {
    xu[c] = _mm512_xor_si512(load_quants(x[c] + offset, single), bias128);
    xs[c] = load_scales(x[c] + offset, single);
  }
#pragma GCC unroll 6
  for (int r = 0; r < rw; r++) {
    __m512i wq = load_quants(w[r] + offset, single);
    __m512 ws = load_scales(w[r] + offset, single);
    __m512i start = _mm512_sub_epi32(_mm512_setzero_si512(),
                                     _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias128, wq));
#pragma GCC unroll 6
    for (int c = 0; c < rx; c++) {
      __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, xu[c], wq));
      acc[r][c] = _mm512_fmadd_ps(dot, _mm512_mul_ps(ws, xs[c]), acc[r][c]);
    }
  }
}

INLINE void q8_tile(const ttt_gemm_problem *p, int64_t j, int rw, int64_t i, int rx,
                    const uint8_t *next) {
  int64_t blocks = p->k / TTT_Q8_0_BLOCK;
  size_t row_bytes = (size_t)blocks * TTT_Q8_0_BLOCK_BYTES;
  const uint8_t *w[RW], *x[RX];
  __m512 acc[RW][RX];
#pragma GCC unroll 6
  for (int r = 0; r < rw; r++) {
    w[r] = (const uint8_t *)p->w + (size_t)(j + r) * row_bytes;
#pragma GCC unroll 6
    for (int c = 0; c < rx; c++) acc[r][c] = _mm512_setzero_ps();
  }
#pragma GCC unroll 6
  for (int c = 0; c < rx; c++) x[c] = (const uint8_t *)p->xq + (size_t)(i + c) * row_bytes;
  int64_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    prefetch_next(next, row_bytes, rw, (size_t)b * TTT_Q8_0_BLOCK_BYTES, 2 * TTT_Q8_0_BLOCK_BYTES);
    q8_step(w, x, acc, rw, rx, (size_t)b * TTT_Q8_0_BLOCK_BYTES, false);
  }
  if (b < blocks) q8_step(w, x, acc, rw, rx, (size_t)b * TTT_Q8_0_BLOCK_BYTES, true);
  store_tile(p, acc, j, rw, i, rx);
}

/* ---- drivers ---- */

INLINE void tile(const ttt_gemm_problem *p, weight_kind kind, int64_t j, int rw, int64_t i, int rx,
                 const uint8_t *next) {
  if (kind == W_Q8_0_Q8)
    q8_tile(p, j, rw, i, rx, next);
  else
    float_tile(p, kind, j, rw, i, rx, next);
}

/* All activation rows [i0, i1) for weight rows [j, j + rw) in tiles of tile_x (4 or 6) rows, then
 * the rest in tiles of 4, 3, 2, 1; the first tile prefetches `next`. */
INLINE void panel(const ttt_gemm_problem *p, weight_kind kind, int64_t j, int rw, int64_t i0,
                  int64_t i1, int tile_x, const uint8_t *next) {
  int64_t i = i0;
  for (; i + tile_x <= i1; i += tile_x) tile(p, kind, j, rw, i, tile_x, i == i0 ? next : NULL);
  if (i + 4 <= i1) {
    tile(p, kind, j, rw, i, 4, i == i0 ? next : NULL);
    i += 4;
  }
  switch (i1 - i) {
  case 3:
    tile(p, kind, j, rw, i, 3, i == i0 ? next : NULL);
    break;
  case 2:
    tile(p, kind, j, rw, i, 2, i == i0 ? next : NULL);
    break;
  case 1:
    tile(p, kind, j, rw, i, 1, i == i0 ? next : NULL);
    break;
  default:
    break;
  }
}

/* Weight rows in tiles of tile_w, each against every activation row of a panel. */
INLINE void drive_tiles(const ttt_gemm_problem *p, int64_t n0, int64_t n1, weight_kind kind,
                        int tile_w, int tile_x) {
  size_t row_bytes = weight_row_bytes(kind, p->k);
  int64_t x_row_bytes = kind == W_Q8_0_Q8 ? (int64_t)row_bytes : p->k * 4;
  int64_t rows = panel_rows(x_row_bytes, tile_x);
  const uint8_t *w = p->w;
  for (int64_t i0 = 0; i0 < p->m; i0 += rows) {
    int64_t i1 = i0 + rows < p->m ? i0 + rows : p->m;
    int64_t j = n0;
    for (; j + tile_w <= n1; j += tile_w) {
      /* Prefetch only inside this call's columns [n0, n1) (a full next tile of tile_w rows). */
      const uint8_t *next = j + 2 * tile_w <= n1 ? w + (size_t)(j + tile_w) * row_bytes : NULL;
      panel(p, kind, j, tile_w, i0, i1, tile_x, next);
    }
    for (; j < n1; j++)
      panel(p, kind, j, 1, i0, i1, tile_x, j + 2 <= n1 ? w + (size_t)(j + 1) * row_bytes : NULL);
  }
}

/* Float-valued weights against 6 or more activation rows (batched decodes, which in the
 * row-invariant mode run here at every batch size) take 4 × 6 tiles: each widened weight vector
 * feeds 6 FMAs instead of 4. A tile's shape does not change any output's summation order, so rows
 * stay invariant. Measured (1B shape, accuracy, 1 thread, B = 8, `ttt bench -p 16 -n 48 --batch
 * 8`, user CPU seconds of three runs, machine shared): 4 × 4 32.6-33.8, 4 × 6 30.8-32.4, 4 × 5
 * 34.6, 3 × 8 36.0-37.9, 2 × 8 41.0-42.5 (fewer weight rows per tile reload the activations more
 * often). */
INLINE void drive(const ttt_gemm_problem *p, int64_t n0, int64_t n1, weight_kind kind) {
  if (kind != W_Q8_0_Q8 && p->m >= 6)
    drive_tiles(p, n0, n1, kind, 4, 6);
  else if (is_16bit_decode(p, kind))
    drive_tiles(p, n0, n1, kind, DECODE_ROWS_16BIT, 1);
  else
    drive_tiles(p, n0, n1, kind, RW, 4);
}

/* ---- prefill GEMM for f32/f16/bf16/q8_0 weights with f32 activations (m >= GEMM_MIN_M) ----
 * Output columns sit in vector lanes, as in the VNNI GEMM below: a tile of FV·16 weight rows is
 * widened to f32 and transposed, one k slice of FK columns at a time, into a buffer [FK][FV·16] (so
 * bf16/f16/q8_0 conversion is paid once per weight, not once per activation row). Every activation
 * row then contributes broadcast scalars read straight from x: one FMA per column adds a product to
 * 16 outputs. A register tile is FV vectors × FX activation rows (24 accumulators, no horizontal
 * reductions); a slice's sums are added into y (the first slice writes sum + bias), FV contiguous
 * 16-float stores per activation row. 3 × 8 rather than 2 × 12: a column step loads 3 weight
 * vectors and 8 broadcasts for its 24 FMAs instead of 2 and 12. Measured (bench_kernels, 1
 * thread's CPU time, Llama-3.2-1B shapes, AMD EPYC Zen 4): at m = 128 91-97% of the f32 FMA peak
 * for bf16 weights and 88-95% for f32 (84-89% and 80-86% with 2 × 12); at m = 16-100 +3-16%.
 * The pack loops (and transpose16_ps) are fully unrolled so that the 16 rows stay in registers:
 * gcc -O2 left them as loops over arrays on the stack, every shuffle stage a round trip through
 * memory (about 195 cycles per 16 × 16 transpose with its loads and stores, L1-resident, against
 * 63 unrolled). Packing is not overlapped with the FMAs, so this is time off every block: measured
 * (bench_kernels, 1 thread's CPU time, m = 128, best of interleaved runs) +2-4% for bf16 weights,
 * +3-10% for f32 and q8_0; at m = 16 and 32, where packing weighs more, up to +20%.
 */
enum { FV = 3, FX = 8, FK = 1024, GEMM_MIN_M = 8 };

/* bf16 version of pack_group: 32 columns at a time, transposed as 16 dwords (column pairs) per
 * row, then split into the even and odd column (bf16 → f32 is a 16-bit shift or a mask): half the
 * shuffles of transposing widened values, and no widening before the transpose. */
INLINE void pack_group_bf16(const ttt_gemm_problem *p, int64_t j, int rows, int64_t t0, int64_t len,
                            float *buf) {
  size_t row_bytes = weight_row_bytes(W_BF16, p->k);
  const uint8_t *base = (const uint8_t *)p->w + (size_t)j * row_bytes + (size_t)t0 * 2;
  const __m512i high = _mm512_set1_epi32((int)0xffff0000u);
  for (int64_t t = 0; t < len; t += 2 * VEC) {
    int64_t rest = len - t;
    __mmask32 mask = rest < 2 * VEC ? (__mmask32)((1u << rest) - 1u) : (__mmask32)0xffffffffu;
    __m512 r[VEC];
#pragma GCC unroll 16
    for (int q = 0; q < VEC; q++)
      r[q] = q < rows ? _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(
                            mask, base + (size_t)q * row_bytes + (size_t)t * 2))
                      : _mm512_setzero_ps();
    transpose16_ps(r); /* r[d]: columns t + 2d, t + 2d + 1 of the 16 rows */
    int64_t pairs = rest < 2 * VEC ? (rest + 1) / 2 : VEC;
#pragma GCC unroll 16
    for (int d = 0; d < VEC; d++) {
      if (d >= pairs) break;
      __m512i v = _mm512_castps_si512(r[d]);
      _mm512_store_ps(buf + (t + 2 * d) * FV * VEC, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
      if (2 * d + 1 < rest)
        _mm512_store_ps(buf + (t + 2 * d + 1) * FV * VEC,
                        _mm512_castsi512_ps(_mm512_and_si512(v, high)));
    }
  }
}

/* Widens columns [t0, t0 + len) of weight rows [j, j + rows) (rows <= 16; missing rows are zero)
 * into buf[t][v·16 + r] (row stride FV·16), q8_0 values scaled. */
INLINE void pack_group(const ttt_gemm_problem *p, weight_kind kind, int64_t j, int rows, int64_t t0,
                       int64_t len, float *buf) {
  if (kind == W_BF16) {
    pack_group_bf16(p, j, rows, t0, len, buf);
    return;
  }
  size_t row_bytes = weight_row_bytes(kind, p->k);
  const uint8_t *base = (const uint8_t *)p->w + (size_t)j * row_bytes;
  for (int64_t t = 0; t < len; t += VEC) {
    int64_t rest = len - t;
    bool masked = rest < VEC;
    __mmask16 mask = (__mmask16)(masked ? (1u << rest) - 1u : 0xffffu);
    __m512 r[VEC];
#pragma GCC unroll 16
    for (int q = 0; q < VEC; q++) {
      if (q >= rows) {
        r[q] = _mm512_setzero_ps();
        continue;
      }
      const uint8_t *row = base + (size_t)q * row_bytes;
      r[q] = load_w(kind, row, t0 + t, masked, mask);
      if (kind == W_Q8_0) {
        const uint8_t *block = row + ((t0 + t) / TTT_Q8_0_BLOCK) * TTT_Q8_0_BLOCK_BYTES;
        r[q] = _mm512_mul_ps(r[q], _mm512_set1_ps(f16_scalar(block)));
      }
    }
    transpose16_ps(r);
    int64_t n = masked ? rest : VEC;
#pragma GCC unroll 16
    for (int q = 0; q < VEC; q++)
      if (q < n) _mm512_store_ps(buf + (t + q) * FV * VEC, r[q]);
  }
}

/* Activation rows [i, i + rx) against packed groups [0, fv) (output columns [j, j + 16·fv), the
 * last group limited to `last` columns) for k slice [t0, t0 + len). */
INLINE void fgemm_tile(const ttt_gemm_problem *p, const float *buf, int64_t j, int fv, int last,
                       int64_t i, int rx, int64_t t0, int64_t len) {
  __m512 acc[FV][FX];
  const float *x[FX];
#pragma GCC unroll 12
  for (int c = 0; c < rx; c++) {
    x[c] = p->x + (i + c) * p->k + t0;
#pragma GCC unroll 3
    for (int v = 0; v < fv; v++) acc[v][c] = _mm512_setzero_ps();
  }
  for (int64_t t = 0; t < len; t++) {
    __m512 wv[FV];
#pragma GCC unroll 3
    for (int v = 0; v < fv; v++) wv[v] = _mm512_load_ps(buf + t * FV * VEC + v * VEC);
#pragma GCC unroll 12
    for (int c = 0; c < rx; c++) {
      __m512 xb = _mm512_set1_ps(x[c][t]);
#pragma GCC unroll 3
      for (int v = 0; v < fv; v++) acc[v][c] = _mm512_fmadd_ps(wv[v], xb, acc[v][c]);
    }
  }
#pragma GCC unroll 3
  for (int v = 0; v < fv; v++)
    store_column_lanes(p, acc[v], j + v * VEC, v == fv - 1 ? last : VEC, i, rx, t0 == 0);
}

/* Activation rows [i0, i1) against one packed tile of fv groups. */
INLINE void fgemm_rows(const ttt_gemm_problem *p, const float *buf, int64_t j, int fv, int last,
                       int64_t i0, int64_t i1, int64_t t0, int64_t len) {
  int64_t i = i0;
  for (; i + FX <= i1; i += FX) fgemm_tile(p, buf, j, fv, last, i, FX, t0, len);
  for (; i + 4 <= i1; i += 4) fgemm_tile(p, buf, j, fv, last, i, 4, t0, len);
  switch (i1 - i) {
  case 3:
    fgemm_tile(p, buf, j, fv, last, i, 3, t0, len);
    break;
  case 2:
    fgemm_tile(p, buf, j, fv, last, i, 2, t0, len);
    break;
  case 1:
    fgemm_tile(p, buf, j, fv, last, i, 1, t0, len);
    break;
  default:
    break;
  }
}

/* Cache blocking around the tiles: activation rows in panels of FM, output columns in blocks of FN,
 * and within a block each k slice runs over all of the block's tiles, so the panel's slice of x
 * (FM × FK floats, ≤ 512 KB) and the block of y (FM × FN floats, ≤ 256 KB) stay in L2 while x is
 * read from memory once per column block rather than once per 48-column tile. The packed slice
 * (FK × 48 floats, 192 KB, the problem's workspace) lives in L2 too: 960 KB in all, within a 1 MB
 * L2. Measured (1 thread, m = 128, bf16): FK = 1024 beats 256 by 5-20% (fewer passes over y, fewer
 * tile set-ups); FN = 480 or 576 instead of 512 made no difference. */
enum { FM = 128, FN = 512 };

_Static_assert(FK *FV *VEC * sizeof(float) <= TTT_GEMM_WORKSPACE_BYTES, "workspace too small");

INLINE void gemm_drive(const ttt_gemm_problem *p, int64_t n0, int64_t n1, weight_kind kind) {
  float *buf = p->workspace; /* [FK][FV·16] */
  for (int64_t i0 = 0; i0 < p->m; i0 += FM) {
    int64_t i1 = i0 + FM < p->m ? i0 + FM : p->m;
    for (int64_t c0 = n0; c0 < n1; c0 += FN) {
      int64_t c1 = c0 + FN < n1 ? c0 + FN : n1;
      for (int64_t t0 = 0; t0 < p->k; t0 += FK) {
        int64_t len = p->k - t0 < FK ? p->k - t0 : FK;
        for (int64_t j = c0; j < c1; j += FV * VEC) {
          int64_t cols = c1 - j < FV * VEC ? c1 - j : FV * VEC;
          int fv = (int)((cols + VEC - 1) / VEC);
          int last = (int)(cols - (fv - 1) * VEC);
          for (int v = 0; v < fv; v++)
            pack_group(p, kind, j + v * VEC, v == fv - 1 ? last : VEC, t0, len, buf + v * VEC);
          /* fv a compile-time constant in each call, so the tiles keep their registers */
          if (fv == FV)
            fgemm_rows(p, buf, j, FV, last, i0, i1, t0, len);
          else if (fv == 2)
            fgemm_rows(p, buf, j, 2, last, i0, i1, t0, len);
          else
            fgemm_rows(p, buf, j, 1, last, i0, i1, t0, len);
        }
      }
    }
  }
}

/* ---- decode GEMV for q8_0 weights × q8_0 activations (m = 1) ----
 * Groups of 16 blocks, summed in int32 and scaled once per group (kernels_avx512_fold.h). Each
 * step of two blocks is one vpdpbusd with the weights made unsigned (w ^ 0x80 = w + 128) against
 * the signed activation quants, so Σ(w + 128)·x = Σw·x + 128·Σx and the excess is removed with the
 * activations' block sums. GV_ROWS weight rows are in flight, so each activation vector is loaded
 * once per GV_ROWS rows. Measured (1 thread, weights resident in L2, k = 2048 and 8192): 34 GB/s
 * against 28 GB/s for drive()'s per-step conversion and scaling; streaming from memory both are at
 * the bandwidth available (within run-to-run noise of ~10% here). 8 rows in flight spill registers.
 * Streaming (bench_kernels, 1 thread, ffn shapes): 26-28.5 GB/s with the weight scales gathered,
 * 32-33 with group_scales' permutes. */
/* Σ(w + 128)·x over the two blocks at `w` and `x` (one when single), 8 lanes per block. */
INLINE __m512i gv_step(const uint8_t *w, __m512i x, bool single) {
  __m512i wu = _mm512_xor_si512(load_quants(w, single), _mm512_set1_epi8((char)0x80));
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), wu, x);
}

/* Adds blocks [b0, b0 + nb) (nb <= 16) of the rw rows at w[] into acc[] (f32 lanes). */
INLINE void gv_group(const ttt_gemm_problem *p, const uint8_t *const *w, __m512 acc[GV_ROWS],
                     int rw, int64_t b0, int nb) {
  const uint8_t *x = (const uint8_t *)p->xq + b0 * TTT_Q8_0_BLOCK_BYTES;
  __m512i half[GV_ROWS][GV_STEPS / 2]; /* after fold8: 4 lanes per block */
#pragma GCC unroll 4
  for (int s2 = 0; s2 < GV_STEPS / 2; s2++) {
    __m512i d[GV_ROWS][2];
#pragma GCC unroll 2
    for (int u = 0; u < 2; u++) {
      int s = 2 * s2 + u; /* blocks 2s and 2s + 1 of the group */
      if (2 * s >= nb) {
#pragma GCC unroll 4
        for (int r = 0; r < rw; r++) d[r][u] = _mm512_setzero_si512();
        continue;
      }
      size_t offset = (size_t)s * 2 * TTT_Q8_0_BLOCK_BYTES;
      bool single = 2 * s + 1 == nb; /* the high half is zero, so it adds 0 */
      __m512i xv = load_quants(x + offset, single);
#pragma GCC unroll 4
      for (int r = 0; r < rw; r++)
        d[r][u] = gv_step(w[r] + b0 * TTT_Q8_0_BLOCK_BYTES + offset, xv, single);
    }
#pragma GCC unroll 4
    for (int r = 0; r < rw; r++) half[r][s2] = fold8(d[r][0], d[r][1]);
  }
  const uint8_t *w_group[GV_ROWS];
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) w_group[r] = w[r] + b0 * TTT_Q8_0_BLOCK_BYTES;
  gv_finish(p, w_group, half, acc, rw, b0, nb, 7 /* 128·Σx */, TTT_Q8_0_BLOCK_BYTES);
}

/* y[j + r] for weight rows [j, j + rw); prefetches the rows at `next` (NULL: none) one group
 * ahead of use, at the same offsets. */
INLINE void gv_tile(const ttt_gemm_problem *p, int64_t j, int rw, const uint8_t *next) {
  int64_t blocks = p->k / TTT_Q8_0_BLOCK;
  size_t row_bytes = (size_t)blocks * TTT_Q8_0_BLOCK_BYTES;
  const uint8_t *w[GV_ROWS];
  __m512 acc[GV_ROWS];
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++) {
    w[r] = (const uint8_t *)p->w + (size_t)(j + r) * row_bytes;
    acc[r] = _mm512_setzero_ps();
  }
  int64_t b0 = 0;
  for (; b0 + GV_BLOCKS <= blocks; b0 += GV_BLOCKS) {
    prefetch_next(next, row_bytes, rw, (size_t)b0 * TTT_Q8_0_BLOCK_BYTES,
                  GV_BLOCKS * TTT_Q8_0_BLOCK_BYTES);
    gv_group(p, w, acc, rw, b0, GV_BLOCKS);
  }
  if (b0 < blocks) {
    prefetch_next(next, row_bytes, rw, (size_t)b0 * TTT_Q8_0_BLOCK_BYTES,
                  (size_t)(blocks - b0) * TTT_Q8_0_BLOCK_BYTES);
    gv_group(p, w, acc, rw, b0, (int)(blocks - b0));
  }
#pragma GCC unroll 4
  for (int r = 0; r < rw; r++)
    p->y[j + r] = _mm512_reduce_add_ps(acc[r]) + (p->bias ? p->bias[j + r] : 0.0f);
}

static void gv_drive(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  size_t row_bytes = (size_t)(p->k / TTT_Q8_0_BLOCK) * TTT_Q8_0_BLOCK_BYTES;
  const uint8_t *w = p->w;
  int64_t j = n0;
  for (; j + GV_ROWS <= n1; j += GV_ROWS) {
    const uint8_t *next = j + 2 * GV_ROWS <= n1 ? w + (size_t)(j + GV_ROWS) * row_bytes : NULL;
    gv_tile(p, j, GV_ROWS, next);
  }
  for (; j < n1; j++) gv_tile(p, j, 1, j + 2 <= n1 ? w + (size_t)(j + 1) * row_bytes : NULL);
}

/* ---- activation quantization for q8_0 × q8_0 ----
 * The same arithmetic as ttt_quantize_q8_0, so the bytes are identical: scale = amax / 127 in
 * f32, stored as f16 rounded to nearest even; quants = x · (1 / scale) rounded to nearest even
 * (the default MXCSR mode, as nearbyintf) and clamped to [-127, 127] (NaN products convert to
 * INT_MIN and clamp to -127, as fmaxf(-127, NaN) does). */
static void quantize_block(const float *x, uint8_t *block, float *scale, int32_t *sum) {
  __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + VEC);
  float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
  float d = amax / 127.0f;
  uint16_t h = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  memcpy(block, &h, 2);
  __m512 inverse = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, inverse));
  __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, inverse));
  q0 = _mm512_min_epi32(_mm512_max_epi32(q0, lo), hi);
  q1 = _mm512_min_epi32(_mm512_max_epi32(q1, lo), hi);
  _mm_storeu_si128((void *)(block + 2), _mm512_cvtepi32_epi8(q0));
  _mm_storeu_si128((void *)(block + 2 + VEC), _mm512_cvtepi32_epi8(q1));
  *scale = _cvtsh_ss(h);
  *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
}

void ttt_quantize_rows_avx512(const float *x, int64_t k, int64_t i0, int64_t i1, uint8_t *xq,
                              float *scale, int32_t *sum) {
  int64_t blocks = k / TTT_Q8_0_BLOCK;
  for (int64_t i = i0; i < i1; i++) {
    for (int64_t b = 0; b < blocks; b++) {
      int64_t index = i * blocks + b;
      quantize_block(x + i * k + b * TTT_Q8_0_BLOCK, xq + (size_t)index * TTT_Q8_0_BLOCK_BYTES,
                     &scale[index], &sum[index]);
    }
  }
}

/* Decode-sized problems stream weights once (drive); prefill reuses widened blocks (gemm_drive). */
INLINE void dispatch(const ttt_gemm_problem *p, int64_t n0, int64_t n1, weight_kind kind) {
  if (p->m >= GEMM_MIN_M && !p->row_invariant)
    gemm_drive(p, n0, n1, kind);
  else
    drive(p, n0, n1, kind);
}

void ttt_gemm_f32_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  dispatch(p, n0, n1, W_F32);
}

void ttt_gemm_bf16_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  dispatch(p, n0, n1, W_BF16);
}

void ttt_gemm_f16_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  dispatch(p, n0, n1, W_F16);
}

void ttt_gemm_q8_0_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  dispatch(p, n0, n1, W_Q8_0);
}

void ttt_gemm_q8_0_q8_avx512(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  if (p->m == 1)
    gv_drive(p, n0, n1);
  else if (p->m >= TTT_QGEMM_MIN_M)
    ttt_qgemm_avx512(p, TTT_QGEMM_Q8_0, n0, n1);
  else
    drive(p, n0, n1, W_Q8_0_Q8);
}
