/*
 * AVX2 GEMM/GEMV kernels. This file is compiled with -mavx2 -mfma -mf16c; its functions run only
 * when the device has those ISA bits (linear.c's gemm_table).
 *
 * Same structure as kernels_avx512.c: decode-sized problems (drive) take RW weight rows × RX
 * activation rows per register tile, with activation panels sized for L2 and each weight tile
 * reused for every row of a panel; with 16 ymm registers the tile is 4 × 2 (8 accumulators, 2
 * activation vectors, 1 weight vector). Prefill with f32 activations runs gemm_drive (below).
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

INLINE void drive_tiles(const ttt_gemm_problem *p, int64_t n0, int64_t n1, weight_kind kind,
                        int tile_w) {
  size_t row_bytes = weight_row_bytes(kind, p->k);
  int64_t x_row_bytes = kind == W_Q8_0_Q8 ? (int64_t)row_bytes : p->k * 4;
  int64_t rows = panel_rows(x_row_bytes, RX);
  const uint8_t *w = p->w;
  for (int64_t i0 = 0; i0 < p->m; i0 += rows) {
    int64_t i1 = i0 + rows < p->m ? i0 + rows : p->m;
    int64_t j = n0;
    for (; j + tile_w <= n1; j += tile_w) {
      const uint8_t *next = j + 2 * tile_w <= n1 ? w + (size_t)(j + tile_w) * row_bytes : NULL;
      panel(p, kind, j, tile_w, i0, i1, next);
    }
    for (; j < n1; j++)
      panel(p, kind, j, 1, i0, i1, j + 2 <= n1 ? w + (size_t)(j + 1) * row_bytes : NULL);
  }
}

/* The decode GEMV of 16-bit weights takes tiles of DECODE_ROWS_16BIT rows (measured at its
 * definition). */
INLINE void drive(const ttt_gemm_problem *p, int64_t n0, int64_t n1, weight_kind kind) {
  if (is_16bit_decode(p, kind))
    drive_tiles(p, n0, n1, kind, DECODE_ROWS_16BIT);
  else
    drive_tiles(p, n0, n1, kind, RW);
}

/* ---- prefill GEMM for f32/f16/bf16/q8_0 weights with f32 activations (m >= GEMM_MIN_M) ----
 * The structure of kernels_avx512.c's gemm_drive at 8 lanes: a tile of GV·8 weight rows is widened
 * to f32 and transposed, one k slice of GK columns at a time, into the workspace [GK][GV·8], so
 * conversion is paid once per weight rather than once per activation row; each activation row then
 * contributes broadcast scalars read straight from x, one FMA per column adding a product to 8
 * outputs. A register tile is GV vectors × GX activation rows: 12 accumulators, 2 weight vectors
 * and a broadcast, 15 of the 16 ymm registers. A slice's sums are added into y (the first slice
 * writes sum + bias). Cache blocking as there, with a smaller budget (GM × GK and GM × GN floats:
 * 256 + 128 KB, the packed slice 32 KB) for the 256-512 KB L2 of many AVX2 machines. Measured
 * (bench_kernels --isa avx2, 1 thread's CPU time, m = 128, Llama-3.2-1B shapes, AMD EPYC Zen 4,
 * AVX2 FMA peak 117 GFLOP/s): bf16 weights 85-88% of the peak (attn, ffn up, ffn down; 92-93% for
 * attn kv), f32 83-92%, q8_0 88-92%, against 63-66% for drive()'s 4 × 2 tiles. Before the pair
 * pack for bf16, whole-vector stores, the next slice's prefetch and the 4 + 4 row tail (below):
 * bf16 80-89%, f32 79-88%, q8_0 83-88%. GK = 1024 measured the same, GK = 256 and 384 lost 3-8%.
 * The rest is mostly packing (7% of the time), which runs between the FMA tiles, not under them. */
enum { GV = 2, GX = 6, GK = 512, GM = 128, GN = 256, GEMM_MIN_M = 8 };

