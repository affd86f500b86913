/*
 * Attention tile kernels (kernels.h: scores, softmax, accumulate), every variant the machine has,
 * against float64 computed here.
 *
 * - Shapes cover the SIMD kernels' blocking and tails: head dims that are and are not multiples of
 *   16 and 64, query-row counts around the 4-row blocks, key counts around the 4-key blocks.
 * - Key/value rows are scattered (separate allocations in shuffled order, f32 and bf16), as ring
 *   caches hand them to the kernels.
 * - Bounds: each key/value row and the q/p matrices end exactly at a PROT_NONE page, so reading one
 *   element past them faults; scores and accumulators use padded leading dimensions whose padding
 *   holds a sentinel that must survive.
 * - Error bounds, with S = Σ |q_d|·|k_d| (scores) or Σ |p_i|·|v_i| (accumulate) in float64 on the
 *   exact values the kernel reads: f32 sums of at most 256 terms err by far less than 1e-5·S
 *   (see test_matmul.c); softmax's exp is checked to 4e-7 relative in the normal range, and its
 *   max, rescale factor and running sum against their definitions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_test_util.h"

static const float sentinel = 12345.0f;

static const kernel_variant variants[] = {
    {"attention_ref", 0, TTT_KERNEL_REFERENCE, 0},
    {"attention_ref", ~0u, TTT_KERNEL_REFERENCE, 0}, /* REFERENCE wins over the ISA bits */
    {"attention_avx2", ISA_AVX2, TTT_KERNEL_SIMD, ISA_AVX2},
    {"attention_avx512", ~0u, TTT_KERNEL_DEFAULT, ISA_AVX512},
};

static float bf16_round(float x) { /* round to nearest even, as stored in a bf16 cache */
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* n rows of hd values in `dtype`, each in its own guarded allocation; exact f32 copies in `values`
 * ([n][hd]); ptrs[i] points at row order[i] (a shuffle). */
typedef struct row_set {
  guarded *mem;
  const void **ptrs;
  float *values;
  int64_t n;
} row_set;

static row_set make_rows(ttt_test_rng *rng, int64_t n, int64_t hd, ttt_dtype dtype) {
  row_set rs = {.mem = calloc((size_t)n, sizeof(guarded)),
                .ptrs = calloc((size_t)n, sizeof(void *)),
                .values = malloc((size_t)(n * hd) * sizeof(float)),
                .n = n};
  size_t elem = dtype == TTT_BF16 ? 2 : 4;
  for (int64_t i = 0; i < n; i++) {
    rs.mem[i] = guarded_alloc((size_t)hd * elem);
    for (int64_t d = 0; d < hd; d++) {
      float x = ttt_test_rng_uniform(rng, -2.0f, 2.0f);
      if (dtype == TTT_BF16) {
        x = bf16_round(x);
        uint32_t u;
        memcpy(&u, &x, sizeof u);
        uint16_t h = (uint16_t)(u >> 16);
        memcpy((uint8_t *)rs.mem[i].data + d * 2, &h, 2);
      } else {
        memcpy((uint8_t *)rs.mem[i].data + d * 4, &x, 4);
      }
      rs.values[i * hd + d] = x;
    }
    rs.ptrs[i] = rs.mem[i].data;
  }
  for (int64_t i = n - 1; i > 0; i--) { /* shuffle rows and their values together */
    int64_t j = (int64_t)(ttt_test_rng_next(rng) % (uint64_t)(i + 1));
    const void *p = rs.ptrs[i];
    rs.ptrs[i] = rs.ptrs[j];
    rs.ptrs[j] = p;
    for (int64_t d = 0; d < hd; d++) {
      float t = rs.values[i * hd + d];
      rs.values[i * hd + d] = rs.values[j * hd + d];
      rs.values[j * hd + d] = t;
    }
  }
  return rs;
}

static void free_rows(row_set *rs) {
  for (int64_t i = 0; i < rs->n; i++) guarded_free(&rs->mem[i]);
  free(rs->mem);
  free(rs->ptrs);
  free(rs->values);
}

/* A row-major [rows][cols] f32 matrix with leading dimension ld >= cols, ending at a guard page;
 * random values in the used part, the sentinel in the padding. */
static guarded make_matrix(ttt_test_rng *rng, int64_t rows, int64_t cols, int64_t ld) {
  guarded g = guarded_alloc((size_t)((rows - 1) * ld + cols) * sizeof(float));
  float *m = g.data;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < ld && r * ld + c < (rows - 1) * ld + cols; c++)
      m[r * ld + c] = c < cols ? ttt_test_rng_uniform(rng, -1.0f, 1.0f) : sentinel;
  return g;
}

