/*
 * Matmul kernels (reference, AVX2, AVX-512; every weight dtype; f32, q8_0 and bf16 activations)
 * through ttt_linear / ttt_linear_multi with 1 and 2 threads, against a float64 reference written
 * here.
 *
 * Kernels are chosen by masking ttt_device.isa: 0 → portable reference, AVX2+FMA+F16C → AVX2
 * kernels, the full detected set without AVX512_BF16 → AVX-512 kernels (bf16 activations: the FMA
 * emulation of vdpbf16ps), the full set → AVX-512 kernels with vdpbf16ps for bf16 activations. A
 * variant the machine lacks is reported and skipped.
 *
 * Error bounds, per output element, with S = Σ_t |x_t|·|w_t| + |bias| (computed in float64 on the
 * exact values the kernel multiplies):
 *   - f32, f16, bf16 weights: the products x·w of the stored (already rounded) weights are what the
 *     reference sums exactly; the kernel's only error is f32 accumulation. Recursive or blocked
 *     summation of k terms errs by at most (k-1)·u·S (u = 2^-24) in the worst case and ~√k·u·S for
 *     random-sign data; 1e-5·S is ≥ 2.6·√4096·u·S, above the typical error for every k used here
 *     and far below any real bug (a dropped or doubled term errs by ~S/k ≥ 2.4e-4·S).
 *   - q8_0 weights, f32 activations: the reference uses the dequantized weights (f16 scale × int8,
 *     exact in float64); the kernel adds one rounding per product (scale·q in f32): same bound.
 *   - q8_0 weights and activations: the reference also uses the dequantized activations (the rows
 *     ttt_quantize_q8_0 produces, which ttt_linear feeds the kernel); the int8 block dots are
 * exact, then each block adds a few f32 roundings: same 1e-5·S bound.
 *   - q4_0 weights and q8_0 activations: the same, with the q4_0 weights decoded here from their
 *     documented byte layout (f16 scale, nibble codes minus 8).
 *   - bf16 weights and activations: the reference uses the activations rounded to bf16 here (to
 *     nearest even, by float64 arithmetic rather than the library's bit manipulation); products of
 *     two bf16 values are exact in f32, and vdpbf16ps adds at most one rounding per product (bf16
 *     subnormal inputs, which it reads as 0, do not occur in this data): same bound.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels.h"
#include "runtime/runtime.h"
#include "ttt_test.h"

#define ISA_AVX2_SET (TTT_ISA_AVX2 | TTT_ISA_FMA | TTT_ISA_F16C)

static const double tolerance = 1e-5;
static const float sentinel = 12345.0f;

#define ISA_AVX512_SET                                                                             \
  (ISA_AVX2_SET | TTT_ISA_AVX512F | TTT_ISA_AVX512BW | TTT_ISA_AVX512VL | TTT_ISA_AVX512VNNI)

typedef struct variant {
  const char *name;         /* suffix of the expected kernel name */
  const char *bf16_name;    /* the same with bf16 activations (no AVX2 kernel: the portable one) */
  const char *grouped_name; /* the same for grouped weights (no AVX2 kernel: the portable one) */
  uint32_t isa_keep;        /* device.isa bits kept */
  ttt_kernel kernel;
  uint32_t isa_needed; /* variant runs only when the machine has these bits */
} variant;

static const variant variants[] = {
    {"ref", "ref", "ref", 0, TTT_KERNEL_REFERENCE, 0},
    {"avx2", "ref", "ref", ISA_AVX2_SET, TTT_KERNEL_SIMD, ISA_AVX2_SET},
    {"avx512", "avx512", "avx512", ~(uint32_t)TTT_ISA_AVX512BF16, TTT_KERNEL_DEFAULT,
     ISA_AVX512_SET},
    {"avx512", "avx512bf16", "avx512", ~0u, TTT_KERNEL_DEFAULT,
     ISA_AVX512_SET | TTT_ISA_AVX512BF16},
};
enum { N_VARIANTS = sizeof variants / sizeof variants[0] };

typedef struct weight_case {
  ttt_dtype weight;
  ttt_dtype activation;
} weight_case;

static const weight_case weight_cases[] = {
    {TTT_F32, TTT_F32},   {TTT_F16, TTT_F32},       {TTT_BF16, TTT_F32},
    {TTT_Q8_0, TTT_F32},  {TTT_Q8_0, TTT_Q8_0},     {TTT_Q4_0, TTT_Q8_0},
    {TTT_BF16, TTT_BF16}, {TTT_Q8_0_G16, TTT_Q8_0}, {TTT_Q4_0_G16, TTT_Q8_0},
};

static bool is_grouped(ttt_dtype d) { return d == TTT_Q8_0_G16 || d == TTT_Q4_0_G16; }

/* Block dtypes, row-major or grouped: k must be a multiple of 32. */
static bool needs_blocks(ttt_dtype d) { return ttt_dtype_is_block(d) || is_grouped(d); }

typedef struct shape {
  int64_t m, k, n;
} shape;

