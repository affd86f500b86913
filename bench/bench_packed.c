/*
 * bench_packed — PROTOTYPE (branch packed-weights): q8_0 / q4_0 weights stored once in a layout of
 * 16-row groups ready for vpdpbusd (no per-call repacking), one kernel for every m, against the
 * current kernels (row-major blocks: the m = 1 GEMVs and the repacking VNNI GEMM).
 *
 * Layout, per group of 16 weight rows (rows past n: zero scale), per block of 32 k values:
 *   q8_0: 8 steps × [16 rows][4 bytes] of w + 128 (unsigned), then 16 f16 scales: 544 bytes
 *         (= 16 × 34, the size of the row-major blocks).
 *   q4_0: 4 × [16 rows][4 bytes] of the block's code bytes 4s..4s+3 (low nibbles: values 4s..4s+3,
 *         high nibbles: values 16 + 4s..), then 16 f16 scales: 288 bytes (= 16 × 18).
 * Groups are stored one after another: a group's code bytes for all blocks in k order, then its
 * scales for all blocks (so that every 64-byte code vector is aligned).
 *
 *   bench_packed [--m M]   (1 thread; weights streamed from DRAM, CPU-time GOP/s)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <immintrin.h>

#include "runtime/kernels.h"
#include "runtime/runtime.h"

#define INLINE static inline __attribute__((always_inline))

enum { VEC = 16, STEPS = 8, Q8_GROUP_BLOCK = 544, Q4_GROUP_BLOCK = 288, SCALES = 32 };

typedef enum packed_format { P_Q8, P_Q4 } packed_format;

static size_t group_block_bytes(packed_format f) {
  return f == P_Q8 ? Q8_GROUP_BLOCK : Q4_GROUP_BLOCK;
}

static size_t packed_bytes(packed_format f, int64_t n, int64_t k) {
  return (size_t)((n + VEC - 1) / VEC) * (size_t)(k / 32) * group_block_bytes(f);
}

/* Row-major blocks → packed groups (plain loops: runs once at load). */
static void pack_weights(packed_format f, const uint8_t *rows, int64_t n, int64_t k, uint8_t *out) {
  int64_t blocks = k / 32;
  size_t in_block = f == P_Q8 ? TTT_Q8_0_BLOCK_BYTES : TTT_Q4_0_BLOCK_BYTES;
  size_t gb = group_block_bytes(f);
  size_t codes = gb - SCALES;
  for (int64_t g = 0; g < (n + VEC - 1) / VEC; g++) {
    for (int64_t b = 0; b < blocks; b++) {
      uint8_t *group = out + (size_t)g * (size_t)blocks * gb;
      uint8_t *dst = group + (size_t)b * codes;
      uint8_t *scales = group + (size_t)blocks * codes + (size_t)b * SCALES;
      memset(dst, f == P_Q8 ? 0x80 : 0x88, codes);
      memset(scales, 0, SCALES);
      for (int r = 0; r < VEC && g * VEC + r < n; r++) {
        const uint8_t *src = rows + ((size_t)(g * VEC + r) * (size_t)blocks + (size_t)b) * in_block;
        memcpy(scales + 2 * r, src, 2);
        int steps = f == P_Q8 ? STEPS : STEPS / 2;
        for (int s = 0; s < steps; s++)
          for (int q = 0; q < 4; q++) {
            uint8_t c = src[2 + 4 * s + q];
            dst[s * 64 + r * 4 + q] = f == P_Q8 ? (uint8_t)(c ^ 0x80) : c;
          }
      }
    }
  }
}

typedef struct packed_problem {
  const uint8_t *w; /* packed */
  const uint8_t *xq;
  const float *xs;
  const int32_t *xsum;
  int64_t m, k;
  float *y;
  int64_t ldy;
} packed_problem;