_Static_assert(GK *GV *VEC * sizeof(float) <= TTT_GEMM_WORKSPACE_BYTES, "workspace too small");

/* r[q] (row q) becomes column q of the 8 × 8 block. */
INLINE void transpose8_ps(__m256 r[VEC]) {
  __m256 t[VEC], u[VEC];
#pragma GCC unroll 4
  for (int q = 0; q < VEC; q += 2) {
    t[q] = _mm256_unpacklo_ps(r[q], r[q + 1]);     /* columns 0, 1 | 4, 5 of rows q, q + 1 */
    t[q + 1] = _mm256_unpackhi_ps(r[q], r[q + 1]); /* columns 2, 3 | 6, 7 */
  }
#pragma GCC unroll 2
  for (int h = 0; h < 2; h++) { /* rows 0-3, then 4-7 */
    __m256 a = t[4 * h], b = t[4 * h + 1], c = t[4 * h + 2], d = t[4 * h + 3];
    u[4 * h] = _mm256_shuffle_ps(a, c, _MM_SHUFFLE(1, 0, 1, 0)); /* column 0 | 4 */
    u[4 * h + 1] = _mm256_shuffle_ps(a, c, _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * h + 2] = _mm256_shuffle_ps(b, d, _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 3] = _mm256_shuffle_ps(b, d, _MM_SHUFFLE(3, 2, 3, 2)); /* column 3 | 7 */
  }
#pragma GCC unroll 4
  for (int q = 0; q < 4; q++) {
    r[q] = _mm256_permute2f128_ps(u[q], u[q + 4], 0x20);
    r[q + 4] = _mm256_permute2f128_ps(u[q], u[q + 4], 0x31);
  }
}

/* The whole 16-column steps of pack_group for bf16 weights: each row's 16 values are transposed as
 * 8 dwords (column pairs), then split into the even and odd column (bf16 → f32 is a 16-bit shift
 * or a mask), half the shuffles of transposing widened values. Returns the columns packed. */
