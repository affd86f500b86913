/*
 * Tier 2 against the real reference: every causal fixture in tests/fixtures/hf (one per
 * architecture descriptor) built by the model factory must reproduce HuggingFace's prefill logits,
 * teacher-forced decode logits, full-sequence logits and every traced module output (accuracy
 * strategy, f32: max abs error <= 1e-4 and PCC >= 0.99999). The performance strategy must keep
 * each fixture's PCC and top-1 agreement on the logits above its gates below.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttt_models.h"
#include "hf_golden.h"
#include "ttt_test.h"

/* Each fixture with the performance strategy's gates on logits (PCC, top-1 agreement over the 20
 * prefill and 6 decode positions), set a little below what was measured (README, "HF golden
 * figures"); the original five keep the common gates the README claims (0.996, 95%). */
typedef struct fixture_gates {
  const char *name;
  double perf_pcc, perf_top1;
} fixture_gates;

/* qwen2moe and qwen3moe: their experts are 48 wide (not a multiple of the q8_0 block), so the
 * performance strategy runs their FFNs with bf16 weights (the core's fallback). */
static const fixture_gates fixtures[] = {
    {"llama3_tiny", 0.996, 0.95},
    {"qwen2_tiny", 0.996, 0.95},
    {"qwen3_tiny", 0.996, 0.95},
    {"mistral_tiny", 0.996, 0.95},
    {"mixtral_tiny", 0.996, 0.95},
    {"gemma_tiny", 0.9998, 0.99},
    {"gemma2_tiny", 0.9994, 0.94},
    {"gemma3_tiny", 0.9995, 0.99},
    {"phi3_tiny", 0.9992, 0.89},
    {"phi_tiny", 0.9997, 0.83},
    {"gpt2_tiny", 0.99994, 0.83},
    {"gptneox_tiny", 0.9997, 0.99},
    {"qwen2moe_tiny", 0.9993, 0.99},
    {"qwen3moe_tiny", 0.9994, 0.94},
    {"olmo2_tiny", 0.9995, 0.89},
    {"starcoder2_tiny", 0.9996, 0.83},
    {"granite_tiny", 0.99995, 0.99},
    {"cohere_tiny", 0.9996, 0.94},
    {"stablelm_tiny", 0.9995, 0.94},
    /* deepseek3_tiny (MLA in bf16: kv_lora_rank 24 is no q8_0 multiple; q8_0 experts): prefill
     * pcc 0.99956; positions 21 and 23 flip a sigmoid/group-routed expert choice under the
     * quantized weights (a full 26-token prefill deviates there by the same 1.6 as the decode
     * steps), so the decode rows measure 0.9663 pcc and 4/6 top-1. */
    {"deepseek3_tiny", 0.96, 0.66},
};

/* Observer state: compares every module output with trace.<hf module>.out. */
typedef struct trace_check {
  const ttt_hf_config *config;
  ttt_safetensors *golden;
  const char *fixture;
  int compared;
  double worst_pcc, worst_abs;
} trace_check;

static void compare_trace(void *user, const ttt_module_event *event) {
  trace_check *c = user;
  char module[128], name[200];
  if (ttt_hf_path_to_module(c->config, event->path, module, sizeof module) != TTT_OK) {
    CHECK_MSG(false, "%s: module path %s has no HF name: %s", c->fixture, event->path,
              ttt_last_error());
    return;
  }
  snprintf(name, sizeof name, "trace.%s.out", module);
  ttt_tensor expected;
  if (ttt_safetensors_get(c->golden, name, &expected) != TTT_OK) {
    CHECK_MSG(false, "%s: golden has no %s", c->fixture, name);
    return;
  }
  ttt_tensor mapped = {0}; /* HF's module boundary differs by a known map (ttt_hf_weights.h) */
  if (ttt_hf_trace_needs_map(c->config, event->path)) {
    CHECK_OK(ttt_tensor_convert(&expected, TTT_F32, &mapped));
    CHECK_OK(
        ttt_hf_trace_to_module(c->config, event->path, mapped.data, ttt_tensor_numel(&mapped)));
    expected = mapped;
  }
  ttt_compare_result r;
  CHECK_OK(ttt_compare(event->output, &expected, NULL, 1e-4, 0, &r));
  ttt_tensor_free(&mapped);
  CHECK_MSG(r.allclose && r.pcc >= 0.99999, "%s: %s (%s): pcc %.7f max abs %.3g", c->fixture,
            event->path, module, r.pcc, r.max_abs_err);
  c->compared++;
  if (r.pcc < c->worst_pcc) c->worst_pcc = r.pcc;
  if (r.max_abs_err > c->worst_abs) c->worst_abs = r.max_abs_err;
}