static bool padding_intact(const float *m, int64_t rows, int64_t cols, int64_t ld) {
  for (int64_t r = 0; r + 1 < rows; r++)
    for (int64_t c = cols; c < ld; c++)
      if (m[r * ld + c] != sentinel) return false;
  return true;
}

static void check_scores(const ttt_attention_kernel *k, ttt_test_rng *rng, int64_t nq, int64_t n,
                         int64_t hd, ttt_dtype dtype) {
  int64_t ldq = hd + 3, lds = n + 5;
  float scale = 0.37f;
  guarded q = make_matrix(rng, nq, hd, ldq), s = make_matrix(rng, nq, n, lds);
  row_set keys = make_rows(rng, n, hd, dtype);
  const float *qm = q.data;
  float *sm = s.data;
  k->scores(qm, ldq, nq, keys.ptrs, dtype, n, hd, scale, sm, lds);
  double worst = 0.0;
  for (int64_t r = 0; r < nq; r++)
    for (int64_t i = 0; i < n; i++) {
      double exact = 0.0, mag = 0.0;
      for (int64_t d = 0; d < hd; d++) {
        exact += (double)qm[r * ldq + d] * keys.values[i * hd + d];
        mag += fabs((double)qm[r * ldq + d] * keys.values[i * hd + d]);
      }
      double err = fabs(sm[r * lds + i] - exact * scale) / ((mag + 1e-30) * scale);
      worst = err > worst ? err : worst;
    }
  CHECK_MSG(worst <= 1e-5, "%s scores nq %lld n %lld hd %lld %s: relative error %g", k->name,
            (long long)nq, (long long)n, (long long)hd, ttt_dtype_name(dtype), worst);
  CHECK_MSG(padding_intact(sm, nq, n, lds), "%s scores wrote outside its rows", k->name);
  free_rows(&keys);
  guarded_free(&q);
  guarded_free(&s);
}

static void check_accumulate(const ttt_attention_kernel *k, ttt_test_rng *rng, int64_t nq,
                             int64_t n, int64_t hd, ttt_dtype dtype) {
  int64_t ldp = n + 2, ldacc = hd + 7;
  guarded p = make_matrix(rng, nq, n, ldp), acc = make_matrix(rng, nq, hd, ldacc);
  row_set values = make_rows(rng, n, hd, dtype);
  float *pm = p.data, *am = acc.data;
  for (int64_t r = 0; r < nq; r++) /* probabilities: >= 0, some exactly 0 (masked keys) */
    for (int64_t i = 0; i < n; i++)
      pm[r * ldp + i] = (i + r) % 5 == 3 ? 0.0f : fabsf(pm[r * ldp + i]);
  double *before = malloc((size_t)(nq * hd) * sizeof(double));
  float *rescale = malloc((size_t)nq * sizeof(float));
  for (int64_t r = 0; r < nq; r++) { /* 1 (unchanged max), 0 (first visible tile), in between */
    rescale[r] = r % 3 == 0 ? 1.0f : r % 3 == 1 ? 0.0f : ttt_test_rng_uniform(rng, 0.0f, 1.0f);
    for (int64_t d = 0; d < hd; d++) before[r * hd + d] = am[r * ldacc + d];
  }
  k->accumulate(pm, ldp, nq, values.ptrs, dtype, n, hd, rescale, am, ldacc);
  double worst = 0.0;
  for (int64_t r = 0; r < nq; r++)
    for (int64_t d = 0; d < hd; d++) {
      double exact = rescale[r] * before[r * hd + d], mag = fabs(exact);
      for (int64_t i = 0; i < n; i++) {
        exact += (double)pm[r * ldp + i] * values.values[i * hd + d];
        mag += fabs((double)pm[r * ldp + i] * values.values[i * hd + d]);
      }
      double err = fabs(am[r * ldacc + d] - exact) / (mag + 1e-30);
      worst = err > worst ? err : worst;
    }
  CHECK_MSG(worst <= 1e-5, "%s accumulate nq %lld n %lld hd %lld %s: relative error %g", k->name,
            (long long)nq, (long long)n, (long long)hd, ttt_dtype_name(dtype), worst);
  CHECK_MSG(padding_intact(am, nq, hd, ldacc), "%s accumulate wrote outside its rows", k->name);
  free(before);
  free(rescale);
  free_rows(&values);
  guarded_free(&p);
  guarded_free(&acc);
}