INLINE int64_t pack_pairs_bf16(const ttt_gemm_problem *p, int64_t j, int rows, int64_t t0,
                               int64_t len, float *buf) {
  size_t row_bytes = weight_row_bytes(W_BF16, p->k);
  const uint8_t *base = (const uint8_t *)p->w + (size_t)j * row_bytes + (size_t)t0 * 2;
  const __m256i high = _mm256_set1_epi32((int)0xffff0000u);
  int64_t t = 0;
  for (; t + 2 * VEC <= len; t += 2 * VEC) {
    __m256 r[VEC];
#pragma GCC unroll 8
    for (int q = 0; q < VEC; q++)
      r[q] = q < rows ? _mm256_castsi256_ps(_mm256_loadu_si256(
                            (const void *)(base + (size_t)q * row_bytes + (size_t)t * 2)))
                      : _mm256_setzero_ps();
    transpose8_ps(r); /* r[d]: columns t + 2d, t + 2d + 1 of the 8 rows */
#pragma GCC unroll 8
    for (int d = 0; d < VEC; d++) {
      __m256i v = _mm256_castps_si256(r[d]);
      _mm256_store_ps(buf + (t + 2 * d) * GV * VEC, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
      _mm256_store_ps(buf + (t + 2 * d + 1) * GV * VEC,
                      _mm256_castsi256_ps(_mm256_and_si256(v, high)));
    }
  }
  return t;
}

/* Widens columns [t0, t0 + len) of weight rows [j, j + rows) (rows <= 8; missing rows are zero)
 * into buf[t][r] (row stride GV·8), q8_0 values scaled. */
INLINE void pack_group(const ttt_gemm_problem *p, weight_kind kind, int64_t j, int rows, int64_t t0,
                       int64_t len, float *buf) {
  size_t row_bytes = weight_row_bytes(kind, p->k);
  const uint8_t *base = (const uint8_t *)p->w + (size_t)j * row_bytes;
  int64_t t = kind == W_BF16 ? pack_pairs_bf16(p, j, rows, t0, len, buf) : 0;
  for (; t + VEC <= len; t += VEC) {
    __m256 r[VEC];
#pragma GCC unroll 8
    for (int q = 0; q < VEC; q++) {
      if (q >= rows) {
        r[q] = _mm256_setzero_ps();
        continue;
      }
      const uint8_t *row = base + (size_t)q * row_bytes;
      r[q] = load_w(kind, row, t0 + t);
      if (kind == W_Q8_0) {
        const uint8_t *block = row + ((t0 + t) / TTT_Q8_0_BLOCK) * TTT_Q8_0_BLOCK_BYTES;
        r[q] = _mm256_mul_ps(r[q], _mm256_set1_ps(f16_scalar(block)));
      }
    }
    transpose8_ps(r);
#pragma GCC unroll 8
    for (int q = 0; q < VEC; q++) _mm256_store_ps(buf + (t + q) * GV * VEC, r[q]);
  }
  for (; t < len; t++) /* k % 8 columns (never q8_0: its rows are whole blocks) */
    for (int q = 0; q < VEC; q++)
      buf[t * GV * VEC + q] = q < rows ? load_w1(kind, base + (size_t)q * row_bytes, t0 + t) : 0.0f;
}

/* acc[c] holds 8 output columns from `col` of activation row i + c, c < rx, over one k slice; the
 * first `cols` lanes are stored: the first slice writes y = sum + bias, later slices add to y.
 * Whole vectors take plain loads and stores: vmaskmovps costs more (measured +1-4% of the GEMM's
 * rate without it on Zen 4). */
INLINE void store_columns(const ttt_gemm_problem *p, const __m256 *acc, int64_t col, int cols,
                          int64_t i, int rx, bool first_slice) {
  if (cols == VEC) {
    __m256 bias = first_slice && p->bias ? _mm256_loadu_ps(p->bias + col) : _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int c = 0; c < rx; c++) {
      float *y = p->y + (i + c) * p->ldy + col;
      _mm256_storeu_ps(y, _mm256_add_ps(acc[c], first_slice ? bias : _mm256_loadu_ps(y)));
    }
    return;
  }
  __m256i mask =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256 bias =
      first_slice && p->bias ? _mm256_maskload_ps(p->bias + col, mask) : _mm256_setzero_ps();
#pragma GCC unroll 6
  for (int c = 0; c < rx; c++) {
    float *y = p->y + (i + c) * p->ldy + col;
    __m256 base = first_slice ? bias : _mm256_maskload_ps(y, mask);
    _mm256_maskstore_ps(y, mask, _mm256_add_ps(acc[c], base));
  }
}

/* Activation rows [i, i + rx) against packed groups [0, gv) (output columns [j, j + 8·gv), the
 * last group limited to `last` columns) for k slice [t0, t0 + len). */
INLINE void fgemm_tile(const ttt_gemm_problem *p, const float *buf, int64_t j, int gv, int last,
                       int64_t i, int rx, int64_t t0, int64_t len) {
  __m256 acc[GV][GX];
  const float *x[GX];
#pragma GCC unroll 6
  for (int c = 0; c < rx; c++) {
    x[c] = p->x + (i + c) * p->k + t0;
#pragma GCC unroll 2
    for (int v = 0; v < gv; v++) acc[v][c] = _mm256_setzero_ps();
  }
  for (int64_t t = 0; t < len; t++) {
    __m256 wv[GV];
#pragma GCC unroll 2
    for (int v = 0; v < gv; v++) wv[v] = _mm256_load_ps(buf + t * GV * VEC + v * VEC);
#pragma GCC unroll 6
    for (int c = 0; c < rx; c++) {
      __m256 xb = _mm256_broadcast_ss(x[c] + t);
#pragma GCC unroll 2
      for (int v = 0; v < gv; v++) acc[v][c] = _mm256_fmadd_ps(wv[v], xb, acc[v][c]);
    }
  }
#pragma GCC unroll 2
  for (int v = 0; v < gv; v++)
    store_columns(p, acc[v], j + v * VEC, v == gv - 1 ? last : VEC, i, rx, t0 == 0);
}

