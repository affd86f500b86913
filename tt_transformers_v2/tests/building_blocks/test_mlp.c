/*
 * MLP (plain, SwiGLU, GeGLU) against the float64 reference.
 *
 * Real-world specs at their real dims (Llama-3-8B 4096/14336, Qwen2.5-7B 3584/18944, Mistral-7B
 * 4096/14336, BERT-base 768/3072 with gelu and biases) run a subset of impl configs; the full impl
 * matrix (weight f32/bf16/q8_0, q8_0 activations, reference/SIMD kernel, 1/2 threads, fused/
 * unfused gate+up, 1/17 tokens, prefill/decode defaults) runs at reduced dims with the same
 * structure (multiples of 32 so q8_0 applies). See block_test_util.h for the thresholds.
 *
 * Real dims compare 3 of 17 tokens (0, 8, 16) with the reference: tokens are independent in an
 * MLP, so the reference of those rows is exact for them; every output column is still compared
 * (each row of gate/up/down contributes), and the first and last rows catch stride and offset
 * mistakes. The full-row comparison runs at reduced dims.
 */
#include "block_test_util.h"

enum { T_MAX = 17 };

static btu_stats stats;
static ttt_context *ctx;

/* f32 master weights of one MLP. */
typedef struct mlp_master {
  ttt_mlp_spec spec;
  ttt_mlp_weights w;
} mlp_master;

static void master_make(mlp_master *m, const ttt_mlp_spec *spec, uint64_t seed) {
  ttt_test_rng rng = ttt_test_rng_make(seed);
  double in_std = 1.0 / sqrt((double)spec->hidden),
         mid_std = 1.0 / sqrt((double)spec->intermediate);
  m->spec = *spec;
  m->w = (ttt_mlp_weights){0};
  if (spec->gated) m->w.gate = btu_matrix(&rng, spec->intermediate, spec->hidden, in_std);
  m->w.up = btu_matrix(&rng, spec->intermediate, spec->hidden, in_std);
  m->w.down = btu_matrix(&rng, spec->hidden, spec->intermediate, mid_std);
  if (!spec->bias) return;
  if (spec->gated) m->w.gate_bias = btu_vector(&rng, spec->intermediate, 0.1);
  m->w.up_bias = btu_vector(&rng, spec->intermediate, 0.1);
  m->w.down_bias = btu_vector(&rng, spec->hidden, 0.1);
}

static void master_free(mlp_master *m) {
  ttt_tensor *all[] = {&m->w.gate,      &m->w.up,      &m->w.down,
                       &m->w.gate_bias, &m->w.up_bias, &m->w.down_bias};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ttt_tensor_free(all[i]);
}

/* The master weights converted to `dtype` (biases stay f32, shared with the master). */
static ttt_mlp_weights weights_as(const mlp_master *m, ttt_dtype dtype) {
  ttt_mlp_weights w = m->w;
  w.gate = btu_as(&m->w.gate, dtype);
  w.up = btu_as(&m->w.up, dtype);
  w.down = btu_as(&m->w.down, dtype);
  return w;
}

static void weights_release(ttt_mlp_weights *w, const mlp_master *m) {
  btu_release(&w->gate, &m->w.gate);
  btu_release(&w->up, &m->w.up);
  btu_release(&w->down, &m->w.down);
}

/* out[T, hidden] = optimized MLP of the first T rows of x. */
static void forward(const ttt_mlp_spec *spec, const ttt_mlp_impl_config *impl,
                    const ttt_mlp_weights *w, float *x, int64_t T, float *out) {
  ttt_tensor tx = ttt_tensor_2d(TTT_F32, x, T, spec->hidden);
  ttt_tensor to = ttt_tensor_2d(TTT_F32, out, T, spec->hidden);
  CHECK_OK(ttt_mlp_forward(ctx, spec, impl, w, &tx, &to));
}

static double *reference(const ttt_mlp_spec *spec, const ttt_mlp_weights *w, const double *x,
                         int64_t T) {
  double *out = calloc((size_t)(T * spec->hidden), sizeof(double));
  CHECK(out != NULL);
  if (out) CHECK_OK(ttt_reference_mlp(spec, w, x, T, out));
  return out;
}

/* ---- the full impl matrix at reduced dims ---- */

