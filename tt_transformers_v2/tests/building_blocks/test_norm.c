/*
 * RMSNorm / LayerNorm against the float64 reference: real-world norms (Llama-3-8B, Qwen2.5-7B,
 * Mistral-7B and Mixtral-8x7B RMSNorm, BERT-base LayerNorm with bias, Gemma's (1 + w) RMSNorm,
 * Qwen3's per-head q/k norm on [T, heads, head_dim]) × kernel (reference, SIMD) × threads (1, 2)
 * × tokens (1, 17), plus in-place use and the per-mode defaults. Norm weights are f32 only, so
 * the f32 threshold of block_test_util.h applies everywhere.
 */
#include "block_test_util.h"

enum { T_MAX = 17 };

static btu_stats stats;
static ttt_context *ctx;

typedef struct norm_case {
  const char *name;
  ttt_norm_spec spec;
  int64_t heads; /* > 1: per-head norm over [T, heads, dim] */
} norm_case;

static const norm_case real_cases[] = {
    {"Llama-3-8B", {.type = TTT_NORM_RMS, .dim = 4096, .eps = 1e-5f}, 1},
    {"Qwen2.5-7B", {.type = TTT_NORM_RMS, .dim = 3584, .eps = 1e-6f}, 1},
    {"Mistral-7B", {.type = TTT_NORM_RMS, .dim = 4096, .eps = 1e-5f}, 1},
    {"Mixtral-8x7B", {.type = TTT_NORM_RMS, .dim = 4096, .eps = 1e-5f}, 1},
    {"BERT-base", {.type = TTT_NORM_LAYER, .dim = 768, .eps = 1e-12f, .bias = true}, 1},
    {"Gemma-2B (1+w)", {.type = TTT_NORM_RMS, .dim = 2048, .eps = 1e-6f, .weight_offset = true}, 1},
    {"Qwen3-8B q_norm", {.type = TTT_NORM_RMS, .dim = 128, .eps = 1e-6f}, 32},
    {"Qwen3-8B k_norm", {.type = TTT_NORM_RMS, .dim = 128, .eps = 1e-6f}, 8},
    {"odd dim 37", {.type = TTT_NORM_LAYER, .dim = 37, .eps = 1e-5f}, 3},
};

typedef struct norm_data {
  ttt_norm_weights w;
  float *x; /* [T_MAX·heads, dim] */
  double *xd;
  double *ref; /* reference of all T_MAX·heads rows */
  int64_t rows;
} norm_data;

static void data_make(norm_data *d, const norm_case *c, uint64_t seed) {
  ttt_test_rng rng = ttt_test_rng_make(seed);
  int64_t n = c->spec.dim;
  d->rows = T_MAX * c->heads;
  /* Stored weights: around 1 for plain norms, around 0 for Gemma's offset form. */
  d->w = (ttt_norm_weights){.weight = btu_vector(&rng, n, 0.1)};
  float *w = d->w.weight.data;
  if (!c->spec.weight_offset)
    for (int64_t i = 0; i < n; i++) w[i] += 1.0f;
  if (c->spec.bias) d->w.bias = btu_vector(&rng, n, 0.1);
  /* Hidden states with a non-zero mean and a per-row scale, so mean removal and eps matter. */
  d->x = malloc(sizeof(float) * (size_t)(d->rows * n));
  for (int64_t r = 0; r < d->rows; r++) {
    float scale = ttt_test_rng_uniform(&rng, 0.5f, 4.0f), shift = ttt_test_rng_uniform(&rng, -1, 1);
    for (int64_t i = 0; i < n; i++)
      d->x[r * n + i] = shift + scale * ttt_test_rng_uniform(&rng, -1.0f, 1.0f);
  }
  d->xd = btu_doubles(d->x, d->rows * n);
  d->ref = malloc(sizeof(double) * (size_t)(d->rows * n));
  CHECK_OK(ttt_reference_norm(&c->spec, &d->w, d->xd, d->rows, d->ref));
}

static void data_free(norm_data *d) {
  ttt_tensor_free(&d->w.weight);
  ttt_tensor_free(&d->w.bias);
  free(d->x);
  free(d->xd);
  free(d->ref);
}

/* A view of the first T tokens: [T, dim] or [T, heads, dim]. */
static ttt_tensor view(const norm_case *c, float *data, int64_t T) {
  if (c->heads > 1) return ttt_tensor_3d(TTT_F32, data, T, c->heads, c->spec.dim);
  return ttt_tensor_2d(TTT_F32, data, T, c->spec.dim);
}