/* m < 8 runs the decode (GEMV) kernels, m >= 8 the prefill GEMMs of the AVX-512 file (k-blocked
 * in slices of 1024 columns for f32 activations, 2048 for q8_0 × q8_0; register tiles of 48 weight
 * rows × 8 activation rows (then 4, 3, 2, 1) for f32 activations, and 32 × 6 for q8_0 and q4_0 ×
 * q8_0; the AVX2 GEMM: slices of 512 columns, tiles of 16 weight rows × 6, 5, 4, 3, 2, 1).
 * Every m in {1, 3, 7, 9, 11, 12, 14, 17, 130}, k in {7, 32, 33, 59, 64, 96, 123, 1029, 4096} and
 * n in {1, 7, 20, 33, 40, 57, 100, 300, 1000, 4096} appears; tails of all tile dims occur (n = 20,
 * 33, 57, 100: a 48-row tile of 16 + 4 rows, of 32 + 1, then 48 + 9 and 96 + 4; m = 9, 11, 12,
 * 14, 17: 8 + 1, 8 + 3, 8 + 4, 8 + 4 + 2, 8 + 8 + 1 rows, and 6 + 6 + 5 for q8_0 activations; k =
 * 59, 123 for both paths; k = 4096: several slices). The GEMMs with f32 activations also see odd
 * k: k = 59 (m = 12; a packed chunk of 27 columns) and k = 1029 (m = 9; a last slice of 5 columns,
 * so bf16 weights end in a lone column of a pair). k = 7, 33, 59, 123 are not multiples of
 * any vector width (k % 32 = 7, 1, 27, 27: tails shorter and longer than one 16-lane vector);
 * q8_0 skips them. m = 1 with q8_0 × q8_0 is a separate GEMV (groups of 16 blocks, 4 rows at a
 * time): k = 736 (23 blocks) has a 7-block group tail, k = 32 a single block, n = 7 a row tail.
 * The q4_0 GEMV arranges its activations in slices of 4096 blocks: k = 135232 (4226 blocks) runs
 * two slices, the second with a 2-block run. The grouped GEMV (m = 1) runs rows of one k slice in
 * tiles of 6 groups of 16 rows, prefetching the next tile: n = 1000 (63 groups, the last 8 rows
 * wide) ends on a 3-group tile, and on 2 threads the ranges end on tiles of 1-5 groups. m = 130
 * spans two row panels of the AVX2 GEMM (128 rows: 20 · 6 + 4 + 4, then 2); n = 300 with k =
 * 1029 two of its column blocks over three k slices. */
static const shape shapes[] = {
    {1, 7, 1},     {3, 33, 7},   {7, 32, 33},   {17, 64, 100},   {1, 4096, 33},  {3, 96, 4096},
    {17, 4096, 7}, {7, 33, 100}, {17, 96, 33},  {1, 4096, 4096}, {3, 59, 33},    {1, 123, 100},
    {9, 4096, 57}, {1, 736, 7},  {1, 32, 5},    {1, 135232, 5},  {9, 1029, 20},  {12, 59, 33},
    {14, 96, 20},  {11, 64, 57}, {1, 96, 1000}, {130, 96, 40},   {9, 1029, 300},
};

/* ---- independent decoding of stored values (no library conversion code) ---- */

static double decode_f16(uint16_t h) {
  int sign = h >> 15, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  double v = exponent == 0 ? ldexp(mantissa, -24) : ldexp(1024 + mantissa, exponent - 25);
  return sign ? -v : v; /* finite values only: the tests never store inf/NaN weights */
}

