/*
 * LM head against the float64 reference.
 *
 * Real dims: Mistral-7B (32000 × 4096, separate head) and BERT-base (30522 × 768, tied to the word
 * embedding table, with the MLM decoder bias). Llama-3-8B (hidden 4096) and Qwen2.5-7B (hidden
 * 3584) keep their real hidden size with the vocab cut to 16384 rows: their real 128256/152064-row
 * heads are 2.1/2.2 GB in f32, and vocab rows are independent dot products, so fewer rows test
 * the same code. The impl matrix (weight dtypes, q8_0 activations, kernels, threads, 1/17 tokens,
 * last_only, softcap) runs at reduced dims. Real-dims prefill compares 3 of 17 rows (0, 8, 16;
 * rows are independent), always including the last one that last_only returns.
 */
#include "block_test_util.h"

enum { T_MAX = 17 };

static btu_stats stats;
static ttt_context *ctx;

typedef struct head_config {
  ttt_dtype weight_dtype;
  bool q8_act;
  int64_t T;
  int32_t threads;
  bool last_only;
} head_config;

static void forward(const ttt_lm_head_spec *spec, const ttt_lm_head_impl_config *impl,
                    const ttt_lm_head_weights *w, float *x, int64_t T, bool last_only, float *out) {
  ttt_tensor tx = ttt_tensor_2d(TTT_F32, x, T, spec->hidden);
  ttt_tensor to = ttt_tensor_2d(TTT_F32, out, last_only ? 1 : T, spec->vocab);
  CHECK_OK(ttt_lm_head_forward(ctx, spec, impl, w, &tx, last_only, &to));
}

static const int64_t sampled_rows[] = {0, 8, 16};

/* Runs configs on one head; the reference covers rows 0, 8 and 16 of x. */
static void run_real(const char *name, const ttt_lm_head_spec *spec,
                     const ttt_lm_head_weights *master, uint64_t seed, const head_config *configs,
                     size_t n_configs) {
  int64_t H = spec->hidden, V = spec->vocab;
  ttt_test_rng rng = ttt_test_rng_make(seed);
  float *x = malloc(sizeof(float) * (size_t)(T_MAX * H));
  float *out = malloc(sizeof(float) * (size_t)(T_MAX * V));
  float *picked = malloc(sizeof(float) * (size_t)(3 * V));
  double *xs = malloc(sizeof(double) * (size_t)(3 * H));
  double *ref = malloc(sizeof(double) * (size_t)(3 * V));
  btu_fill(&rng, x, T_MAX * H, 1.0);
  for (int r = 0; r < 3; r++)
    for (int64_t i = 0; i < H; i++) xs[r * H + i] = x[sampled_rows[r] * H + i];
  CHECK_OK(ttt_reference_lm_head(spec, master, xs, 3, ref));
  ttt_lm_head_weights w = *master; /* converted once per run of equal dtypes in configs */
  for (size_t c = 0; c < n_configs; c++) {
    const head_config *hc = &configs[c];
    if (hc->weight_dtype != w.weight.dtype) {
      btu_release(&w.weight, &master->weight);
      w.weight = btu_as(&master->weight, hc->weight_dtype);
    }
    ttt_lm_head_impl_config impl = {.weight_dtype = hc->weight_dtype,
                                    .activation_dtype = hc->q8_act ? TTT_Q8_0 : TTT_F32,
                                    .threads = hc->threads};
    forward(spec, &impl, &w, x, hc->T, hc->last_only, out);
    /* Which reference rows the output holds: T 1 → row 0; last_only of 17 → row 16. */
    const double *expected = ref;
    int rows = 3;
    if (hc->T == 1 || hc->last_only) {
      rows = 1;
      expected = hc->T == 1 ? ref : ref + 2 * V;
      memcpy(picked, out, sizeof(float) * (size_t)V);
    } else {
      for (int r = 0; r < 3; r++)
        memcpy(picked + r * V, out + sampled_rows[r] * V, sizeof(float) * (size_t)V);
    }
    char label[160];
    snprintf(label, sizeof label, "%s %s%s T%lld t%d%s", name, ttt_dtype_name(hc->weight_dtype),
             hc->q8_act ? "+q8act" : "", (long long)hc->T, hc->threads,
             hc->last_only ? " last_only" : "");
    btu_threshold th = btu_threshold_for(hc->weight_dtype);
    btu_check(&stats, hc->weight_dtype, hc->q8_act, label, picked, expected, rows * V, th);
    if (c == 0 || hc->weight_dtype != configs[c - 1].weight_dtype)
      btu_check_bites(label, picked, expected, rows * V, th, 1e-4,
                      hc->weight_dtype == TTT_F32 ? 0.01 : 0.3);
  }
  btu_release(&w.weight, &master->weight);
  free(x);
  free(out);
  free(picked);
  free(xs);
  free(ref);
}