static void run_case(const norm_case *c, uint64_t seed) {
  norm_data d;
  data_make(&d, c, seed);
  int64_t n = c->spec.dim;
  float *out = malloc(sizeof(float) * (size_t)(d.rows * n));
  for (int kernel = TTT_KERNEL_REFERENCE; kernel <= TTT_KERNEL_SIMD; kernel++)
    for (int32_t threads = 1; threads <= 2; threads++)
      for (int64_t T = 1; T <= T_MAX; T += T_MAX - 1) {
        ttt_norm_impl_config impl = {.kernel = (ttt_kernel)kernel, .threads = threads};
        ttt_tensor tx = view(c, d.x, T), to = view(c, out, T);
        CHECK_OK(ttt_norm_forward(ctx, &c->spec, &impl, &d.w, &tx, &to));
        char label[128];
        snprintf(label, sizeof label, "%s %s t%d T%lld", c->name, ttt_kernel_name(impl.kernel),
                 threads, (long long)T);
        btu_check(&stats, TTT_F32, false, label, out, d.ref, T * c->heads * n, BTU_F32);
      }
  /* Per-mode defaults, NULL impl, and in place (out == x) on a copy of x. */
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 2));
  ttt_norm_impl_config modes[2] = {
      ttt_norm_default_impl_config(&device, TTT_MODE_PREFILL, &c->spec),
      ttt_norm_default_impl_config(&device, TTT_MODE_DECODE, &c->spec)};
  const ttt_norm_impl_config *impls[3] = {&modes[0], &modes[1], NULL};
  for (int i = 0; i < 3; i++) {
    memcpy(out, d.x, sizeof(float) * (size_t)(d.rows * n));
    ttt_tensor inplace = view(c, out, T_MAX);
    CHECK_OK(ttt_norm_forward(ctx, &c->spec, impls[i], &d.w, &inplace, &inplace));
    btu_check(&stats, TTT_F32, false, "in place", out, d.ref, d.rows * n, BTU_F32);
  }
  free(out);
  data_free(&d);
}

static void test_real_norms(void) {
  for (size_t i = 0; i < sizeof real_cases / sizeof real_cases[0]; i++)
    run_case(&real_cases[i], 100 + i);
}

/* Perturbed references fail, and so do the neighbouring formulas: LayerNorm vs RMSNorm on inputs
 * with a mean, (1 + w) vs w, a per-head norm vs one over the whole row. */
static void test_wrong_math_is_caught(void) {
  const norm_case *c = &real_cases[4]; /* BERT LayerNorm */
  norm_data d;
  data_make(&d, c, 200);
  int64_t n = c->spec.dim, values = d.rows * n;
  float *out = malloc(sizeof(float) * (size_t)values);
  ttt_tensor tx = view(c, d.x, T_MAX), to = view(c, out, T_MAX);
  CHECK_OK(ttt_norm_forward(ctx, &c->spec, NULL, &d.w, &tx, &to));
  btu_check_bites("BERT LayerNorm", out, d.ref, values, BTU_F32, 1e-4, 0.01);
  ttt_compare_result res;
  double rel;
  double *wrong = malloc(sizeof(double) * (size_t)values);
  ttt_norm_spec rms = {.type = TTT_NORM_RMS, .dim = n, .eps = c->spec.eps};
  CHECK_OK(ttt_reference_norm(&rms, &d.w, d.xd, d.rows, wrong));
  CHECK(!btu_passes(out, wrong, values, BTU_F32, &res, &rel));
  free(wrong);
  free(out);
  data_free(&d);

  const norm_case *g = &real_cases[5]; /* Gemma (1 + w) */
  data_make(&d, g, 201);
  values = d.rows * g->spec.dim;
  out = malloc(sizeof(float) * (size_t)values);
  tx = view(g, d.x, T_MAX);
  to = view(g, out, T_MAX);
  CHECK_OK(ttt_norm_forward(ctx, &g->spec, NULL, &d.w, &tx, &to));
  ttt_norm_spec plain = g->spec;
  plain.weight_offset = false;
  wrong = malloc(sizeof(double) * (size_t)values);
  CHECK_OK(ttt_reference_norm(&plain, &d.w, d.xd, d.rows, wrong));
  CHECK(!btu_passes(out, wrong, values, BTU_F32, &res, &rel));
  free(wrong);
  free(out);
  data_free(&d);

  /* Per head (dim 128 on [T, 8, 128]) differs from one norm over the 1024-value row. */
  const norm_case *q = &real_cases[7];
  data_make(&d, q, 202);
  values = d.rows * q->spec.dim;
  ttt_norm_spec whole = {.type = TTT_NORM_RMS, .dim = q->spec.dim * q->heads, .eps = 1e-6f};
  ttt_norm_weights wide = {.weight = btu_vector(&(ttt_test_rng){1}, whole.dim, 0.0)};
  for (int64_t h = 0; h < q->heads; h++)
    memcpy((float *)wide.weight.data + h * q->spec.dim, d.w.weight.data,
           sizeof(float) * (size_t)q->spec.dim);
  wrong = malloc(sizeof(double) * (size_t)values);
  CHECK_OK(ttt_reference_norm(&whole, &wide, d.xd, T_MAX, wrong));
  out = malloc(sizeof(float) * (size_t)values);
  tx = view(q, d.x, T_MAX);
  to = view(q, out, T_MAX);
  CHECK_OK(ttt_norm_forward(ctx, &q->spec, NULL, &d.w, &tx, &to));
  CHECK(btu_passes(out, d.ref, values, BTU_F32, &res, &rel));
  CHECK(!btu_passes(out, wrong, values, BTU_F32, &res, &rel));
  ttt_tensor_free(&wide.weight);
  free(wrong);
  free(out);
  data_free(&d);
}