/* Runs prefill (with the observer) and the teacher-forced decode steps; returns the logits. */
static void run(const ttt_hf_model *m, ttt_context *ctx, const golden *g, float *prefill,
                float *decode, const ttt_observer *observer) {
  int64_t vocab = m->config.vocab_size;
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(m->lm, g->T + g->D, &cache));
  ttt_tensor out = ttt_tensor_2d(TTT_F32, prefill, g->T, vocab);
  CHECK_OK(ttt_causal_lm_prefill_forward(m->lm, ctx, cache, g->input_ids, g->T, 0, false, &out,
                                         observer));
  for (int64_t i = 0; i < g->D; i++) {
    ttt_tensor row = ttt_tensor_2d(TTT_F32, decode + i * vocab, 1, vocab);
    CHECK_OK(
        ttt_causal_lm_decode_forward(m->lm, ctx, cache, g->decode_ids[i], g->T + i, &row, NULL));
  }
  ttt_kv_cache_destroy(cache);
}

static void compare_logits(const fixture_gates *f, const char *name, ttt_safetensors *file,
                           const float *actual, int64_t rows, int64_t vocab, bool accuracy) {
  const char *fixture = f->name;
  ttt_tensor expected;
  CHECK_OK(ttt_safetensors_get(file, name, &expected));
  ttt_tensor got = ttt_tensor_2d(TTT_F32, (void *)actual, rows, vocab);
  ttt_compare_result r;
  ttt_logits_result l;
  CHECK_OK(ttt_compare(&got, &expected, NULL, 1e-4, 0, &r));
  CHECK_OK(ttt_compare_logits(&got, &expected, &l));
  if (accuracy)
    CHECK_MSG(r.allclose && r.pcc >= 0.99999, "%s %s: pcc %.7f max abs %.3g", fixture, name, r.pcc,
              r.max_abs_err);
  else
    CHECK_MSG(r.pcc >= f->perf_pcc && l.top1_agreement >= f->perf_top1,
              "%s %s: pcc %.5f top1 %.3f (gates %.4f, %.2f)", fixture, name, r.pcc,
              l.top1_agreement, f->perf_pcc, f->perf_top1);
  printf("  %-13s %-11s %-14s pcc %.7f  max abs %.2e  top1 %5.1f%%  kl %.2e\n", fixture,
         accuracy ? "accuracy" : "performance", name, r.pcc, r.max_abs_err, 100 * l.top1_agreement,
         l.mean_kl);
}

/* The golden's traced modules: every one must map to a module path and have been compared (the
 * q/k norms included), except a MoE block's shared expert and its gate, for which the core emits
 * no observer event (no fixture's golden traces them today). */
static int count_comparable_traces(const ttt_hf_model *m, ttt_safetensors *file,
                                   const char *fixture) {
  int n = 0;
  for (int64_t i = 0; i < ttt_safetensors_count(file); i++) {
    const char *name = ttt_safetensors_name(file, i);
    size_t len = strlen(name);
    if (strncmp(name, "trace.", 6) != 0 || len < 10 || strcmp(name + len - 4, ".out") != 0)
      continue;
    char module[160], path[160];
    snprintf(module, sizeof module, "%.*s", (int)(len - 10), name + 6);
    if (strstr(module, "shared_expert")) continue;
    CHECK_MSG(ttt_hf_module_to_path(&m->config, module, path, sizeof path) == TTT_OK,
              "%s: traced module %s has no module path: %s", fixture, module, ttt_last_error());
    n++;
  }
  return n;
}