static const head_config llm_configs[] = {
    {TTT_F32, false, 1, 1, false},     {TTT_F32, false, T_MAX, 2, true},
    {TTT_F32, false, T_MAX, 2, false}, {TTT_BF16, false, 1, 1, false},
    {TTT_Q8_0, false, 1, 2, false},    {TTT_Q8_0, true, T_MAX, 1, true},
};
static const head_config llm_configs_sanitized[] = {{TTT_F32, false, T_MAX, 2, true},
                                                    {TTT_Q8_0, true, 1, 2, false}};
#define LLM_CONFIGS (BTU_SANITIZED ? llm_configs_sanitized : llm_configs)
#define LLM_N_CONFIGS                                                                              \
  (BTU_SANITIZED ? sizeof llm_configs_sanitized / sizeof llm_configs_sanitized[0]                  \
                 : sizeof llm_configs / sizeof llm_configs[0])

/* Heads with a cut vocab: their real hidden size in f32 decode/prefill and in the performance
 * strategy (q8_0 weights and activations); the other dtypes run on the Mistral head above. */
static const head_config cut_configs[] = {{TTT_F32, false, 1, 1, false},
                                          {TTT_F32, false, T_MAX, 2, false},
                                          {TTT_Q8_0, true, T_MAX, 2, true}};

static void run_llm(const char *name, int64_t hidden, int64_t vocab, uint64_t seed,
                    const head_config *configs, size_t n_configs) {
  ttt_lm_head_spec spec = {.hidden = hidden, .vocab = vocab};
  ttt_test_rng rng = ttt_test_rng_make(seed);
  ttt_lm_head_weights w = {.weight = btu_matrix(&rng, vocab, hidden, 1.0 / sqrt((double)hidden))};
  run_real(name, &spec, &w, seed + 1, configs, n_configs);
  ttt_tensor_free(&w.weight);
}

static void test_real_mistral_7b(void) {
  run_llm("Mistral-7B 32000x4096", 4096, 32000, 400, LLM_CONFIGS, LLM_N_CONFIGS);
}
static void test_llama3_8b_hidden(void) {
  run_llm("Llama-3-8B 16384(cut)x4096", 4096, 16384, 410, cut_configs, 3);
}
static void test_qwen25_7b_hidden(void) {
  run_llm("Qwen2.5-7B 16384(cut)x3584", 3584, 16384, 420, cut_configs, 3);
}

/* BERT-base: the head is tied to the word embedding table (same tensor, no copy) with a bias. */
static void test_real_bert_tied(void) {
  ttt_embedding_spec emb = {.vocab = 30522, .dim = 768};
  ttt_lm_head_spec spec = {.hidden = 768, .vocab = 30522, .bias = true};
  ttt_test_rng rng = ttt_test_rng_make(430);
  ttt_embedding_weights table = {.table = btu_matrix(&rng, emb.vocab, emb.dim, 1.0 / sqrt(768.0))};
  ttt_lm_head_weights tied = {.weight = table.table, .bias = btu_vector(&rng, spec.vocab, 0.1)};
  const head_config configs[] = {
      {TTT_F32, false, 1, 1, false},      {TTT_F32, false, T_MAX, 2, false},
      {TTT_BF16, false, T_MAX, 1, false}, {TTT_BF16, false, 1, 2, false},
      {TTT_Q8_0, false, T_MAX, 2, true},  {TTT_Q8_0, true, T_MAX, 2, false},
  };
  run_real("BERT-base tied", &spec, &tied, 431, configs, sizeof configs / sizeof configs[0]);
  /* Tied means the logit of token v is <x, embedding(v)> + b[v]: check it for two tokens. */
  int32_t ids[2] = {0, 30521};
  float rows[2 * 768], x[768], logits[30522];
  ttt_tensor trows = ttt_tensor_2d(TTT_F32, rows, 2, 768);
  CHECK_OK(ttt_embedding_forward(ctx, &emb, NULL, &table, ids, 2, false, &trows));
  btu_fill(&rng, x, 768, 1.0);
  forward(&spec, NULL, &tied, x, 1, true, logits);
  for (int k = 0; k < 2; k++) {
    double dot = ((const float *)tied.bias.data)[ids[k]];
    for (int i = 0; i < 768; i++) dot += (double)x[i] * rows[k * 768 + i];
    CHECK_MSG(fabs(logits[ids[k]] - dot) <= 1e-4, "tied logit %d: %g vs %g", ids[k], logits[ids[k]],
              dot);
  }
  ttt_tensor_free(&table.table);
  ttt_tensor_free(&tied.bias);
}