/* Output groups [g, g + qv) (each 16 columns) for activation rows [i, i + rx). */
INLINE void packed_tile(const packed_problem *p, packed_format f, int64_t g, int qv, int64_t i,
                        int rx) {
  int64_t blocks = p->k / 32;
  size_t gb = group_block_bytes(f);
  size_t xrow = (size_t)blocks * TTT_Q8_0_BLOCK_BYTES;
  const int32_t offset = f == P_Q8 ? -128 : -8;
  _Alignas(64) float acc[4][8][VEC];
  const uint8_t *wg[4];
#pragma GCC unroll 4
  for (int v = 0; v < qv; v++) {
    wg[v] = p->w + (size_t)(g + v) * (size_t)blocks * gb;
#pragma GCC unroll 8
    for (int c = 0; c < rx; c++) _mm512_store_ps(acc[v][c], _mm512_setzero_ps());
  }
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  for (int64_t b = 0; b < blocks; b++) {
    __m512i dot[4][8];
#pragma GCC unroll 8
    for (int c = 0; c < rx; c++) {
      __m512i start = _mm512_set1_epi32(offset * p->xsum[(i + c) * blocks + b]);
#pragma GCC unroll 4
      for (int v = 0; v < qv; v++) dot[v][c] = start;
    }
    const uint8_t *xb = p->xq + (size_t)b * TTT_Q8_0_BLOCK_BYTES + 2;
#pragma GCC unroll 8
    for (int s = 0; s < STEPS; s++) {
      __m512i wv[4];
#pragma GCC unroll 4
      for (int v = 0; v < qv; v++) {
        const uint8_t *wb = wg[v] + (size_t)b * (gb - SCALES);
        if (f == P_Q8) {
          wv[v] = _mm512_load_si512(wb + 64 * s);
        } else {
          __m512i packed = _mm512_load_si512(wb + 64 * (s & 3));
          wv[v] = s < 4 ? _mm512_and_si512(packed, low4)
                        : _mm512_and_si512(_mm512_srli_epi16(packed, 4), low4);
        }
      }
#pragma GCC unroll 8
      for (int c = 0; c < rx; c++) {
        int32_t xd;
        memcpy(&xd, xb + (size_t)(i + c) * xrow + 4 * s, 4);
        __m512i xv = _mm512_set1_epi32(xd);
#pragma GCC unroll 4
        for (int v = 0; v < qv; v++) dot[v][c] = _mm512_dpbusd_epi32(dot[v][c], wv[v], xv);
      }
    }
#pragma GCC unroll 4
    for (int v = 0; v < qv; v++) {
      __m512 ws = _mm512_cvtph_ps(_mm256_load_si256(
          (const void *)(wg[v] + (size_t)blocks * (gb - SCALES) + (size_t)b * SCALES)));
#pragma GCC unroll 8
      for (int c = 0; c < rx; c++)
        _mm512_store_ps(
            acc[v][c],
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[v][c]),
                            _mm512_mul_ps(ws, _mm512_set1_ps(p->xs[(i + c) * blocks + b])),
                            _mm512_load_ps(acc[v][c])));
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < qv; v++)
#pragma GCC unroll 8
    for (int c = 0; c < rx; c++)
      _mm512_storeu_ps(p->y + (i + c) * p->ldy + (g + v) * VEC, _mm512_load_ps(acc[v][c]));
}