/* One forward over prompt + decode tokens without a cache, against logits.full. */
static void check_full_sequence(const fixture_gates *f, const ttt_hf_model *m, ttt_context *ctx,
                                const golden *g) {
  int64_t n = g->T + g->D, vocab = m->config.vocab_size;
  int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
  float *logits = malloc(sizeof(float) * (size_t)(n * vocab));
  memcpy(ids, g->input_ids, sizeof(int32_t) * (size_t)g->T);
  memcpy(ids + g->T, g->decode_ids, sizeof(int32_t) * (size_t)g->D);
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(m->lm, n, &cache));
  ttt_tensor out = ttt_tensor_2d(TTT_F32, logits, n, vocab);
  CHECK_OK(ttt_causal_lm_prefill_forward(m->lm, ctx, cache, ids, n, 0, false, &out, NULL));
  compare_logits(f, "logits.full", g->file, logits, n, vocab, true);
  ttt_kv_cache_destroy(cache);
  free(ids);
  free(logits);
}

static void check_fixture(const fixture_gates *f, ttt_strategy strategy, ttt_context *ctx,
                          const ttt_device *device) {
  const char *fixture = f->name;
  char dir[512];
  snprintf(dir, sizeof dir, "%s/hf/%s", TTT_FIXTURES_DIR, fixture);
  ttt_hf_load_options options = {.strategy = strategy, .skip_tokenizer = true};
  ttt_hf_model *m = NULL;
  CHECK_OK(ttt_hf_model_load(dir, device, &options, &m));
  golden g;
  if (!m || !golden_open(fixture, &g)) {
    ttt_hf_model_destroy(m);
    return;
  }
  int64_t vocab = m->config.vocab_size;
  float *prefill = malloc(sizeof(float) * (size_t)(g.T * vocab));
  float *decode = malloc(sizeof(float) * (size_t)(g.D * vocab));
  bool accuracy = strategy == TTT_STRATEGY_ACCURACY;
  trace_check trace = {&m->config, g.file, fixture, 0, 1.0, 0.0};
  ttt_observer observer = {compare_trace, &trace};
  run(m, ctx, &g, prefill, decode, accuracy ? &observer : NULL);
  if (accuracy) {
    int expected = count_comparable_traces(m, g.file, fixture);
    CHECK_MSG(trace.compared == expected, "%s: %d traces compared, the golden has %d", fixture,
              trace.compared, expected);
    printf("  %-13s %-11s %d traced modules: worst pcc %.7f, worst max abs %.2e\n", fixture,
           "accuracy", trace.compared, trace.worst_pcc, trace.worst_abs);
  }
  compare_logits(f, "logits.prefill", g.file, prefill, g.T, vocab, accuracy);
  compare_logits(f, "logits.decode", g.file, decode, g.D, vocab, accuracy);
  if (accuracy) check_full_sequence(f, m, ctx, &g);
  free(prefill);
  free(decode);
  golden_close(&g);
  ttt_hf_model_destroy(m);
}

static void test_accuracy_strategy_matches_hf(void) {
  ttt_device device;
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_device_cpu(&device, 2));
  CHECK_OK(ttt_context_create(&device, &ctx));
  for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++)
    check_fixture(&fixtures[i], TTT_STRATEGY_ACCURACY, ctx, &device);
  ttt_context_destroy(ctx);
}

static void test_performance_strategy_close_to_hf(void) {
  ttt_device device;
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_device_cpu(&device, 2));
  CHECK_OK(ttt_context_create(&device, &ctx));
  for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++)
    if (fixtures[i].perf_pcc > 0)
      check_fixture(&fixtures[i], TTT_STRATEGY_PERFORMANCE, ctx, &device);
  ttt_context_destroy(ctx);
}