static double decode_bf16(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* Value t of a row stored in `dtype` (row = start of the row's bytes). */
static double stored_value(ttt_dtype dtype, const uint8_t *row, int64_t t) {
  uint16_t h;
  switch (dtype) {
  case TTT_F32: {
    float f;
    memcpy(&f, row + 4 * t, 4);
    return f;
  }
  case TTT_F16:
    memcpy(&h, row + 2 * t, 2);
    return decode_f16(h);
  case TTT_BF16:
    memcpy(&h, row + 2 * t, 2);
    return decode_bf16(h);
  case TTT_Q4_0: {
    /* 18-byte blocks: f16 scale, then byte i holds code i (low nibble) and code i + 16 (high). */
    const uint8_t *block = row + (t / 32) * 18;
    memcpy(&h, block, 2);
    int i = (int)(t % 32);
    int code = i < 16 ? block[2 + i] & 15 : block[2 + i - 16] >> 4;
    return decode_f16(h) * (double)(code - 8);
  }
  default: {
    const uint8_t *block = row + (t / 32) * 34;
    memcpy(&h, block, 2);
    return decode_f16(h) * (double)(int8_t)block[2 + t % 32];
  }
  }
}

/* Value t of row j of a grouped tensor [n, k], decoded from the layout described in ttt/core.h:
 * groups of 16 rows padded to 64 bytes; in a group, every block's codes ([step][16 rows][4 bytes])
 * and then every block's 16 f16 scales. */
static double grouped_value(const ttt_tensor *w, int64_t j, int64_t t) {
  bool q8 = w->dtype == TTT_Q8_0_G16;
  size_t blocks = (size_t)(w->shape[1] / 32), code_bytes = q8 ? 512 : 256;
  size_t group_bytes = (blocks * (code_bytes + 32) + 63) / 64 * 64;
  const uint8_t *group = (const uint8_t *)w->data + (size_t)(j / 16) * group_bytes;
  size_t lane = (size_t)(j % 16), b = (size_t)(t / 32), q = (size_t)(t % 32);
  uint16_t h;
  memcpy(&h, group + blocks * code_bytes + b * 32 + 2 * lane, 2);
  if (q8) {
    uint8_t u = group[b * 512 + (q / 4) * 64 + lane * 4 + q % 4];
    return decode_f16(h) * (double)((int)u - 128);
  }
  size_t i = q % 16;
  uint8_t pair = group[b * 256 + (i / 4) * 64 + lane * 4 + i % 4];
  int code = q < 16 ? pair & 15 : pair >> 4;
  return decode_f16(h) * (double)(code - 8);
}

static size_t row_bytes(ttt_dtype dtype, int64_t k) {
  if (dtype == TTT_Q4_0) return (size_t)(k / 32) * 18;
  return dtype == TTT_Q8_0 ? (size_t)(k / 32) * 34 : (size_t)k * (dtype == TTT_F32 ? 4 : 2);
}

/* x rounded to bf16 (8 significant bits) to nearest even; finite normal values only. */
static double round_bf16(float x) {
  if (x == 0.0f) return 0.0;
  int exponent;
  frexp(x, &exponent); /* x = f · 2^exponent, 0.5 <= |f| < 1 */
  double ulp = ldexp(1.0, exponent - 8);
  return nearbyint(x / ulp) * ulp; /* default rounding mode: ties to even */
}

/* ---- problem setup and reference ---- */

typedef struct problem {
  shape s;
  weight_case wc;
  ttt_tensor w;
  float *x, *bias;
  double *ref, *bound; /* [m, n] */
  int64_t ldy;
} problem;

static void problem_free(problem *p) {
  ttt_tensor_free(&p->w);
  free(p->x);
  free(p->bias);
  free(p->ref);
  free(p->bound);
}

/* Activation values as the kernel sees them: f32, bf16-rounded, or the dequantized q8_0 rows. */
static double *effective_activations(const problem *p) {
  int64_t m = p->s.m, k = p->s.k;
  double *xe = malloc(sizeof *xe * (size_t)(m * k));
  if (p->wc.activation != TTT_Q8_0) {
    bool bf16 = p->wc.activation == TTT_BF16;
    for (int64_t i = 0; i < m * k; i++) xe[i] = bf16 ? round_bf16(p->x[i]) : p->x[i];
    return xe;
  }
  uint8_t *q = malloc(row_bytes(TTT_Q8_0, k));
  for (int64_t i = 0; i < m; i++) {
    CHECK_OK(ttt_quantize_q8_0(p->x + i * k, k, q));
    for (int64_t t = 0; t < k; t++) xe[i * k + t] = stored_value(TTT_Q8_0, q, t);
  }
  free(q);
  return xe;
}

static void reference(problem *p) {
  int64_t m = p->s.m, k = p->s.k, n = p->s.n;
  double *xe = effective_activations(p);
  size_t rb = is_grouped(p->wc.weight) ? 0 : row_bytes(p->wc.weight, k);
  for (int64_t j = 0; j < n; j++) {
    const uint8_t *row = (const uint8_t *)p->w.data + (size_t)j * rb;
    for (int64_t i = 0; i < m; i++) {
      double sum = 0.0, abs_sum = 0.0;
      for (int64_t t = 0; t < k; t++) {
        double w = is_grouped(p->wc.weight) ? grouped_value(&p->w, j, t)
                                            : stored_value(p->wc.weight, row, t);
        double product = xe[i * k + t] * w;
        sum += product;
        abs_sum += fabs(product);
      }
      double b = p->bias ? p->bias[j] : 0.0;
      p->ref[i * n + j] = sum + b;
      p->bound[i * n + j] = tolerance * (abs_sum + fabs(b)) + 1e-30;
    }
  }
  free(xe);
}

static void problem_make(problem *p, shape s, weight_case wc, bool with_bias, uint64_t seed) {
  memset(p, 0, sizeof *p);
  p->s = s;
  p->wc = wc;
  p->ldy = s.n + 3; /* padding columns must stay untouched */
  ttt_test_rng rng = ttt_test_rng_make(seed);
  float *w32 = malloc(sizeof *w32 * (size_t)(s.n * s.k));
  ttt_test_fill_uniform(&rng, w32, s.n * s.k, -1.0f, 1.0f);
  ttt_tensor master = ttt_tensor_2d(TTT_F32, w32, s.n, s.k);
  CHECK_OK(ttt_tensor_convert(&master, wc.weight, &p->w));
  free(w32);
  p->x = malloc(sizeof *p->x * (size_t)(s.m * s.k));
  ttt_test_fill_uniform(&rng, p->x, s.m * s.k, -1.0f, 1.0f);
  if (with_bias) {
    p->bias = malloc(sizeof *p->bias * (size_t)s.n);
    ttt_test_fill_uniform(&rng, p->bias, s.n, -1.0f, 1.0f);
  }
  p->ref = malloc(sizeof *p->ref * (size_t)(s.m * s.n));
  p->bound = malloc(sizeof *p->bound * (size_t)(s.m * s.n));
  reference(p);
}

/* Compares y [m, ldy] with the reference; also checks the padding columns. Returns failures. */
static int64_t check_output(const problem *p, const float *y, const char *what) {
  int64_t bad = 0;
  for (int64_t i = 0; i < p->s.m; i++) {
    for (int64_t j = 0; j < p->ldy; j++) {
      float v = y[i * p->ldy + j];
      bool ok =
          j < p->s.n ? fabs(v - p->ref[i * p->s.n + j]) <= p->bound[i * p->s.n + j] : v == sentinel;
      if (!ok && bad++ < 3)
        CHECK_MSG(false, "%s: y[%lld, %lld] = %.9g, expected %.9g (bound %.3g)", what, (long long)i,
                  (long long)j, v, j < p->s.n ? p->ref[i * p->s.n + j] : sentinel,
                  j < p->s.n ? p->bound[i * p->s.n + j] : 0.0);
    }
  }
  ttt_test_global.checks++;
  return bad;
}

static float *output_buffer(const problem *p) {
  size_t count = (size_t)(p->s.m * p->ldy);
  float *y = malloc(sizeof *y * count);
  for (size_t i = 0; i < count; i++) y[i] = sentinel;
  return y;
}

static ttt_context *variant_context(const variant *v, int32_t threads, bool *available) {
  ttt_device device;
  if (ttt_device_cpu(&device, threads) != TTT_OK) return NULL;
  *available = (device.isa & v->isa_needed) == v->isa_needed;
  device.isa &= v->isa_keep;
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_context_create(&device, &ctx));
  return ctx;
}

/* The masked device selects the kernel this variant is meant to test. */
static void check_kernel_name(ttt_context *ctx, const variant *v, weight_case wc) {
  ttt_gemm_kernel kernel;
  CHECK_OK(ttt_gemm_select(ttt_context_device(ctx), v->kernel, wc.weight, wc.activation, &kernel));
  const char *suffix = strrchr(kernel.name, '_');
  const char *expected = wc.activation == TTT_BF16 ? v->bf16_name
                         : is_grouped(wc.weight)   ? v->grouped_name
                                                   : v->name;
  CHECK_MSG(suffix && strcmp(suffix + 1, expected) == 0, "variant %s selected kernel %s", expected,
            kernel.name);
  CHECK((kernel.prepare != NULL) == (wc.activation != TTT_F32));
}

static void run_problem(ttt_context *ctx, const variant *v, const problem *p, int32_t threads) {
  ttt_linear_config config = {
      .kernel = v->kernel, .activation_dtype = p->wc.activation, .threads = threads};
  float *y = output_buffer(p);
  ttt_linear_op op = {.w = &p->w, .bias = p->bias, .y = y, .ldy = p->ldy, .name = "test.w"};
  CHECK_OK(ttt_linear(ctx, &config, p->x, p->s.m, p->s.k, &op));
  char what[160];
  snprintf(what, sizeof what, "%s %s×%s m=%lld k=%lld n=%lld threads=%d", v->name,
           ttt_dtype_name(p->wc.weight), ttt_dtype_name(p->wc.activation), (long long)p->s.m,
           (long long)p->s.k, (long long)p->s.n, (int)threads);
  check_output(p, y, what);
  free(y);
}

static void test_all_kernels_all_shapes(void) {
  ttt_context *contexts[N_VARIANTS];
  bool available[N_VARIANTS];
  for (int v = 0; v < N_VARIANTS; v++) {
    contexts[v] = variant_context(&variants[v], 2, &available[v]);
    if (!available[v]) printf("  (machine lacks %s: variant skipped)\n", variants[v].name);
  }
  uint64_t seed = 1;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    for (size_t c = 0; c < sizeof weight_cases / sizeof weight_cases[0]; c++) {
      if (needs_blocks(weight_cases[c].weight) && shapes[s].k % 32 != 0) continue;
      problem p;
      problem_make(&p, shapes[s], weight_cases[c], (s + c) % 2 == 0, seed++);
      for (int v = 0; v < N_VARIANTS; v++) {
        if (!contexts[v] || !available[v]) continue;
        check_kernel_name(contexts[v], &variants[v], weight_cases[c]);
        for (int32_t threads = 1; threads <= 2; threads++)
          run_problem(contexts[v], &variants[v], &p, threads);
      }
      problem_free(&p);
    }
  }
  for (int v = 0; v < N_VARIANTS; v++) ttt_context_destroy(contexts[v]);
}