static void run_matrix(const char *name, const ttt_mlp_spec *spec, uint64_t seed) {
  int64_t H = spec->hidden;
  mlp_master m;
  master_make(&m, spec, seed);
  ttt_test_rng rng = ttt_test_rng_make(seed + 1);
  float *x = malloc(sizeof(float) * (size_t)(T_MAX * H));
  float *out = malloc(sizeof(float) * (size_t)(T_MAX * H));
  btu_fill(&rng, x, T_MAX * H, 1.0);
  double *xd = btu_doubles(x, T_MAX * H);
  double *ref = reference(spec, &m.w, xd, T_MAX);

  const ttt_dtype dtypes[] = {TTT_F32, TTT_BF16, TTT_Q8_0};
  for (size_t d = 0; d < 3; d++) {
    ttt_mlp_weights w = weights_as(&m, dtypes[d]);
    double *same = dtypes[d] == TTT_F32 ? NULL : reference(spec, &w, xd, T_MAX);
    for (int q8_act = 0; q8_act <= (dtypes[d] == TTT_Q8_0); q8_act++)
      for (int kernel = TTT_KERNEL_REFERENCE; kernel <= TTT_KERNEL_SIMD; kernel++)
        for (int32_t threads = 1; threads <= 2; threads++)
          for (int fuse = 0; fuse <= 1; fuse++)
            for (int64_t T = 1; T <= T_MAX; T += T_MAX - 1) {
              ttt_mlp_impl_config impl = {.weight_dtype = dtypes[d],
                                          .activation_dtype = q8_act ? TTT_Q8_0 : TTT_F32,
                                          .kernel = (ttt_kernel)kernel,
                                          .threads = threads,
                                          .fuse_gate_up = fuse};
              char label[160];
              snprintf(label, sizeof label, "%s %s%s %s t%d %s T%lld", name,
                       ttt_dtype_name(dtypes[d]), q8_act ? "+q8act" : "",
                       ttt_kernel_name(impl.kernel), threads, fuse ? "fused" : "unfused",
                       (long long)T);
              forward(spec, &impl, &w, x, T, out);
              btu_check(&stats, dtypes[d], q8_act, label, out, ref, T * H,
                        btu_threshold_for(dtypes[d]));
              if (same)
                btu_check(NULL, dtypes[d], q8_act, label, out, same, T * H,
                          q8_act ? BTU_Q8_ACT_SAME_WEIGHTS : BTU_F32);
            }
    free(same);
    weights_release(&w, &m);
  }

  /* The defaults per mode (prefill: 17 tokens, decode: 1), and zero / NULL impl = defaults. */
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 2));
  ttt_mlp_impl_config prefill = ttt_mlp_default_impl_config(&device, TTT_MODE_PREFILL, spec);
  ttt_mlp_impl_config decode = ttt_mlp_default_impl_config(&device, TTT_MODE_DECODE, spec);
  ttt_mlp_impl_config zero = {0};
  const ttt_mlp_impl_config *impls[] = {&prefill, &decode, &zero, NULL};
  const int64_t tokens[] = {T_MAX, 1, T_MAX, T_MAX};
  for (size_t i = 0; i < 4; i++) {
    forward(spec, impls[i], &m.w, x, tokens[i], out);
    btu_check(&stats, TTT_F32, false, "defaults", out, ref, tokens[i] * H, BTU_F32);
  }
  free(x);
  free(out);
  free(xd);
  free(ref);
  master_free(&m);
}

static void test_matrix_swiglu(void) {
  ttt_mlp_spec spec = {
      .hidden = 256, .intermediate = 672, .activation = TTT_ACT_SILU, .gated = true};
  run_matrix("swiglu 256/672", &spec, 11);
}

static void test_matrix_geglu_tanh_bias(void) {
  ttt_mlp_spec spec = {.hidden = 192,
                       .intermediate = 416,
                       .activation = TTT_ACT_GELU_TANH,
                       .gated = true,
                       .bias = true};
  run_matrix("geglu(tanh)+bias 192/416", &spec, 12);
}

static void test_matrix_geglu_exact(void) {
  ttt_mlp_spec spec = {
      .hidden = 128, .intermediate = 352, .activation = TTT_ACT_GELU, .gated = true};
  run_matrix("geglu(erf) 128/352", &spec, 13);
}

static void test_matrix_plain_gelu_bias(void) {
  ttt_mlp_spec spec = {
      .hidden = 160, .intermediate = 640, .activation = TTT_ACT_GELU, .bias = true};
  run_matrix("plain gelu+bias 160/640", &spec, 14);
}