/* A corrupted weight must break the agreement (the thresholds bite). */
static void test_wrong_model_is_caught(void) {
  ttt_device device;
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_device_cpu(&device, 1));
  CHECK_OK(ttt_context_create(&device, &ctx));
  char dir[512];
  snprintf(dir, sizeof dir, "%s/hf/llama3_tiny", TTT_FIXTURES_DIR);
  const char *override = "layers.1.attention.weight_dtype=q8_0";
  ttt_hf_load_options options = {.overrides = &override, .n_overrides = 1, .skip_tokenizer = true};
  ttt_hf_model *m = NULL;
  CHECK_OK(ttt_hf_model_load(dir, &device, &options, &m));
  golden g;
  if (m && golden_open("llama3_tiny", &g)) {
    int64_t vocab = m->config.vocab_size;
    float *prefill = malloc(sizeof(float) * (size_t)(g.T * vocab));
    float *decode = malloc(sizeof(float) * (size_t)(g.D * vocab));
    run(m, ctx, &g, prefill, decode, NULL);
    ttt_tensor expected, got = ttt_tensor_2d(TTT_F32, prefill, g.T, vocab);
    CHECK_OK(ttt_safetensors_get(g.file, "logits.prefill", &expected));
    ttt_compare_result r;
    CHECK_OK(ttt_compare(&got, &expected, NULL, 1e-4, 0, &r));
    CHECK_MSG(!r.allclose, "q8_0 attention in layer 1 still within 1e-4 (max abs %.3g)",
              r.max_abs_err);
    free(prefill);
    free(decode);
    golden_close(&g);
  }
  ttt_hf_model_destroy(m);
  ttt_context_destroy(ctx);
}

/* Writes llama3_tiny with its embedding table in bf16 (every other weight f32) into `dir`. */
static bool write_mixed_dtype_copy(const char *dir) {
  char src[600], dst[600];
  snprintf(src, sizeof src, "%s/hf/llama3_tiny/model.safetensors", TTT_FIXTURES_DIR);
  ttt_safetensors *f = NULL;
  CHECK_OK(ttt_safetensors_open(src, &f));
  if (!f) return false;
  int64_t n = ttt_safetensors_count(f);
  ttt_named_tensor *items = calloc((size_t)n, sizeof *items);
  ttt_tensor bf16 = {0};
  for (int64_t i = 0; i < n; i++) {
    items[i].name = ttt_safetensors_name(f, i);
    CHECK_OK(ttt_safetensors_get(f, items[i].name, &items[i].tensor));
    if (strcmp(items[i].name, "model.embed_tokens.weight") != 0) continue;
    CHECK_OK(ttt_tensor_convert(&items[i].tensor, TTT_BF16, &bf16));
    items[i].tensor = bf16;
  }
  snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
  ttt_status st = ttt_safetensors_write(dst, items, n);
  CHECK_OK(st);
  ttt_tensor_free(&bf16);
  free(items);
  ttt_safetensors_close(f);
  snprintf(src, sizeof src, "cp %s/hf/llama3_tiny/config.json %s/", TTT_FIXTURES_DIR, dir);
  return st == TTT_OK && system(src) == 0;
}

static void prefill_logits(const char *dir, const ttt_hf_load_options *o, ttt_context *ctx,
                           const ttt_device *device, const int32_t *ids, int64_t T, float *out) {
  ttt_hf_model *m = NULL;
  CHECK_OK(ttt_hf_model_load(dir, device, o, &m));
  if (!m) return;
  ttt_kv_cache *cache = NULL;
  CHECK_OK(ttt_causal_lm_create_cache(m->lm, T, &cache));
  ttt_tensor logits = ttt_tensor_2d(TTT_F32, out, T, m->config.vocab_size);
  CHECK_OK(ttt_causal_lm_prefill_forward(m->lm, ctx, cache, ids, T, 0, false, &logits, NULL));
  ttt_kv_cache_destroy(cache);
  ttt_hf_model_destroy(m);
}

/* The accuracy strategy keeps every weight in its own dtype: a bf16 embedding does not cast the
 * f32 layers down (the logits equal those with every projection forced to f32). */