/* The impl matrix at reduced dims, with and without softcap (Gemma 2 uses 30) and bias. */
static void run_matrix(const ttt_lm_head_spec *spec, uint64_t seed) {
  int64_t H = spec->hidden, V = spec->vocab;
  ttt_test_rng rng = ttt_test_rng_make(seed);
  ttt_lm_head_weights master = {.weight = btu_matrix(&rng, V, H, 1.0 / sqrt((double)H))};
  if (spec->bias) master.bias = btu_vector(&rng, V, 0.5);
  float *x = malloc(sizeof(float) * (size_t)(T_MAX * H));
  /* Large inputs so logits reach the softcap's non-linear range. */
  btu_fill(&rng, x, T_MAX * H, spec->softcap > 0 ? 20.0 : 1.0);
  double *xd = btu_doubles(x, T_MAX * H);
  double *ref = malloc(sizeof(double) * (size_t)(T_MAX * V));
  double *same = malloc(sizeof(double) * (size_t)(T_MAX * V));
  float *out = malloc(sizeof(float) * (size_t)(T_MAX * V));
  CHECK_OK(ttt_reference_lm_head(spec, &master, xd, T_MAX, ref));
  const ttt_dtype dtypes[] = {TTT_F32, TTT_BF16, TTT_Q8_0};
  for (size_t d = 0; d < 3; d++) {
    ttt_lm_head_weights w = master;
    w.weight = btu_as(&master.weight, dtypes[d]);
    CHECK_OK(ttt_reference_lm_head(spec, &w, xd, T_MAX, same));
    for (int q8_act = 0; q8_act <= (dtypes[d] == TTT_Q8_0); q8_act++)
      for (int kernel = TTT_KERNEL_REFERENCE; kernel <= TTT_KERNEL_SIMD; kernel++)
        for (int32_t threads = 1; threads <= 2; threads++)
          for (int64_t T = 1; T <= T_MAX; T += T_MAX - 1)
            for (int last = 0; last <= (T > 1); last++) {
              ttt_lm_head_impl_config impl = {.weight_dtype = dtypes[d],
                                              .activation_dtype = q8_act ? TTT_Q8_0 : TTT_F32,
                                              .kernel = (ttt_kernel)kernel,
                                              .threads = threads};
              forward(spec, &impl, &w, x, T, last, out);
              int64_t first_row = last ? T - 1 : 0, rows = last ? 1 : T;
              char label[160];
              snprintf(label, sizeof label, "head %lldx%lld cap %g %s%s %s t%d T%lld%s",
                       (long long)V, (long long)H, (double)spec->softcap, ttt_dtype_name(dtypes[d]),
                       q8_act ? "+q8act" : "", ttt_kernel_name(impl.kernel), threads, (long long)T,
                       last ? " last_only" : "");
              btu_check(&stats, dtypes[d], q8_act, label, out, ref + first_row * V, rows * V,
                        btu_threshold_for(dtypes[d]));
              btu_check(NULL, dtypes[d], q8_act, label, out, same + first_row * V, rows * V,
                        q8_act ? BTU_Q8_ACT_SAME_WEIGHTS : BTU_F32);
            }
    btu_release(&w.weight, &master.weight);
  }
  /* Defaults per mode; the f32 output must not match a reference that skips the softcap. */
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 2));
  ttt_lm_head_impl_config modes[2] = {
      ttt_lm_head_default_impl_config(&device, TTT_MODE_PREFILL, spec),
      ttt_lm_head_default_impl_config(&device, TTT_MODE_DECODE, spec)};
  for (int m = 0; m < 2; m++) {
    forward(spec, &modes[m], &master, x, T_MAX, m == 1, out);
    btu_check(&stats, TTT_F32, false, "defaults", out, ref + (m == 1 ? (T_MAX - 1) * V : 0),
              (m == 1 ? 1 : T_MAX) * V, BTU_F32);
  }
  if (spec->scale != 0.0f) { /* nor one that skips the scale */
    ttt_lm_head_spec unscaled = *spec;
    unscaled.scale = 0.0f;
    CHECK_OK(ttt_reference_lm_head(&unscaled, &master, xd, T_MAX, same));
    forward(spec, NULL, &master, x, T_MAX, false, out);
    ttt_compare_result res;
    double rel;
    CHECK(!btu_passes(out, same, T_MAX * V, BTU_F32, &res, &rel));
  }
  if (spec->softcap > 0) {
    ttt_lm_head_spec uncapped = *spec;
    uncapped.softcap = 0;
    CHECK_OK(ttt_reference_lm_head(&uncapped, &master, xd, T_MAX, same));
    forward(spec, NULL, &master, x, T_MAX, false, out);
    ttt_compare_result res;
    double rel;
    CHECK(!btu_passes(out, same, T_MAX * V, BTU_F32, &res, &rel));
  }
  ttt_tensor_free(&master.weight);
  ttt_tensor_free(&master.bias);
  free(x);
  free(xd);
  free(ref);
  free(same);
  free(out);
}