static void test_matrix_plain_relu(void) {
  ttt_mlp_spec spec = {.hidden = 96, .intermediate = 384, .activation = TTT_ACT_RELU};
  run_matrix("plain relu 96/384", &spec, 15);
}

/* ---- real-world dims ---- */

typedef struct real_config {
  ttt_dtype weight_dtype;
  bool q8_act;
  int64_t T;
  int32_t threads;
} real_config;

static const int64_t sampled_rows[] = {0, 8, 16};
enum { N_SAMPLED = 3 };

static void run_real(const char *name, const ttt_mlp_spec *spec, uint64_t seed,
                     const real_config *configs, size_t n_configs) {
  int64_t H = spec->hidden;
  mlp_master m;
  master_make(&m, spec, seed);
  ttt_test_rng rng = ttt_test_rng_make(seed + 1);
  float *x = malloc(sizeof(float) * (size_t)(T_MAX * H));
  float *out = malloc(sizeof(float) * (size_t)(T_MAX * H));
  float *picked = malloc(sizeof(float) * (size_t)(N_SAMPLED * H));
  double *xs = malloc(sizeof(double) * (size_t)(N_SAMPLED * H));
  btu_fill(&rng, x, T_MAX * H, 1.0);
  for (int r = 0; r < N_SAMPLED; r++)
    for (int64_t i = 0; i < H; i++) xs[r * H + i] = x[sampled_rows[r] * H + i];
  double *ref = reference(spec, &m.w, xs, N_SAMPLED);

  ttt_dtype current = TTT_F32;
  ttt_mlp_weights w = m.w;
  for (size_t c = 0; c < n_configs; c++) {
    const real_config *rc = &configs[c];
    if (rc->weight_dtype != current) {
      weights_release(&w, &m);
      w = weights_as(&m, rc->weight_dtype);
      current = rc->weight_dtype;
    }
    ttt_mlp_impl_config impl = {.weight_dtype = rc->weight_dtype,
                                .activation_dtype = rc->q8_act ? TTT_Q8_0 : TTT_F32,
                                .threads = rc->threads,
                                .fuse_gate_up = true};
    forward(spec, &impl, &w, x, rc->T, out);
    int rows = rc->T == 1 ? 1 : N_SAMPLED;
    for (int r = 0; r < rows; r++)
      memcpy(picked + r * H, out + sampled_rows[r] * H, sizeof(float) * (size_t)H);
    char label[160];
    snprintf(label, sizeof label, "%s %s%s T%lld t%d", name, ttt_dtype_name(rc->weight_dtype),
             rc->q8_act ? "+q8act" : "", (long long)rc->T, rc->threads);
    btu_threshold th = btu_threshold_for(rc->weight_dtype);
    btu_check(&stats, rc->weight_dtype, rc->q8_act, label, picked, ref, rows * H, th);
    /* Once per threshold: perturbed references must fail (one value off by 1e-4 of the output
     * scale for f32, relative noise that drops the PCC below the threshold otherwise). */
    if (c == 0 || rc->weight_dtype != configs[c - 1].weight_dtype)
      btu_check_bites(label, picked, ref, rows * H, th, 1e-4,
                      rc->weight_dtype == TTT_F32 ? 0.01 : 0.3);
  }
  weights_release(&w, &m);
  free(x);
  free(out);
  free(picked);
  free(xs);
  free(ref);
  master_free(&m);
}

/* Decode-shaped (1 token) runs of every weight dtype, plus a 17-token prefill in f32. */
static const real_config llm_configs[] = {
    {TTT_F32, false, 1, 1},  {TTT_F32, false, T_MAX, 2}, {TTT_BF16, false, 1, 1},
    {TTT_Q8_0, false, 1, 1}, {TTT_Q8_0, true, 1, 1},
};
static const real_config llm_configs_sanitized[] = {{TTT_F32, false, 1, 2}, {TTT_Q8_0, true, 1, 2}};

#define LLM_CONFIGS (BTU_SANITIZED ? llm_configs_sanitized : llm_configs)
#define LLM_N_CONFIGS                                                                              \
  (BTU_SANITIZED ? sizeof llm_configs_sanitized / sizeof llm_configs_sanitized[0]                  \
                 : sizeof llm_configs / sizeof llm_configs[0])