/* The kernel variant v selects for (weight, activation) on `device` with its ISA bits masked;
 * false when the machine lacks the variant's ISA. */
static bool variant_kernel(const ttt_device *device, int v, ttt_dtype weight, ttt_dtype activation,
                           ttt_gemm_kernel *kernel) {
  if ((device->isa & variants[v].isa_needed) != variants[v].isa_needed) return false;
  ttt_device masked = *device;
  masked.isa &= variants[v].isa_keep;
  CHECK_OK(ttt_gemm_select(&masked, variants[v].kernel, weight, activation, kernel));
  return true;
}

/* Calling a kernel directly on a column sub-range writes exactly those columns. */
static void write_only_their_columns(const ttt_device *device, shape s) {
  for (int v = 0; v < N_VARIANTS; v++) {
    for (size_t c = 0; c < sizeof weight_cases / sizeof weight_cases[0]; c++) {
      ttt_gemm_kernel kernel;
      if (!variant_kernel(device, v, weight_cases[c].weight, weight_cases[c].activation, &kernel))
        break;
      problem p;
      problem_make(&p, s, weight_cases[c], true, 100 + c);
      size_t blocks = (size_t)(s.m * (s.k / 32));
      uint8_t *xq = malloc((size_t)(s.m * (s.k + 1)) * 2); /* q8_0 blocks or bf16 rows */
      float *xq_scale = malloc(sizeof *xq_scale * blocks);
      int32_t *xq_sum = malloc(sizeof *xq_sum * blocks);
      bool q8 = p.wc.activation == TTT_Q8_0;
      if (kernel.prepare)
        kernel.prepare(p.x, s.k, 0, s.m, xq, q8 ? xq_scale : NULL, q8 ? xq_sum : NULL);
      float *y = output_buffer(&p);
      ttt_gemm_problem gp = {.x = p.x,
                             .xq = kernel.prepare ? xq : NULL,
                             .xq_scale = q8 ? xq_scale : NULL,
                             .xq_sum = q8 ? xq_sum : NULL,
                             .m = s.m,
                             .k = s.k,
                             .w = p.w.data,
                             .bias = p.bias,
                             .y = y,
                             .ldy = p.ldy,
                             .workspace = aligned_alloc(64, TTT_GEMM_WORKSPACE_BYTES)};
      int64_t n0 = 3, n1 = 22; /* not multiples of any tile size */
      kernel.fn(&gp, n0, n1);
      free(gp.workspace);
      int64_t bad = 0;
      for (int64_t i = 0; i < s.m; i++) {
        for (int64_t j = 0; j < p.ldy; j++) {
          float got = y[i * p.ldy + j];
          bool inside = j >= n0 && j < n1;
          bad += inside ? fabs(got - p.ref[i * s.n + j]) > p.bound[i * s.n + j] : got != sentinel;
        }
      }
      CHECK_MSG(bad == 0, "%s: %lld wrong values for columns [3, 22)", kernel.name, (long long)bad);
      free(y);
      free(xq);
      free(xq_scale);
      free(xq_sum);
      problem_free(&p);
    }
  }
}

static void test_kernels_write_only_their_columns(void) {
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  /* the m = 1 GEMV, the GEMV and the GEMM paths (bf16 activations: GEMM from 64 rows) */
  static const int64_t rows[] = {1, 5, 9, 70};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    write_only_their_columns(&device, (shape){rows[i], 96, 23});
}

/* Every kernel's activation quantizer writes the bytes of ttt_quantize_q8_0, and side arrays that
 * match those bytes: the decoded f16 scale and the sum of the 32 quants. Blocks cover all-zero
 * input (scale 0), f16-subnormal and f16-underflowing scales, large magnitudes and random data. */