/* All rows, output groups [g0, g1). y must have room for whole groups. */
static void packed_gemm(const packed_problem *p, packed_format f, int64_t g0, int64_t g1) {
  if (p->m == 1) {
    int64_t g = g0;
    for (; g + 4 <= g1; g += 4) packed_tile(p, f, g, 4, 0, 1);
    for (; g < g1; g++) packed_tile(p, f, g, 1, 0, 1);
    return;
  }
  for (int64_t g = g0; g < g1; g += 2) {
    int qv = g + 2 <= g1 ? 2 : 1;
    for (int64_t i = 0; i < p->m; i += 8) {
      int rx = p->m - i < 8 ? (int)(p->m - i) : 8;
#define TILE_CASE(R)                                                                               \
  case R:                                                                                          \
    if (qv == 2)                                                                                   \
      packed_tile(p, f, g, 2, i, R);                                                               \
    else                                                                                           \
      packed_tile(p, f, g, 1, i, R);                                                               \
    break;
      switch (rx) {
        TILE_CASE(1)
        TILE_CASE(2)
        TILE_CASE(3)
        TILE_CASE(4)
        TILE_CASE(5)
        TILE_CASE(6)
        TILE_CASE(7)
        TILE_CASE(8)
      default:
        break;
      }
    }
  }
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static float next_float(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static void run_shape(packed_format f, int64_t n, int64_t k, int64_t m) {
  int COPIES = getenv("COPIES") ? atoi(getenv("COPIES")) : 48;
  size_t in_block = f == P_Q8 ? TTT_Q8_0_BLOCK_BYTES : TTT_Q4_0_BLOCK_BYTES;
  size_t row_bytes = (size_t)(k / 32) * in_block;
  size_t rows_bytes = (size_t)n * row_bytes, pbytes = packed_bytes(f, n, k);
  float *wf = malloc(sizeof(float) * (size_t)k);
  uint8_t *rows[64], *packed[64];
  rows[0] = aligned_alloc(64, rows_bytes);
  for (int64_t r = 0; r < n; r++) {
    for (int64_t t = 0; t < k; t++) wf[t] = next_float() * 0.05f;
    if (f == P_Q8)
      ttt_quantize_q8_0(wf, k, rows[0] + (size_t)r * row_bytes);
    else
      ttt_quantize_q4_0(wf, k, rows[0] + (size_t)r * row_bytes);
  }
  for (int c = 0; c < COPIES; c++) {
    if (c > 0) {
      rows[c] = aligned_alloc(64, rows_bytes);
      memcpy(rows[c], rows[0], rows_bytes);
    }
    packed[c] = aligned_alloc(64, pbytes);
    pack_weights(f, rows[c], n, k, packed[c]);
  }
  float *x = malloc(sizeof(float) * (size_t)(m * k));
  for (int64_t t = 0; t < m * k; t++) x[t] = next_float();
  uint8_t *xq = malloc((size_t)m * (size_t)(k / 32) * TTT_Q8_0_BLOCK_BYTES);
  float *xs = malloc(sizeof(float) * (size_t)(m * k / 32));
  int32_t *xsum = malloc(sizeof(int32_t) * (size_t)(m * k / 32));
  ttt_quantize_rows_ref(x, k, 0, m, xq, xs, xsum);
  int64_t groups = (n + VEC - 1) / VEC;
  float *y0 = malloc(sizeof(float) * (size_t)(m * n));
  float *y1 = malloc(sizeof(float) * (size_t)(m * groups * VEC));
  float *y2 = malloc(sizeof(float) * (size_t)(m * n));
  void *workspace = aligned_alloc(64, TTT_GEMM_WORKSPACE_BYTES);
  ttt_gemm_problem gp = {.x = x,
                         .xq = xq,
                         .xq_scale = xs,
                         .xq_sum = xsum,
                         .m = m,
                         .k = k,
                         .w = rows[0],
                         .y = y0,
                         .ldy = n,
                         .workspace = workspace};
  ttt_gemm_fn ref = f == P_Q8 ? ttt_gemm_q8_0_q8_ref : ttt_gemm_q4_0_q8_ref;
  ttt_gemm_fn cur = f == P_Q8 ? ttt_gemm_q8_0_q8_avx512 : ttt_gemm_q4_0_q8_avx512;
  ref(&gp, 0, n);
  packed_problem pp = {.w = packed[0],
                       .xq = xq,
                       .xs = xs,
                       .xsum = xsum,
                       .m = m,
                       .k = k,
                       .y = y1,
                       .ldy = groups * VEC};
  packed_gemm(&pp, f, 0, groups);
  double worst = 0, norm = 0;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double d = fabs((double)y1[i * groups * VEC + j] - (double)y0[i * n + j]);
      worst = d > worst ? d : worst;
      norm = fabs((double)y0[i * n + j]) > norm ? fabs((double)y0[i * n + j]) : norm;
    }
  double best_cur = 1e30, best_new = 1e30;
  for (int round = 0; round < 3; round++) {
    double t0 = cpu_now();
    for (int c = 0; c < COPIES; c++) {
      gp.w = rows[c];
      gp.y = y2;
      cur(&gp, 0, n);
    }
    double t1 = cpu_now();
    for (int c = 0; c < COPIES; c++) {
      pp.w = packed[c];
      packed_gemm(&pp, f, 0, groups);
    }
    double t2 = cpu_now();
    best_cur = (t1 - t0) < best_cur ? t1 - t0 : best_cur;
    best_new = (t2 - t1) < best_new ? t2 - t1 : best_new;
  }
  double ops = 2.0 * (double)m * (double)n * (double)k * COPIES;
  double bytes = (double)rows_bytes * COPIES;
  printf("%s %6lldx%-6lld m=%-3lld max|diff| %.2e (of %.2e)  current %6.1f GOP/s %5.1f GB/s   "
         "packed %6.1f GOP/s %5.1f GB/s  (%.2fx)\n",
         f == P_Q8 ? "q8_0" : "q4_0", (long long)n, (long long)k, (long long)m, worst, norm,
         ops / best_cur * 1e-9, bytes / best_cur * 1e-9, ops / best_new * 1e-9,
         bytes / best_new * 1e-9, best_cur / best_new);
  for (int c = 0; c < COPIES; c++) {
    free(rows[c]);
    free(packed[c]);
  }
  free(wf), free(x), free(xq), free(xs), free(xsum), free(y0), free(y1), free(y2), free(workspace);
}

int main(int argc, char **argv) {
  int64_t ms[] = {1, 8};
  int n_ms = 2;
  if (argc == 3 && strcmp(argv[1], "--m") == 0) {
    ms[0] = strtoll(argv[2], NULL, 10);
    n_ms = 1;
  }
  for (int i = 0; i < n_ms; i++) {
    run_shape(P_Q8, 8192, 2048, ms[i]);
    run_shape(P_Q8, 2048, 8192, ms[i]);
    run_shape(P_Q4, 8192, 2048, ms[i]);
    run_shape(P_Q4, 2048, 8192, ms[i]);
  }
  return 0;
}