/* The slice of weights the next pack will read: bytes [offset, offset + bytes) of `rows` rows from
 * `w` (NULL: none). */
typedef struct next_slice {
  const uint8_t *w;
  int rows;
  size_t row_bytes, offset, bytes;
} next_slice;

/* The slice packed after tile (c0, t0, j) in gemm_drive's order within a row panel: the next tile
 * of the k slice, else the first tile of the next k slice, else that of the next column block. */
INLINE next_slice slice_after(const ttt_gemm_problem *p, weight_kind kind, int64_t n1, int64_t c0,
                              int64_t t0, int64_t j) {
  int64_t c1 = c0 + GN < n1 ? c0 + GN : n1;
  if (j + GV * VEC < c1) {
    j += GV * VEC;
  } else if (t0 + GK < p->k) {
    t0 += GK;
    j = c0;
  } else if (c1 < n1) {
    t0 = 0;
    j = c1;
    c1 = c1 + GN < n1 ? c1 + GN : n1;
  } else {
    return (next_slice){.w = NULL};
  }
  size_t row_bytes = weight_row_bytes(kind, p->k);
  int64_t len = p->k - t0 < GK ? p->k - t0 : GK;
  return (next_slice){.w = (const uint8_t *)p->w + (size_t)j * row_bytes,
                      .rows = c1 - j < GV * VEC ? (int)(c1 - j) : GV * VEC,
                      .row_bytes = row_bytes,
                      .offset = weight_row_bytes(kind, t0),
                      .bytes = weight_row_bytes(kind, len)};
}

/* Bytes [begin, begin + share) of each row of the next slice into L2, so that its pack reads L2
 * rather than memory. */
INLINE void prefetch_share(const next_slice *next, size_t begin, size_t share) {
  if (!next->w || begin >= next->bytes) return;
  size_t bytes = next->bytes - begin < share ? next->bytes - begin : share;
  prefetch_next(next->w, next->row_bytes, next->rows, next->offset + begin, bytes);
}

/* One tile of rx activation rows (1 <= rx <= GX), rx a compile-time constant in each call. */
INLINE void fgemm_tile_rx(const ttt_gemm_problem *p, const float *buf, int64_t j, int gv, int last,
                          int64_t i, int rx, int64_t t0, int64_t len) {
  switch (rx) {
  case 6:
    fgemm_tile(p, buf, j, gv, last, i, 6, t0, len);
    break;
  case 5:
    fgemm_tile(p, buf, j, gv, last, i, 5, t0, len);
    break;
  case 4:
    fgemm_tile(p, buf, j, gv, last, i, 4, t0, len);
    break;
  case 3:
    fgemm_tile(p, buf, j, gv, last, i, 3, t0, len);
    break;
  case 2:
    fgemm_tile(p, buf, j, gv, last, i, 2, t0, len);
    break;
  default:
    fgemm_tile(p, buf, j, gv, last, i, 1, t0, len);
    break;
  }
}

/* One tile of rx activation rows × gv groups (GV or 1), every shape a compile-time instance. Where
 * it goes is per compiler, measured (bench_kernels --isa avx2, m = 128): gcc 12 inlined it into the
 * drive loops and ran short of registers there, reloading the activation row pointers from the
 * stack at every column step (5-9% of the GEMM's rate), so it stays out of line; clang 14 out of
 * line kept the two weight vectors on the stack instead (71-75% of the peak against 77-81%
 * inlined). */
#if defined(__clang__)
#define TILE_LINKAGE INLINE
#else
#define TILE_LINKAGE static __attribute__((noinline))
#endif
TILE_LINKAGE void fgemm_tile_any(const ttt_gemm_problem *p, const float *buf, int64_t j, int gv,
                                 int last, int64_t i, int rx, int64_t t0, int64_t len) {
  if (gv == GV)
    fgemm_tile_rx(p, buf, j, GV, last, i, rx, t0, len);
  else
    fgemm_tile_rx(p, buf, j, 1, last, i, rx, t0, len);
}