static void test_quantize_rows(void) {
  enum { M = 3, K = 256, BLOCKS = K / 32 };
  static const float block_magnitude[BLOCKS] = {1.0f, 0.0f, 1e-3f, 1e-7f, 3e4f, 0.5f, 7.0f, 1e-5f};
  float x[M * K];
  ttt_test_rng rng = ttt_test_rng_make(77);
  ttt_test_fill_uniform(&rng, x, M * K, -1.0f, 1.0f);
  for (int64_t t = 0; t < M * K; t++) x[t] *= block_magnitude[(t % K) / 32];
  x[5] = 1.0f; /* a block whose maximum is exact */
  uint8_t expected[M * BLOCKS * 34], got[M * BLOCKS * 34];
  for (int64_t i = 0; i < M; i++)
    CHECK_OK(ttt_quantize_q8_0(x + i * K, K, expected + i * BLOCKS * 34));
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  for (int v = 0; v < N_VARIANTS; v++) {
    ttt_gemm_kernel kernel;
    if (!variant_kernel(&device, v, TTT_Q8_0, TTT_Q8_0, &kernel)) continue;
    float scale[M * BLOCKS];
    int32_t sum[M * BLOCKS];
    memset(got, 0xee, sizeof got);
    kernel.prepare(x, K, 0, 1, got, scale, sum); /* two ranges, as on two threads */
    kernel.prepare(x, K, 1, M, got, scale, sum);
    CHECK_MSG(memcmp(got, expected, sizeof got) == 0, "%s: quantized bytes differ", kernel.name);
    int64_t bad = 0;
    for (int64_t b = 0; b < M * BLOCKS; b++) {
      const uint8_t *block = expected + b * 34;
      int32_t s = 0;
      for (int t = 0; t < 32; t++) s += (int8_t)block[2 + t];
      uint16_t h;
      memcpy(&h, block, 2);
      bad += sum[b] != s || (double)scale[b] != decode_f16(h);
    }
    CHECK_MSG(bad == 0, "%s: %lld blocks with a wrong scale or sum", kernel.name, (long long)bad);
  }
}

/* bf16 × bf16 on the sizes of the option's use: m = 1, 3, 8, 13 (the dot path: register tiles of 4
 * rows, then 3, 2, 1) and 65, 67, 78, 128 (the AVX-512 GEMM from m = 64: tiles of 12 rows, then 4,
 * then 1, 3, 2 and 0 rows); odd k (the zero pad of the last pair), k above one 2048-value slice
 * with an odd last slice (4099 = 2 · 2048 + 3); n not a multiple of the 32-column tiles. With 2
 * threads the columns split at multiples of 32. */
static void test_bf16_activation_shapes(void) {
  static const shape bf16_shapes[] = {
      {1, 2049, 45},  {3, 4099, 70},  {8, 33, 45},     {13, 2049, 70}, {13, 64, 33}, {65, 33, 45},
      {67, 2049, 70}, {78, 4099, 33}, {128, 4099, 40}, {128, 96, 100}, {9, 1, 17},
  };
  const weight_case wc = {TTT_BF16, TTT_BF16};
  for (int v = 0; v < N_VARIANTS; v++) {
    bool available = false;
    ttt_context *ctx = variant_context(&variants[v], 2, &available);
    if (!ctx || !available) {
      ttt_context_destroy(ctx);
      continue;
    }
    check_kernel_name(ctx, &variants[v], wc);
    for (size_t s = 0; s < sizeof bf16_shapes / sizeof bf16_shapes[0]; s++) {
      problem p;
      problem_make(&p, bf16_shapes[s], wc, s % 2 == 0, 400 + s);
      for (int32_t threads = 1; threads <= 2; threads++)
        run_problem(ctx, &variants[v], &p, threads);
      problem_free(&p);
    }
    ttt_context_destroy(ctx);
  }
}

/* In the row-invariant mode a row's bf16 × bf16 result is bit-identical alone (m = 1) and among
 * 70 rows (which the AVX-512 GEMM would otherwise serve). */
static void test_bf16_activation_row_invariant(void) {
  enum { M = 70, K = 301, N = 37 };
  const weight_case wc = {TTT_BF16, TTT_BF16};
  for (int v = 0; v < N_VARIANTS; v++) {
    bool available = false;
    ttt_context *ctx = variant_context(&variants[v], 1, &available);
    if (!ctx || !available) {
      ttt_context_destroy(ctx);
      continue;
    }
    ttt_context_set_row_invariant(ctx, true);
    problem p;
    problem_make(&p, (shape){M, K, N}, wc, true, 500);
    ttt_linear_config config = {.kernel = variants[v].kernel, .activation_dtype = TTT_BF16};
    float *all = output_buffer(&p), alone[N];
    ttt_linear_op op = {.w = &p.w, .bias = p.bias, .y = all, .ldy = p.ldy};
    CHECK_OK(ttt_linear(ctx, &config, p.x, M, K, &op));
    check_output(&p, all, "row invariant, all rows");
    int64_t differ = 0;
    for (int64_t i = 0; i < M; i++) {
      ttt_linear_op one = {.w = &p.w, .bias = p.bias, .y = alone, .ldy = N};
      CHECK_OK(ttt_linear(ctx, &config, p.x + i * K, 1, K, &one));
      differ += memcmp(alone, all + i * p.ldy, sizeof alone) != 0;
    }
    CHECK_MSG(differ == 0, "%s: %lld rows differ alone and among %d", variants[v].bf16_name,
              (long long)differ, (int)M);
    free(all);
    problem_free(&p);
    ttt_context_destroy(ctx);
  }
}

/* Every bf16 activation conversion writes ttt_f32_to_bf16's bits (ties to even both ways, NaN,
 * infinities, subnormals, the largest finite values) and a zero pad after an odd k. */