static void test_scores_and_accumulate(void) {
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  const int64_t head_dims[] = {1, 7, 16, 24, 64, 80, 128, 256};
  const int64_t query_rows[] = {1, 3, 4, 5, 9, 16, 29}; /* 16+: AVX-512's keys-in-lanes path */
  const int64_t keys[] = {1, 3, 4, 5, 17, 64};
  ttt_test_rng rng = ttt_test_rng_make(41);
  for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
    ttt_device masked;
    if (!kernel_variant_device(&variants[v], &device, &masked)) continue;
    ttt_attention_kernel k = ttt_attention_kernel_select(&masked, variants[v].kernel);
    CHECK_MSG(strcmp(k.name, variants[v].name) == 0, "selected %s, expected %s", k.name,
              variants[v].name);
    for (size_t h = 0; h < sizeof head_dims / sizeof head_dims[0]; h++)
      for (size_t r = 0; r < sizeof query_rows / sizeof query_rows[0]; r++)
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
          for (int bf16 = 0; bf16 < 2; bf16++) {
            ttt_dtype dtype = bf16 ? TTT_BF16 : TTT_F32;
            check_scores(&k, &rng, query_rows[r], keys[i], head_dims[h], dtype);
            check_accumulate(&k, &rng, query_rows[r], keys[i], head_dims[h], dtype);
          }
  }
  ttt_attention_kernel none = ttt_attention_kernel_select(NULL, TTT_KERNEL_DEFAULT);
  CHECK_MSG(strcmp(none.name, "attention_ref") == 0, "no device: %s", none.name);
}

/* One online-softmax step of one row against float64: the new max, exp(s - max) (4e-7 relative
 * for normal results, 2e-45 absolute for subnormal ones, exactly 0 for -inf), the rescale factor
 * and the running sum. The exp argument is the f32 difference, as the contract computes it. */
static void check_softmax_row(const ttt_attention_kernel *k, const float *in, int64_t n,
                              float m_prev, float l_prev) {
  guarded g = guarded_alloc((size_t)n * sizeof(float));
  float *s = g.data, m = m_prev, l = l_prev, rescale = -1.0f;
  memcpy(s, in, (size_t)n * sizeof(float));
  k->softmax(s, n, 1, n, &m, &l, &rescale);
  float tile_max = -INFINITY;
  for (int64_t i = 0; i < n; i++) tile_max = in[i] > tile_max ? in[i] : tile_max;
  if (tile_max == -INFINITY) {
    for (int64_t i = 0; i < n; i++)
      CHECK_MSG(s[i] == 0.0f, "%s masked row: s[%lld] = %g", k->name, (long long)i, (double)s[i]);
    CHECK_MSG(rescale == 1.0f && m == m_prev && l == l_prev, "%s masked row changed the state",
              k->name);
    guarded_free(&g);
    return;
  }
  float m_new = m_prev > tile_max ? m_prev : tile_max;
  CHECK_MSG(m == m_new, "%s max %g, expected %g", k->name, (double)m, (double)m_new);
  double sum = 0.0;
  for (int64_t i = 0; i < n; i++) {
    float arg = in[i] - m_new;
    double want = exp((double)arg);
    sum += want;
    bool ok = want < 1.1754943508222875e-38 ? fabs(s[i] - want) <= 2e-45 && s[i] >= 0.0f
                                            : fabs(s[i] - want) <= 4e-7 * want;
    CHECK_MSG(ok, "%s exp(%.9g) = %.9g, expected %.9g", k->name, (double)arg, (double)s[i], want);
  }
  double want_rescale = exp((double)(m_prev - m_new));
  CHECK_MSG(fabs(rescale - want_rescale) <= 4e-7 * want_rescale, "%s rescale %.9g, expected %.9g",
            k->name, (double)rescale, want_rescale);
  double want_l = l_prev * want_rescale + sum;
  CHECK_MSG(fabs(l - want_l) <= 1e-6 * want_l, "%s running sum %.9g, expected %.9g", k->name,
            (double)l, want_l);
  guarded_free(&g);
}