/* Activation rows [i0, i1) against one packed tile of gv groups: tiles of GX rows, the last 7 or 8
 * rows as 4 + 3 or 4 + 4 (a 1- or 2-row tile loads 2 weight vectors for 2 or 4 FMAs: the 2-row
 * tile of m = 128 = 21 · 6 + 2 took 2.8% of the time for 1.6% of the work). Each tile prefetches
 * an equal share of the next slice: packing is not overlapped with the FMAs, and the hardware
 * prefetcher does little for 8 row streams of 1 KB (measured +1-3% of the GEMM's rate at m =
 * 128). */
INLINE void fgemm_rows(const ttt_gemm_problem *p, const float *buf, int64_t j, int gv, int last,
                       int64_t i0, int64_t i1, int64_t t0, int64_t len, const next_slice *next) {
  int64_t full = (i1 - i0) / GX, rest = (i1 - i0) % GX;
  if (full > 0 && rest > 0 && rest < 3) {
    full--;
    rest += GX;
  }
  int64_t tiles = full + (rest > 5 ? 2 : rest > 0 ? 1 : 0);
  size_t share = (next->bytes / (size_t)tiles + 63) / 64 * 64, begin = 0;
  int64_t i = i0;
  for (int64_t q = 0; q < full; q++, i += GX, begin += share) {
    prefetch_share(next, begin, share);
    fgemm_tile_any(p, buf, j, gv, last, i, GX, t0, len);
  }
  while (rest > 0) {
    int rx = rest > 5 ? 4 : (int)rest;
    prefetch_share(next, begin, share);
    fgemm_tile_any(p, buf, j, gv, last, i, rx, t0, len);
    i += rx;
    rest -= rx;
    begin += share;
  }
}

INLINE void gemm_drive(const ttt_gemm_problem *p, int64_t n0, int64_t n1, weight_kind kind) {
  float *buf = p->workspace; /* [GK][GV·8] */
  for (int64_t i0 = 0; i0 < p->m; i0 += GM) {
    int64_t i1 = i0 + GM < p->m ? i0 + GM : p->m;
    for (int64_t c0 = n0; c0 < n1; c0 += GN) {
      int64_t c1 = c0 + GN < n1 ? c0 + GN : n1;
      for (int64_t t0 = 0; t0 < p->k; t0 += GK) {
        int64_t len = p->k - t0 < GK ? p->k - t0 : GK;
        for (int64_t j = c0; j < c1; j += GV * VEC) {
          int64_t cols = c1 - j < GV * VEC ? c1 - j : GV * VEC;
          int gv = (int)((cols + VEC - 1) / VEC);
          int last = (int)(cols - (gv - 1) * VEC);
          for (int v = 0; v < gv; v++)
            pack_group(p, kind, j + v * VEC, v == gv - 1 ? last : VEC, t0, len, buf + v * VEC);
          next_slice next = slice_after(p, kind, n1, c0, t0, j);
          fgemm_rows(p, buf, j, gv, last, i0, i1, t0, len, &next);
        }
      }
    }
  }
}

/* Decode-sized problems stream weights once (drive); prefill reuses widened slices (gemm_drive). */
INLINE void dispatch(const ttt_gemm_problem *p, int64_t n0, int64_t n1, weight_kind kind) {
  if (p->m >= GEMM_MIN_M && !p->row_invariant)
    gemm_drive(p, n0, n1, kind);
  else
    drive(p, n0, n1, kind);
}

void ttt_gemm_f32_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  dispatch(p, n0, n1, W_F32);
}

void ttt_gemm_bf16_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  dispatch(p, n0, n1, W_BF16);
}

void ttt_gemm_f16_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  dispatch(p, n0, n1, W_F16);
}

void ttt_gemm_q8_0_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  dispatch(p, n0, n1, W_Q8_0);
}

void ttt_gemm_q8_0_q8_avx2(const ttt_gemm_problem *p, int64_t n0, int64_t n1) {
  drive(p, n0, n1, W_Q8_0_Q8);
}