static void test_forward_errors(void) {
  ttt_norm_spec spec = {.type = TTT_NORM_LAYER, .dim = 8, .eps = 1e-5f, .bias = true};
  float w[8], b[8], x[16], out[16];
  memset(x, 0, sizeof x);
  for (int i = 0; i < 8; i++) w[i] = b[i] = 1.0f;
  ttt_norm_weights weights = {.weight = ttt_tensor_1d(TTT_F32, w, 8),
                              .bias = ttt_tensor_1d(TTT_F32, b, 8)};
  ttt_tensor tx = ttt_tensor_2d(TTT_F32, x, 2, 8), to = ttt_tensor_2d(TTT_F32, out, 2, 8);
  CHECK_OK(ttt_norm_forward(ctx, &spec, NULL, &weights, &tx, &to));
  ttt_norm_weights bad = weights;
  bad.weight = ttt_tensor_1d(TTT_F32, w, 7);
  CHECK_ERR(ttt_norm_forward(ctx, &spec, NULL, &bad, &tx, &to), TTT_ERR_SHAPE, "norm.weight");
  bad = weights;
  bad.weight.dtype = TTT_BF16;
  CHECK_ERR(ttt_norm_forward(ctx, &spec, NULL, &bad, &tx, &to), TTT_ERR_DTYPE, "norm.weight");
  bad = weights;
  bad.bias = (ttt_tensor){0};
  CHECK_ERR(ttt_norm_forward(ctx, &spec, NULL, &bad, &tx, &to), TTT_ERR_INVALID_ARGUMENT,
            "norm.bias: missing");
  ttt_norm_spec no_bias = spec;
  no_bias.bias = false;
  CHECK_ERR(ttt_norm_forward(ctx, &no_bias, NULL, &weights, &tx, &to), TTT_ERR_INVALID_ARGUMENT,
            "norm.bias: given");
  ttt_tensor narrow = ttt_tensor_2d(TTT_F32, x, 2, 7);
  CHECK_ERR(ttt_norm_forward(ctx, &spec, NULL, &weights, &narrow, &to), TTT_ERR_SHAPE, "norm x");
  ttt_tensor short_out = ttt_tensor_2d(TTT_F32, out, 1, 8);
  CHECK_ERR(ttt_norm_forward(ctx, &spec, NULL, &weights, &tx, &short_out), TTT_ERR_SHAPE,
            "norm out");
  ttt_tensor shifted = ttt_tensor_2d(TTT_F32, x + 1, 1, 8);
  ttt_tensor first = ttt_tensor_2d(TTT_F32, x, 1, 8);
  CHECK_ERR(ttt_norm_forward(ctx, &spec, NULL, &weights, &first, &shifted),
            TTT_ERR_INVALID_ARGUMENT, "overlap");
  ttt_norm_impl_config bad_kernel = {.kernel = (ttt_kernel)9};
  CHECK_ERR(ttt_norm_forward(ctx, &spec, &bad_kernel, &weights, &tx, &to), TTT_ERR_INVALID_ARGUMENT,
            "kernel");
}

int main(void) {
  ctx = btu_context(2);
  if (!ctx) {
    fprintf(stderr, "cannot create a context: %s\n", ttt_last_error());
    return 1;
  }
  TTT_RUN(test_real_norms);
  TTT_RUN(test_wrong_math_is_caught);
  TTT_RUN(test_forward_errors);
  btu_print_stats("norm", &stats);
  ttt_context_destroy(ctx);
  return ttt_test_finish();
}