static void test_bf16_activation_conversion(void) {
  enum { M = 2, K = 37, STRIDE = K + 1 };
  const uint32_t special[] = {0x3f808000u, 0x3f818000u, 0x7fc00001u, 0xff800001u,
                              0x7f800000u, 0xff800000u, 0x00000001u, 0x807fffffu,
                              0x7f7fffffu, 0x00008000u, 0x80000000u, 0x3f80ffffu};
  float x[M * K];
  ttt_test_rng rng = ttt_test_rng_make(9);
  ttt_test_fill_uniform(&rng, x, M * K, -3.0f, 3.0f);
  for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
    memcpy(&x[3 * i], &special[i], sizeof special[i]);
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  for (int v = 0; v < N_VARIANTS; v++) {
    ttt_gemm_kernel kernel;
    if (!variant_kernel(&device, v, TTT_BF16, TTT_BF16, &kernel)) continue;
    uint16_t got[M * STRIDE];
    memset(got, 0xee, sizeof got);
    kernel.prepare(x, K, 0, 1, (uint8_t *)got, NULL, NULL); /* two ranges, as on two threads */
    kernel.prepare(x, K, 1, M, (uint8_t *)got, NULL, NULL);
    int64_t bad = 0;
    for (int64_t i = 0; i < M; i++) {
      for (int64_t t = 0; t < K; t++) bad += got[i * STRIDE + t] != ttt_f32_to_bf16(x[i * K + t]);
      bad += got[i * STRIDE + K] != 0;
    }
    CHECK_MSG(bad == 0, "%s: %lld bf16 values differ from ttt_f32_to_bf16", kernel.name,
              (long long)bad);
  }
}

/* One parallel region over three projections of different dtypes and widths. */
static void test_linear_multi_fused(void) {
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 2));
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_context_create(&device, &ctx));
  if (!ctx) return;
  shape shapes3[3] = {{7, 64, 7}, {7, 64, 33}, {7, 64, 100}};
  weight_case cases3[3] = {{TTT_F32, TTT_F32}, {TTT_BF16, TTT_F32}, {TTT_Q8_0, TTT_F32}};
  problem p[3];
  float *y[3];
  ttt_linear_op ops[3];
  for (int o = 0; o < 3; o++) {
    problem_make(&p[o], shapes3[o], cases3[o], o != 1, 200 + (uint64_t)o);
    if (o > 0) memcpy(p[o].x, p[0].x, sizeof(float) * 7 * 64); /* one shared input */
  }
  for (int o = 0; o < 3; o++) {
    reference(&p[o]);
    y[o] = output_buffer(&p[o]);
    ops[o] = (ttt_linear_op){
        .w = &p[o].w, .bias = p[o].bias, .y = y[o], .ldy = p[o].ldy, .name = "fused"};
  }
  for (int32_t threads = 1; threads <= 2; threads++) {
    ttt_linear_config config = {.threads = threads};
    CHECK_OK(ttt_linear_multi(ctx, &config, p[0].x, 7, 64, ops, 3));
    for (int o = 0; o < 3; o++) check_output(&p[o], y[o], "linear_multi");
  }
  for (int o = 0; o < 3; o++) {
    free(y[o]);
    problem_free(&p[o]);
  }
  ttt_context_destroy(ctx);
}

/* Prefill GEMMs (every weight kind, best kernel, m = 32) from a thread whose stack is 64 KB: the
 * kernels keep their packing buffers in the context's workspace, not on the caller's stack (musl's
 * default thread stack is 128 KB). Sanitizers need more stack for themselves: 1 MB there (clang's
 * ASan at -O1 gives each inlined tile its own slots: the f32 kernel's frame is ~57 KB there, ~3 KB
 * in the optimized build). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) /* clang 14 does not define __SANITIZE_ADDRESS__ */
#define SANITIZED_BUILD 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__) || defined(SANITIZED_BUILD)
enum { SMALL_STACK = 1 << 20 };
#else
enum { SMALL_STACK = 64 * 1024 };
#endif

typedef struct small_stack_job {
  ttt_context *ctx;
  problem *p;
  float *y;
  ttt_status status;
} small_stack_job;

static void *run_on_small_stack(void *arg) {
  small_stack_job *job = arg;
  ttt_linear_op op = {.w = &job->p->w, .bias = job->p->bias, .y = job->y, .ldy = job->p->ldy};
  ttt_linear_config config = {.activation_dtype = job->p->wc.activation};
  job->status = ttt_linear(job->ctx, &config, job->p->x, job->p->s.m, job->p->s.k, &op);
  return NULL;
}