static void test_softmax(void) {
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 1));
  const float special[] = {-INFINITY, 0.0f,    -1e-8f,   -0.5f,  -0.3465736f, -0.3465737f,
                           -1.0f,     -10.0f,  -87.0f,   -87.5f, -95.0f,      -103.0f,
                           -103.9f,   -104.5f, -149.0f,  -1e30f, -30.25f,     -2.125f,
                           -45.0f,    -0.69f,  -INFINITY};
  enum { SWEEP = 4001 };
  static float sweep[SWEEP]; /* dense over [-110, 0] */
  for (int i = 0; i < SWEEP; i++) sweep[i] = -110.0f + 110.0f * (float)i / (SWEEP - 1);
  const float masked[] = {-INFINITY, -INFINITY, -INFINITY};
  for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
    ttt_device dev;
    if (!kernel_variant_device(&variants[v], &device, &dev)) continue;
    ttt_attention_kernel k = ttt_attention_kernel_select(&dev, variants[v].kernel);
    int64_t count = (int64_t)(sizeof special / sizeof special[0]);
    for (int64_t n = 2; n <= count; n++) { /* every tail length; the max is 0 from n = 2 */
      check_softmax_row(&k, special, n, -INFINITY, 0.0f); /* the row's first visible tile */
      check_softmax_row(&k, special, n, 0.0f, 3.5f);      /* the max did not change */
    }
    check_softmax_row(&k, sweep, SWEEP, -INFINITY, 0.0f);
    check_softmax_row(&k, sweep, SWEEP, 7.25f, 11.0f);   /* an earlier tile had the max */
    check_softmax_row(&k, sweep, SWEEP, -20.5f, 0.125f); /* this tile raises it */
    check_softmax_row(&k, masked, 3, 1.5f, 2.0f);
    check_softmax_row(&k, masked, 3, -INFINITY, 0.0f);
    /* Several rows in one call, with a padded stride: row 1 fully masked, row 2 NaN. */
    float s[3][20], m[3] = {-INFINITY, 0.5f, -INFINITY}, l[3] = {0.0f, 2.0f, 0.0f}, rescale[3];
    for (int i = 0; i < 20; i++) {
      s[0][i] = -0.25f * (float)i;
      s[1][i] = i < 17 ? -INFINITY : 99.0f; /* columns 17.. are padding */
      s[2][i] = i == 3 ? NAN : 0.0f;
    }
    k.softmax(&s[0][0], 20, 3, 17, m, l, rescale);
    CHECK(m[0] == 0.0f && fabs(l[0] - (1.0 - exp(-4.25)) / (1.0 - exp(-0.25))) < 1e-6 * l[0]);
    CHECK(m[1] == 0.5f && l[1] == 2.0f && rescale[1] == 1.0f && s[1][0] == 0.0f &&
          s[1][17] == 99.0f);
    CHECK_MSG(isnan(s[2][3]) && isnan(l[2]), "%s: NaN scores must reach the sum", k.name);
  }
}

int main(void) {
  TTT_RUN(test_scores_and_accumulate);
  TTT_RUN(test_softmax);
  return ttt_test_finish();
}
