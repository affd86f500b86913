/*
 * Tier 2 against the real reference: every causal fixture in tests/fixtures/hf (llama3, qwen2,
 * qwen3, mistral, mixtral) built by the model factory must reproduce HuggingFace's prefill logits,
 * teacher-forced decode logits and every traced module output (accuracy strategy, f32:
 * max abs error <= 1e-4 and PCC >= 0.99999). The performance strategy must keep PCC >= 0.996 and
 * top-1 agreement >= 95% on the logits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttt_models.h"
#include "ttt_test.h"

static const char *const fixtures[] = {"llama3_tiny", "qwen2_tiny", "qwen3_tiny", "mistral_tiny",
                                       "mixtral_tiny"};

typedef struct golden {
  ttt_safetensors *file;
  int32_t *input_ids, *decode_ids;
  int64_t T, D;
} golden;

static int32_t *read_ids(ttt_safetensors *file, const char *name, int64_t *n) {
  ttt_tensor t;
  if (ttt_safetensors_get(file, name, &t) != TTT_OK) return NULL;
  *n = ttt_tensor_numel(&t);
  int32_t *ids = malloc((size_t)*n * sizeof *ids);
  for (int64_t i = 0; i < *n; i++) ids[i] = (int32_t)ttt_tensor_get(&t, i);
  return ids;
}

static bool golden_open(const char *fixture, golden *g) {
  char path[512];
  snprintf(path, sizeof path, "%s/hf/%s/golden.safetensors", TTT_FIXTURES_DIR, fixture);
  memset(g, 0, sizeof *g);
  CHECK_OK(ttt_safetensors_open(path, &g->file));
  if (!g->file) return false;
  g->input_ids = read_ids(g->file, "input_ids", &g->T);
  g->decode_ids = read_ids(g->file, "decode_ids", &g->D);
  CHECK(g->input_ids && g->decode_ids);
  return g->input_ids && g->decode_ids;
}

static void golden_close(golden *g) {
  free(g->input_ids);
  free(g->decode_ids);
  ttt_safetensors_close(g->file);
}

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
  ttt_compare_result r;
  CHECK_OK(ttt_compare(event->output, &expected, NULL, 1e-4, 0, &r));
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

static void compare_logits(const char *fixture, const char *name, ttt_safetensors *file,
                           const float *actual, int64_t rows, int64_t vocab, bool accuracy) {
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
    CHECK_MSG(r.pcc >= 0.996 && l.top1_agreement >= 0.95, "%s %s: pcc %.5f top1 %.3f", fixture,
              name, r.pcc, l.top1_agreement);
  printf("  %-13s %-11s %-14s pcc %.7f  max abs %.2e  top1 %5.1f%%  kl %.2e\n", fixture,
         accuracy ? "accuracy" : "performance", name, r.pcc, r.max_abs_err, 100 * l.top1_agreement,
         l.mean_kl);
}

static void check_fixture(const char *fixture, ttt_strategy strategy, ttt_context *ctx,
                          const ttt_device *device) {
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
    /* embedding + 5 modules per layer + norm + lm_head */
    CHECK_MSG(trace.compared == 3 + 5 * (int)m->config.num_hidden_layers, "%s: %d traces compared",
              fixture, trace.compared);
    printf("  %-13s %-11s %d traced modules: worst pcc %.7f, worst max abs %.2e\n", fixture,
           "accuracy", trace.compared, trace.worst_pcc, trace.worst_abs);
  }
  compare_logits(fixture, "logits.prefill", g.file, prefill, g.T, vocab, accuracy);
  compare_logits(fixture, "logits.decode", g.file, decode, g.D, vocab, accuracy);
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
    check_fixture(fixtures[i], TTT_STRATEGY_ACCURACY, ctx, &device);
  ttt_context_destroy(ctx);
}

static void test_performance_strategy_close_to_hf(void) {
  ttt_device device;
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_device_cpu(&device, 2));
  CHECK_OK(ttt_context_create(&device, &ctx));
  for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++)
    check_fixture(fixtures[i], TTT_STRATEGY_PERFORMANCE, ctx, &device);
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

int main(void) {
  TTT_RUN(test_accuracy_strategy_matches_hf);
  TTT_RUN(test_performance_strategy_close_to_hf);
  TTT_RUN(test_wrong_model_is_caught);
  return ttt_test_finish();
}