static void test_small_caller_stack(void) {
  ttt_context *ctx = ttt_test_context(1); /* one thread: the GEMM runs on the calling thread */
  if (!ctx) return;
  for (size_t c = 0; c < sizeof weight_cases / sizeof weight_cases[0]; c++) {
    problem p;
    problem_make(&p, (shape){32, 1024, 64}, weight_cases[c], true, 300 + (uint64_t)c);
    reference(&p);
    small_stack_job job = {.ctx = ctx, .p = &p, .y = output_buffer(&p)};
    pthread_attr_t attr;
    pthread_t thread;
    CHECK(pthread_attr_init(&attr) == 0);
    CHECK(pthread_attr_setstacksize(&attr, SMALL_STACK) == 0);
    CHECK(pthread_create(&thread, &attr, run_on_small_stack, &job) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    pthread_attr_destroy(&attr);
    CHECK_OK(job.status);
    check_output(&p, job.y, "small stack");
    free(job.y);
    problem_free(&p);
  }
  ttt_context_destroy(ctx);
}

static void test_linear_errors(void) {
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_context_create(&device, &ctx));
  if (!ctx) return;
  float w[4 * 32] = {0}, x[64] = {0}, y[8];
  ttt_tensor wt = ttt_tensor_2d(TTT_F32, w, 4, 32);
  ttt_linear_op op = {.w = &wt, .y = y, .name = "attention.wq"};
  ttt_linear_config config = {0};
  CHECK_ERR(ttt_linear(ctx, &config, x, 1, 16, &op), TTT_ERR_SHAPE, "attention.wq");
  CHECK_ERR(ttt_linear(ctx, &config, x, 1, 16, &op), TTT_ERR_SHAPE, "[n, 16]");
  config.activation_dtype = TTT_Q8_0;
  CHECK_ERR(ttt_linear(ctx, &config, x, 1, 32, &op), TTT_ERR_DTYPE, "f32 weights with q8_0");
  config.activation_dtype = TTT_F32;
  uint8_t w4[4 * 18] = {0};
  ttt_tensor wt4 = ttt_tensor_2d(TTT_Q4_0, w4, 4, 32);
  ttt_linear_op op4 = {.w = &wt4, .y = y, .name = "ffn.down"};
  CHECK_ERR(ttt_linear(ctx, &config, x, 1, 32, &op4), TTT_ERR_DTYPE, "q4_0 weights with f32");
  /* grouped weights: q8_0 activations only; data 64-byte aligned */
  _Alignas(64) uint8_t wg[64 + 576] = {0};
  ttt_tensor grouped = ttt_tensor_2d(TTT_Q8_0_G16, wg, 4, 32);
  ttt_linear_op opg = {.w = &grouped, .y = y, .name = "ffn.up"};
  CHECK_ERR(ttt_linear(ctx, &config, x, 1, 32, &opg), TTT_ERR_DTYPE, "q8_0_g16 weights with f32");
  config.activation_dtype = TTT_Q8_0;
  CHECK_OK(ttt_linear(ctx, &config, x, 1, 32, &opg));
  grouped.data = wg + 8;
  CHECK_ERR(ttt_linear(ctx, &config, x, 1, 32, &opg), TTT_ERR_INVALID_ARGUMENT,
            "ffn.up: q8_0_g16 data must be 64-byte aligned");
  config.activation_dtype = TTT_BF16;
  CHECK_ERR(ttt_linear(ctx, &config, x, 1, 32, &op), TTT_ERR_DTYPE, "f32 weights with bf16");
  config.activation_dtype = TTT_F32;
  op.y = NULL;
  CHECK_ERR(ttt_linear(ctx, &config, x, 1, 32, &op), TTT_ERR_INVALID_ARGUMENT, "NULL output");
  op.y = y;
  wt.dtype = TTT_I32;
  CHECK_ERR(ttt_linear(ctx, &config, x, 1, 32, &op), TTT_ERR_DTYPE, "i32");
  CHECK_ERR(ttt_linear(ctx, &config, x, 0, 32, &op), TTT_ERR_INVALID_ARGUMENT, "linear");
  ttt_context_destroy(ctx);
}

/* REFERENCE always picks the portable kernel; DEFAULT/SIMD pick the best the ISA bits allow. */
static void test_kernel_selection(void) {
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  ttt_gemm_kernel kernel;
  CHECK_OK(ttt_gemm_select(&device, TTT_KERNEL_REFERENCE, TTT_BF16, TTT_F32, &kernel));
  CHECK(strcmp(kernel.name, "bf16_ref") == 0);
  CHECK_OK(ttt_gemm_select(NULL, TTT_KERNEL_SIMD, TTT_Q8_0, TTT_Q8_0, &kernel));
  CHECK(strcmp(kernel.name, "q8_0_q8_ref") == 0);
  ttt_device scalar = device;
  scalar.isa = 0;
  CHECK_OK(ttt_gemm_select(&scalar, TTT_KERNEL_SIMD, TTT_F32, TTT_DTYPE_DEFAULT, &kernel));
  CHECK(strcmp(kernel.name, "f32_ref") == 0);
  /* AVX-512 without VNNI: q8_0 × q8_0 falls back to AVX2, the other dtypes stay on AVX-512. */
  ttt_device no_vnni = device;
  no_vnni.isa &= ~(uint32_t)TTT_ISA_AVX512VNNI;
  if ((no_vnni.isa & variants[2].isa_needed) ==
      (variants[2].isa_needed & ~(uint32_t)TTT_ISA_AVX512VNNI)) {
    CHECK_OK(ttt_gemm_select(&no_vnni, TTT_KERNEL_DEFAULT, TTT_Q8_0, TTT_Q8_0, &kernel));
    CHECK(strcmp(kernel.name, "q8_0_q8_avx2") == 0);
    CHECK_OK(ttt_gemm_select(&no_vnni, TTT_KERNEL_DEFAULT, TTT_Q4_0, TTT_Q8_0, &kernel));
    CHECK(strcmp(kernel.name, "q4_0_q8_avx2") == 0);
    CHECK_OK(ttt_gemm_select(&no_vnni, TTT_KERNEL_DEFAULT, TTT_BF16, TTT_F32, &kernel));
    CHECK(strcmp(kernel.name, "bf16_avx512") == 0);
  }
  /* bf16 activations: vdpbf16ps with AVX512_BF16, its FMA emulation on other AVX-512 machines, the
   * portable kernel below AVX-512 (no AVX2 entry) and for REFERENCE. */
  CHECK_OK(ttt_gemm_select(&device, TTT_KERNEL_REFERENCE, TTT_BF16, TTT_BF16, &kernel));
  CHECK(strcmp(kernel.name, "bf16_bf16_ref") == 0);
  ttt_device avx2 = device;
  avx2.isa &= ISA_AVX2_SET;
  CHECK_OK(ttt_gemm_select(&avx2, TTT_KERNEL_SIMD, TTT_BF16, TTT_BF16, &kernel));
  CHECK(strcmp(kernel.name, "bf16_bf16_ref") == 0);
  if ((device.isa & ISA_AVX512_SET) == ISA_AVX512_SET) {
    ttt_device no_bf16 = device;
    no_bf16.isa &= ~(uint32_t)TTT_ISA_AVX512BF16;
    CHECK_OK(ttt_gemm_select(&no_bf16, TTT_KERNEL_DEFAULT, TTT_BF16, TTT_BF16, &kernel));
    CHECK(strcmp(kernel.name, "bf16_bf16_avx512") == 0);
  }
  if (device.isa & TTT_ISA_AVX512BF16) {
    CHECK_OK(ttt_gemm_select(&device, TTT_KERNEL_DEFAULT, TTT_BF16, TTT_BF16, &kernel));
    CHECK(strcmp(kernel.name, "bf16_bf16_avx512bf16") == 0);
  }
  CHECK_ERR(ttt_gemm_select(&device, TTT_KERNEL_DEFAULT, TTT_Q8_0, TTT_BF16, &kernel),
            TTT_ERR_DTYPE, "no matmul kernel for q8_0 weights with bf16 activations");
  CHECK_ERR(ttt_gemm_select(&device, TTT_KERNEL_DEFAULT, TTT_F16, TTT_Q8_0, &kernel), TTT_ERR_DTYPE,
            "no matmul kernel for f16 weights with q8_0 activations");
}