static void test_real_llama3_8b(void) {
  ttt_mlp_spec spec = {
      .hidden = 4096, .intermediate = 14336, .activation = TTT_ACT_SILU, .gated = true};
  run_real("Llama-3-8B", &spec, 21, LLM_CONFIGS, LLM_N_CONFIGS);
}

static void test_real_qwen25_7b(void) {
  ttt_mlp_spec spec = {
      .hidden = 3584, .intermediate = 18944, .activation = TTT_ACT_SILU, .gated = true};
  run_real("Qwen2.5-7B", &spec, 22, LLM_CONFIGS, LLM_N_CONFIGS);
}

/* Mistral-7B's MLP has exactly Llama-3-8B's shape; one decode-shaped run with other weights. */
static void test_real_mistral_7b(void) {
  ttt_mlp_spec spec = {
      .hidden = 4096, .intermediate = 14336, .activation = TTT_ACT_SILU, .gated = true};
  const real_config configs[] = {{TTT_F32, false, 1, 2}};
  run_real("Mistral-7B", &spec, 23, configs, 1);
}

/* BERT-base is small enough for every dtype at 1 and 17 tokens, 1 and 2 threads. */
static void test_real_bert_base(void) {
  ttt_mlp_spec spec = {
      .hidden = 768, .intermediate = 3072, .activation = TTT_ACT_GELU, .bias = true};
  const real_config configs[] = {
      {TTT_F32, false, 1, 1},      {TTT_F32, false, T_MAX, 2}, {TTT_BF16, false, 1, 2},
      {TTT_BF16, false, T_MAX, 1}, {TTT_Q8_0, false, 1, 1},    {TTT_Q8_0, false, T_MAX, 2},
      {TTT_Q8_0, true, 1, 2},      {TTT_Q8_0, true, T_MAX, 1},
  };
  run_real("BERT-base", &spec, 24, configs, sizeof configs / sizeof configs[0]);
}

/* ---- the thresholds catch wrong math, not just noise ---- */

/* gelu vs its tanh approximation differ by < 1e-3: the f32 threshold must still tell them apart,
 * and a dropped bias must fail too. */
static void test_wrong_math_is_caught(void) {
  ttt_mlp_spec spec = {
      .hidden = 128, .intermediate = 256, .activation = TTT_ACT_GELU, .gated = true, .bias = true};
  mlp_master m;
  master_make(&m, &spec, 31);
  ttt_test_rng rng = ttt_test_rng_make(32);
  float x[4 * 128], out[4 * 128];
  btu_fill(&rng, x, 4 * 128, 1.0);
  double *xd = btu_doubles(x, 4 * 128);
  forward(&spec, NULL, &m.w, x, 4, out);

  ttt_mlp_spec tanh_spec = spec;
  tanh_spec.activation = TTT_ACT_GELU_TANH;
  double *wrong_act = reference(&tanh_spec, &m.w, xd, 4);
  ttt_mlp_weights no_bias = m.w;
  memset(no_bias.down_bias.data, 0, sizeof(float) * 128);
  double *wrong_bias = reference(&spec, &no_bias, xd, 4);
  ttt_compare_result res;
  double rel;
  CHECK(!btu_passes(out, wrong_act, 4 * 128, BTU_F32, &res, &rel));
  CHECK(!btu_passes(out, wrong_bias, 4 * 128, BTU_F32, &res, &rel));
  free(wrong_act);
  free(wrong_bias);
  free(xd);
  master_free(&m);
}

/* ---- argument errors ---- */