static void test_mixed_dtype_checkpoint(void) {
  char dir[] = "/tmp/ttt_mixed_XXXXXX";
  if (!mkdtemp(dir) || !write_mixed_dtype_copy(dir)) return;
  ttt_device device;
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_device_cpu(&device, 1));
  CHECK_OK(ttt_context_create(&device, &ctx));
  const int32_t ids[] = {1, 17, 300, 42, 5, 77, 250, 3};
  enum { T = 8, V = 512 };
  static float accuracy[T * V], forced[T * V];
  const char *f32[] = {"layers.*.attention.weight_dtype=f32", "layers.*.ffn.weight_dtype=f32",
                       "lm_head.weight_dtype=f32"};
  ttt_hf_load_options a = {.strategy = TTT_STRATEGY_ACCURACY, .skip_tokenizer = true};
  ttt_hf_load_options b = {.overrides = f32, .n_overrides = 3, .skip_tokenizer = true};
  prefill_logits(dir, &a, ctx, &device, ids, T, accuracy);
  prefill_logits(dir, &b, ctx, &device, ids, T, forced);
  double worst = 0;
  for (int i = 0; i < T * V; i++) {
    double d = fabs((double)accuracy[i] - forced[i]);
    if (d > worst) worst = d;
  }
  CHECK_MSG(worst == 0, "a bf16 embedding changed the f32 layers' logits by %.3g", worst);
  ttt_context_destroy(ctx);
  char rm[128];
  snprintf(rm, sizeof rm, "rm -rf %s", dir);
  CHECK(system(rm) == 0);
}

/* gemma3's q/k norm traces are [heads, T, head_dim]: the map moves each head's rows to token-major
 * order, refuses a count that is not heads · head_dim · T, and leaves other families alone. */
static void test_qk_norm_trace_map(void) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/hf/gemma3_tiny", TTT_FIXTURES_DIR);
  ttt_hf_config gemma, qwen;
  CHECK_OK(ttt_hf_config_load(dir, &gemma));
  snprintf(dir, sizeof dir, "%s/hf/qwen3_tiny", TTT_FIXTURES_DIR);
  CHECK_OK(ttt_hf_config_load(dir, &qwen));
  CHECK(!ttt_hf_trace_needs_map(&qwen, "layers.0.attention.q_norm"));
  CHECK(!ttt_hf_trace_needs_map(&gemma, "layers.0.attention"));
  CHECK(ttt_hf_trace_needs_map(&gemma, "layers.1.attention.k_norm"));
  enum { HEADS = 2, T = 3 }; /* k_norm: gemma3_tiny's 2 kv heads */
  int64_t hd = gemma.head_dim, n = HEADS * T * hd;
  float *v = malloc((size_t)n * sizeof *v);
  if (!v) return;
  for (int64_t i = 0; i < n; i++) v[i] = (float)i; /* HF order: [h][t][i] holds (h·T + t)·hd + i */
  CHECK_OK(ttt_hf_trace_to_module(&gemma, "layers.1.attention.k_norm", v, n));
  for (int64_t t = 0; t < T; t++)
    for (int64_t h = 0; h < HEADS; h++)
      for (int64_t i = 0; i < hd; i++)
        CHECK(v[(t * HEADS + h) * hd + i] == (float)((h * T + t) * hd + i));
  CHECK(ttt_hf_trace_to_module(&gemma, "layers.1.attention.k_norm", v, n - 1) == TTT_ERR_SHAPE);
  CHECK(strstr(ttt_last_error(), "layers.1.attention.k_norm") != NULL);
  free(v);
}

int main(void) {
  TTT_RUN(test_accuracy_strategy_matches_hf);
  TTT_RUN(test_performance_strategy_close_to_hf);
  TTT_RUN(test_wrong_model_is_caught);
  TTT_RUN(test_mixed_dtype_checkpoint);
  TTT_RUN(test_qk_norm_trace_map);
  return ttt_test_finish();
}