/* Runs p as one batch and row by row with `config`; every row must be bit-identical. */
static void check_rows_match_alone(ttt_context *ctx, const variant *v, const problem *p,
                                   const ttt_linear_config *config) {
  float *batch = output_buffer(p), *alone = output_buffer(p);
  ttt_linear_op op = {.w = &p->w, .bias = p->bias, .y = batch, .ldy = p->ldy, .name = "w"};
  CHECK_OK(ttt_linear(ctx, config, p->x, p->s.m, p->s.k, &op));
  for (int64_t i = 0; i < p->s.m; i++) {
    op.y = alone + i * p->ldy;
    CHECK_OK(ttt_linear(ctx, config, p->x + i * p->s.k, 1, p->s.k, &op));
  }
  CHECK_MSG(memcmp(batch, alone, sizeof(float) * (size_t)(p->s.m * p->ldy)) == 0,
            "%s %s m=%lld: rows differ from their one-row results", v->name,
            ttt_dtype_name(p->wc.weight), (long long)p->s.m);
  free(batch);
  free(alone);
}

/* In the row-invariant mode (batched decodes of the accuracy strategy) every float-weight kernel
 * gives each row the bits it gets alone: the batch matches the float64 reference, and every row
 * equals a one-row call bit for bit. m = 9 and 17 run 4 × 6 tiles with tails of 3 and 4 + 1 rows. */
static void test_row_invariant_mode(void) {
  static const shape batch_shapes[] = {{9, 96, 33}, {17, 4096, 7}};
  static const weight_case float_cases[] = {
      {TTT_F32, TTT_F32}, {TTT_F16, TTT_F32}, {TTT_BF16, TTT_F32}, {TTT_Q8_0, TTT_F32}};
  for (int v = 0; v < N_VARIANTS; v++) {
    bool available = false;
    ttt_context *ctx = variant_context(&variants[v], 2, &available);
    if (!ctx || !available) {
      ttt_context_destroy(ctx);
      continue;
    }
    ttt_context_set_row_invariant(ctx, true);
    for (size_t s = 0; s < sizeof batch_shapes / sizeof batch_shapes[0]; s++) {
      for (size_t c = 0; c < sizeof float_cases / sizeof float_cases[0]; c++) {
        problem p;
        problem_make(&p, batch_shapes[s], float_cases[c], c % 2 == 0, 300 + 10 * s + c);
        run_problem(ctx, &variants[v], &p, 2);
        ttt_linear_config config = {.kernel = variants[v].kernel, .threads = 2};
        check_rows_match_alone(ctx, &variants[v], &p, &config);
        problem_free(&p);
      }
    }
    ttt_context_destroy(ctx);
  }
}

/* The grouped kernels sum every output in an order that does not depend on m or on the tiles,
 * without being asked to (no row-invariant mode): a batch's rows equal their one-row results. */
static void test_grouped_row_invariant(void) {
  static const shape batch_shapes[] = {{9, 96, 33}, {17, 4096, 7}, {8, 2048, 40}};
  static const weight_case grouped_cases[] = {{TTT_Q8_0_G16, TTT_Q8_0}, {TTT_Q4_0_G16, TTT_Q8_0}};
  for (int v = 0; v < N_VARIANTS; v++) {
    bool available = false;
    ttt_context *ctx = variant_context(&variants[v], 2, &available);
    if (!ctx || !available) {
      ttt_context_destroy(ctx);
      continue;
    }
    for (size_t s = 0; s < sizeof batch_shapes / sizeof batch_shapes[0]; s++) {
      for (size_t c = 0; c < sizeof grouped_cases / sizeof grouped_cases[0]; c++) {
        problem p;
        problem_make(&p, batch_shapes[s], grouped_cases[c], c % 2 == 0, 400 + 10 * s + c);
        run_problem(ctx, &variants[v], &p, 2);
        ttt_linear_config config = {
            .kernel = variants[v].kernel, .activation_dtype = TTT_Q8_0, .threads = 2};
        check_rows_match_alone(ctx, &variants[v], &p, &config);
        problem_free(&p);
      }
    }
    ttt_context_destroy(ctx);
  }
}

int main(void) {
  TTT_RUN(test_kernel_selection);
  TTT_RUN(test_all_kernels_all_shapes);
  TTT_RUN(test_kernels_write_only_their_columns);
  TTT_RUN(test_quantize_rows);
  TTT_RUN(test_bf16_activation_shapes);
  TTT_RUN(test_bf16_activation_row_invariant);
  TTT_RUN(test_bf16_activation_conversion);
  TTT_RUN(test_linear_multi_fused);
  TTT_RUN(test_grouped_row_invariant);
  TTT_RUN(test_row_invariant_mode);
  TTT_RUN(test_small_caller_stack);
  TTT_RUN(test_linear_errors);
  return ttt_test_finish();
}