static void test_matrix(void) {
  ttt_lm_head_spec plain = {.hidden = 256, .vocab = 1000};
  ttt_lm_head_spec capped = {.hidden = 128, .vocab = 515, .bias = true, .softcap = 30.0f};
  /* a logit scale alone (Cohere's logit_scale), and before a softcap (Granite-like 1/8) */
  ttt_lm_head_spec scaled = {.hidden = 64, .vocab = 300, .scale = 0.0625f};
  ttt_lm_head_spec scaled_capped = {.hidden = 64, .vocab = 300, .scale = 8.0f, .softcap = 30.0f};
  run_matrix(&plain, 440);
  run_matrix(&capped, 441);
  run_matrix(&scaled, 442);
  run_matrix(&scaled_capped, 443);
}

static void test_errors(void) {
  ttt_lm_head_spec spec = {.hidden = 32, .vocab = 10};
  float w[10 * 32] = {0}, x[2 * 32] = {0}, out[2 * 10];
  ttt_lm_head_weights weights = {.weight = ttt_tensor_2d(TTT_F32, w, 10, 32)};
  ttt_tensor tx = ttt_tensor_2d(TTT_F32, x, 2, 32), to = ttt_tensor_2d(TTT_F32, out, 2, 10);
  ttt_tensor one = ttt_tensor_2d(TTT_F32, out, 1, 10);
  CHECK_OK(ttt_lm_head_forward(ctx, &spec, NULL, &weights, &tx, false, &to));
  CHECK_OK(ttt_lm_head_forward(ctx, &spec, NULL, &weights, &tx, true, &one));
  CHECK_ERR(ttt_lm_head_forward(ctx, &spec, NULL, &weights, &tx, true, &to), TTT_ERR_SHAPE,
            "lm_head out (last_only): shape must be [1, 10]");
  CHECK_ERR(ttt_lm_head_forward(ctx, &spec, NULL, &weights, &tx, false, &one), TTT_ERR_SHAPE,
            "lm_head out");
  ttt_lm_head_impl_config q8 = {.weight_dtype = TTT_Q8_0};
  CHECK_ERR(ttt_lm_head_forward(ctx, &spec, &q8, &weights, &tx, false, &to), TTT_ERR_DTYPE,
            "lm_head.weight: dtype f32, expected q8_0");
  ttt_lm_head_spec with_bias = spec;
  with_bias.bias = true;
  CHECK_ERR(ttt_lm_head_forward(ctx, &with_bias, NULL, &weights, &tx, false, &to),
            TTT_ERR_INVALID_ARGUMENT, "lm_head.bias: missing");
  ttt_lm_head_weights bad = weights;
  bad.weight = ttt_tensor_2d(TTT_F32, w, 9, 32);
  CHECK_ERR(ttt_lm_head_forward(ctx, &spec, NULL, &bad, &tx, false, &to), TTT_ERR_SHAPE,
            "lm_head.weight");
}

int main(void) {
  ctx = btu_context(2);
  if (!ctx) {
    fprintf(stderr, "cannot create a context: %s\n", ttt_last_error());
    return 1;
  }
  TTT_RUN(test_matrix);
  TTT_RUN(test_real_bert_tied);
  TTT_RUN(test_real_mistral_7b);
  TTT_RUN(test_llama3_8b_hidden);
  TTT_RUN(test_qwen25_7b_hidden);
  TTT_RUN(test_errors);
  btu_print_stats("lm_head", &stats);
  ttt_context_destroy(ctx);
  return ttt_test_finish();
}