static void test_forward_errors(void) {
  ttt_mlp_spec spec = {.hidden = 64, .intermediate = 96, .activation = TTT_ACT_SILU, .gated = true};
  mlp_master m;
  master_make(&m, &spec, 41);
  float x[2 * 64], out[2 * 64];
  memset(x, 0, sizeof x);
  ttt_tensor tx = ttt_tensor_2d(TTT_F32, x, 2, 64), to = ttt_tensor_2d(TTT_F32, out, 2, 64);
  ttt_mlp_impl_config bf16 = {.weight_dtype = TTT_BF16};
  CHECK_ERR(ttt_mlp_forward(ctx, &spec, &bf16, &m.w, &tx, &to), TTT_ERR_DTYPE, "mlp.gate");
  ttt_mlp_weights w = m.w;
  w.up = btu_as(&m.w.up, TTT_BF16);
  CHECK_ERR(ttt_mlp_forward(ctx, &spec, NULL, &w, &tx, &to), TTT_ERR_DTYPE, "mlp.up");
  ttt_tensor_free(&w.up);
  w = m.w;
  w.down.shape[1] = 95;
  CHECK_ERR(ttt_mlp_forward(ctx, &spec, NULL, &w, &tx, &to), TTT_ERR_SHAPE, "mlp.down");
  w = m.w;
  w.gate = (ttt_tensor){0};
  CHECK_ERR(ttt_mlp_forward(ctx, &spec, NULL, &w, &tx, &to), TTT_ERR_INVALID_ARGUMENT,
            "mlp.gate: missing");
  w = m.w;
  w.up_bias = m.w.down; /* a bias although spec.bias is false */
  CHECK_ERR(ttt_mlp_forward(ctx, &spec, NULL, &w, &tx, &to), TTT_ERR_INVALID_ARGUMENT,
            "mlp.up_bias: given");
  ttt_mlp_impl_config q8act = {.activation_dtype = TTT_Q8_0};
  CHECK_ERR(ttt_mlp_forward(ctx, &spec, &q8act, &m.w, &tx, &to), TTT_ERR_DTYPE,
            "activation_dtype q8_0 needs weight_dtype q8_0");
  ttt_mlp_impl_config q8 = {.weight_dtype = TTT_Q8_0};
  CHECK_ERR(ttt_mlp_forward(ctx, &spec, &q8, &m.w, &tx, &to), TTT_ERR_DTYPE, "mlp.gate");
  ttt_tensor wide = ttt_tensor_2d(TTT_F32, x, 2, 63);
  CHECK_ERR(ttt_mlp_forward(ctx, &spec, NULL, &m.w, &wide, &to), TTT_ERR_SHAPE, "mlp x");
  ttt_tensor short_out = ttt_tensor_2d(TTT_F32, out, 1, 64);
  CHECK_ERR(ttt_mlp_forward(ctx, &spec, NULL, &m.w, &tx, &short_out), TTT_ERR_SHAPE, "mlp out");
  CHECK_ERR(ttt_mlp_forward(ctx, &spec, NULL, &m.w, &tx, &tx), TTT_ERR_INVALID_ARGUMENT, "overlap");
  ttt_mlp_spec bad = spec;
  bad.intermediate = 0;
  CHECK_ERR(ttt_mlp_forward(ctx, &bad, NULL, &m.w, &tx, &to), TTT_ERR_INVALID_ARGUMENT,
            "intermediate");
  master_free(&m);
}

/* Steady-state forwards reuse the scratch workspace: no allocation after the first call. */
static void test_no_allocation_after_warmup(void) {
  ttt_mlp_spec spec = {
      .hidden = 64, .intermediate = 128, .activation = TTT_ACT_SILU, .gated = true};
  mlp_master m;
  master_make(&m, &spec, 51);
  float x[17 * 64], out[17 * 64];
  memset(x, 0, sizeof x);
  forward(&spec, NULL, &m.w, x, 17, out);
  int64_t before = ttt_context_get_stats(ctx).scratch_allocations;
  for (int i = 0; i < 3; i++) forward(&spec, NULL, &m.w, x, 17, out);
  CHECK(ttt_context_get_stats(ctx).scratch_allocations == before);
  master_free(&m);
}

int main(void) {
  ctx = btu_context(2);
  if (!ctx) {
    fprintf(stderr, "cannot create a context: %s\n", ttt_last_error());
    return 1;
  }
  TTT_RUN(test_matrix_swiglu);
  TTT_RUN(test_matrix_geglu_tanh_bias);
  TTT_RUN(test_matrix_geglu_exact);
  TTT_RUN(test_matrix_plain_gelu_bias);
  TTT_RUN(test_matrix_plain_relu);
  TTT_RUN(test_real_bert_base);
  TTT_RUN(test_real_llama3_8b);
  TTT_RUN(test_real_qwen25_7b);
  TTT_RUN(test_real_mistral_7b);
  TTT_RUN(test_wrong_math_is_caught);
  TTT_RUN(test_forward_errors);
  TTT_RUN(test_no_allocation_after_warmup);
  btu_print_stats("mlp", &stats);
  ttt_context_destroy(ctx);
  return ttt_test_finish();
}
