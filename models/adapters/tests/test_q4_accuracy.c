/*
 * Accuracy of the q4_0 recipe (ttt_quant_recipe: q4_0 attention, MLP and LM-head weights with q8_0
 * activations, on the performance strategy) against HuggingFace: prefill and teacher-forced decode
 * logits of every causal fixture in tests/fixtures/hf (PCC and top-1 agreement), and kjv-llama's
 * perplexity against its HF golden. The gates sit just below the values measured when the recipe
 * was added (printed by this test; see README "4-bit weights"), so a regression in the q4_0 format,
 * its kernels or the recipe shows up; q8_0 figures are printed beside them for comparison.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hf_golden.h"
#include "ttt_models.h"
#include "ttt_perplexity.h"
#include "ttt_quantize.h"
#include "ttt_test.h"

typedef struct fixture_gate {
  const char *name;
  double min_pcc;  /* over prefill and decode logits */
  double min_top1; /* fraction of rows whose argmax agrees with HF */
} fixture_gate;

/* Measured (AMD EPYC, AVX-512 VNNI kernels, 2 threads) with q4_0's scale search (ttt/core.h),
 * prefill + decode logits (26 rows each):
 *   llama3_tiny  pcc 0.94910 top1 42.3%   qwen2_tiny  pcc 0.95648 top1 57.7%
 *   qwen3_tiny   pcc 0.96052 top1 61.5%   mistral_tiny pcc 0.95527 top1 65.4%
 *   mixtral_tiny pcc 0.94437 top1 69.2%   (q8_0: pcc >= 0.996, top1 96.2% on all five)
 * With the absmax rule alone they were 0.95384 / 42.3%, 0.93581 / 57.7%, 0.95917 / 57.7%,
 * 0.95131 / 50.0% and 0.92728 / 50.0%. These fixtures have random weights and near-flat logits,
 * where 4-bit rounding moves many argmaxes; the gates allow ~0.005 PCC and one row of top-1 below
 * the measurement (other ISAs sum in another order). kjv-llama, a trained model, is the meaningful
 * accuracy figure (perplexity below). */
static const fixture_gate gates[] = {
    {"llama3_tiny", 0.944, 0.38},  {"qwen2_tiny", 0.951, 0.53},   {"qwen3_tiny", 0.955, 0.57},
    {"mistral_tiny", 0.950, 0.61}, {"mixtral_tiny", 0.939, 0.65},
};
/* kjv-llama, ids mode, ctx 512: |ppl − HF| / HF; measured 0.0066 (19.504 vs HF 19.377; 0.0156,
 * 19.678, with the absmax rule alone; the q8_0 performance strategy is gated at 0.02 in
 * test_perplexity). */
static const double max_perplexity_rel = 0.009;

static ttt_hf_model *load(const char *dir, ttt_dtype dtype, const ttt_device *device) {
  const char *const *recipe;
  int32_t n;
  CHECK_OK(ttt_quant_recipe(dtype, &recipe, &n));
  ttt_hf_load_options o = {.strategy = TTT_STRATEGY_PERFORMANCE,
                           .overrides = recipe,
                           .n_overrides = n,
                           .skip_tokenizer = true};
  ttt_hf_model *m = NULL;
  CHECK_OK(ttt_hf_model_load(dir, device, &o, &m));
  return m;
}

static void test_fixtures(void) {
  ttt_device device;
  CHECK_OK(ttt_device_cpu(&device, 2));
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_context_create(&device, &ctx));
  for (size_t i = 0; i < sizeof gates / sizeof gates[0]; i++) {
    golden g;
    if (!golden_open(gates[i].name, &g)) continue;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/hf/%s", TTT_FIXTURES_DIR, gates[i].name);
    double pcc[2] = {0}, top1[2] = {0};
    const ttt_dtype dtypes[2] = {TTT_Q4_0, TTT_Q8_0};
    for (int d = 0; d < 2; d++) {
      ttt_hf_model *m = load(dir, dtypes[d], &device);
      if (m) golden_logits_agreement(m, ctx, &g, &pcc[d], &top1[d]);
      ttt_hf_model_destroy(m);
    }
    printf("  %-13s q4_0: pcc %.5f top1 %5.1f%%   (q8_0: pcc %.5f top1 %5.1f%%)\n", gates[i].name,
           pcc[0], 100 * top1[0], pcc[1], 100 * top1[1]);
    CHECK_MSG(pcc[0] >= gates[i].min_pcc && top1[0] >= gates[i].min_top1,
              "%s q4_0: pcc %.5f (gate %.5f), top1 %.3f (gate %.3f)", gates[i].name, pcc[0],
              gates[i].min_pcc, top1[0], gates[i].min_top1);
    golden_close(&g);
  }
  ttt_context_destroy(ctx);
}

static void test_kjv_perplexity(void) {
  char *json = ttt_test_read_file(TTT_MODELS_DIR "/kjv-llama/golden_perplexity.json", NULL);
  cJSON *expected = json ? cJSON_Parse(json) : NULL;
  free(json);
  const cJSON *result = cJSON_GetArrayItem(cJSON_GetObjectItem(expected, "results"), 0);
  CHECK(result && strcmp(cJSON_GetObjectItem(result, "mode")->valuestring, "ids") == 0);
  ttt_device device;
  ttt_context *ctx = NULL;
  CHECK_OK(ttt_device_cpu(&device, 2));
  CHECK_OK(ttt_context_create(&device, &ctx));
  ttt_hf_model *m = load(TTT_MODELS_DIR "/kjv-llama", TTT_Q4_0, &device);
  if (result && m) {
    const cJSON *array = cJSON_GetObjectItem(expected, "ids");
    int64_t n = cJSON_GetArraySize(array), i = 0;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    const cJSON *item;
    cJSON_ArrayForEach(item, array) ids[i++] = (int32_t)item->valuedouble;
    int64_t window = (int64_t)cJSON_GetObjectItem(result, "ctx")->valuedouble;
    double want = cJSON_GetObjectItem(result, "perplexity")->valuedouble;
    ttt_perplexity_result got = {0};
    CHECK_OK(ttt_perplexity_compute(m->lm, ctx, ids, n, window, NULL, NULL, &got));
    double rel = fabs(got.perplexity - want) / want;
    printf("  kjv-llama q4_0, ids ctx %lld: perplexity %.4f (HF %.4f, rel diff %.4f)\n",
           (long long)window, got.perplexity, want, rel);
    CHECK_MSG(rel <= max_perplexity_rel, "q4_0 perplexity %.4f vs HF %.4f (rel %.4f > %.4f)",
              got.perplexity, want, rel, max_perplexity_rel);
    free(ids);
  }
  ttt_hf_model_destroy(m);
  ttt_context_destroy(ctx);
  cJSON_Delete(expected);
}

int main(void) {
  TTT_RUN(test_fixtures);
  TTT_RUN(test_kjv_perplexity);
  return ttt_test_finish();
}
