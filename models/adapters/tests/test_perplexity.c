/*
 * Perplexity on kjv-llama against models/kjv-llama/golden_perplexity.json (computed by HF
 * transformers with the file's `definition`): ids mode (the exact id list) and text mode (the text
 * tokenized with BOS, which must equal the file's text_ids) at ctx 512 and 128 — perplexity within
 * 0.1% and the same number of predicted tokens. The performance strategy (q8_0 weights and
 * activations, bf16 KV cache) stays within 2% of HF's perplexity (issue 10). Plus argument errors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ttt_models.h"
#include "ttt_perplexity.h"
#include "ttt_test.h"

static ttt_hf_model *model;
static ttt_context *ctx;
static cJSON *golden;

/* A JSON array of integers → malloc'd int32 array. */
static int32_t *json_ids(const cJSON *array, int64_t *n) {
  *n = cJSON_GetArraySize(array);
  int32_t *ids = malloc((size_t)*n * sizeof *ids);
  int64_t i = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, array) ids[i++] = (int32_t)item->valuedouble;
  return ids;
}

static void check_result(const cJSON *result, const int32_t *ids, int64_t n) {
  const char *mode = cJSON_GetObjectItem(result, "mode")->valuestring;
  int64_t window = (int64_t)cJSON_GetObjectItem(result, "ctx")->valuedouble;
  double want_ppl = cJSON_GetObjectItem(result, "perplexity")->valuedouble;
  double want_nll = cJSON_GetObjectItem(result, "mean_nll")->valuedouble;
  int64_t want_tokens = (int64_t)cJSON_GetObjectItem(result, "predicted_tokens")->valuedouble;
  ttt_perplexity_result got = {0};
  CHECK_OK(ttt_perplexity_compute(model->lm, ctx, ids, n, window, NULL, NULL, &got));
  double rel = fabs(got.perplexity - want_ppl) / want_ppl;
  printf("  %s ctx %lld: perplexity %.6f (HF %.6f, rel err %.2e), mean NLL %.6f (HF %.6f), %lld "
         "tokens\n",
         mode, (long long)window, got.perplexity, want_ppl, rel, got.mean_nll, want_nll,
         (long long)got.predicted_tokens);
  CHECK_MSG(rel < 1e-3, "%s ctx %lld: perplexity %.6f vs golden %.6f", mode, (long long)window,
            got.perplexity, want_ppl);
  CHECK(got.predicted_tokens == want_tokens);
}

static void test_golden_results(void) {
  int64_t n_ids = 0, n_text_ids = 0, n_encoded = 0;
  int32_t *ids = json_ids(cJSON_GetObjectItem(golden, "ids"), &n_ids);
  int32_t *text_ids = json_ids(cJSON_GetObjectItem(golden, "text_ids"), &n_text_ids);
  const char *text = cJSON_GetObjectItem(golden, "text")->valuestring;
  /* Text mode tokenizes with BOS, as the CLI does: it must give the golden text_ids. */
  int32_t *encoded = NULL;
  CHECK_OK(ttt_tokenizer_encode(model->tokenizer, text, strlen(text), true, &encoded, &n_encoded));
  CHECK(n_encoded == n_text_ids && encoded &&
        memcmp(encoded, text_ids, (size_t)n_text_ids * sizeof *encoded) == 0);
  int checked = 0;
  const cJSON *result;
  cJSON_ArrayForEach(result, cJSON_GetObjectItem(golden, "results")) {
    bool text_mode = strcmp(cJSON_GetObjectItem(result, "mode")->valuestring, "text") == 0;
    if (text_mode && encoded)
      check_result(result, encoded, n_encoded);
    else if (!text_mode)
      check_result(result, ids, n_ids);
    checked++;
  }
  CHECK(checked == 4);
  free(encoded);
  free(ids);
  free(text_ids);
}

/* ids mode, ctx 512, with the performance strategy: within 2% of HF's (bf16-checkpoint) value. */
static void test_performance_strategy_within_2_percent(void) {
  ttt_device device;
  ttt_hf_model *fast = NULL;
  CHECK_OK(ttt_device_cpu(&device, 0));
  ttt_hf_load_options options = {.strategy = TTT_STRATEGY_PERFORMANCE, .skip_tokenizer = true};
  CHECK_OK(ttt_hf_model_load(TTT_MODELS_DIR "/kjv-llama", &device, &options, &fast));
  const cJSON *result = cJSON_GetArrayItem(cJSON_GetObjectItem(golden, "results"), 0);
  CHECK(fast && result);
  if (!fast || !result) {
    ttt_hf_model_destroy(fast);
    return;
  }
  CHECK(strcmp(cJSON_GetObjectItem(result, "mode")->valuestring, "ids") == 0);
  int64_t n = 0, window = (int64_t)cJSON_GetObjectItem(result, "ctx")->valuedouble;
  double want = cJSON_GetObjectItem(result, "perplexity")->valuedouble;
  int32_t *ids = json_ids(cJSON_GetObjectItem(golden, "ids"), &n);
  ttt_perplexity_result got = {0};
  CHECK_OK(ttt_perplexity_compute(fast->lm, ctx, ids, n, window, NULL, NULL, &got));
  double rel = fabs(got.perplexity - want) / want;
  printf("  performance strategy, ids ctx %lld: perplexity %.6f (HF %.6f, rel diff %.2e)\n",
         (long long)window, got.perplexity, want, rel);
  CHECK_MSG(rel < 0.02, "performance perplexity %.6f vs %.6f", got.perplexity, want);
  free(ids);
  ttt_hf_model_destroy(fast);
}

static void test_errors(void) {
  const int32_t ids[4] = {0, 5, 9, 4096};
  ttt_perplexity_result r;
  CHECK_ERR(ttt_perplexity_compute(model->lm, ctx, ids, 3, 513, NULL, NULL, &r),
            TTT_ERR_INVALID_ARGUMENT, "window (513)");
  CHECK_ERR(ttt_perplexity_compute(model->lm, ctx, ids, 1, 0, NULL, NULL, &r),
            TTT_ERR_INVALID_ARGUMENT, "no token to predict");
  CHECK_ERR(ttt_perplexity_compute(model->lm, ctx, ids, 4, 0, NULL, NULL, &r), TTT_ERR_OUT_OF_RANGE,
            "index 3");
}

/* Windows are independent: two copies of a window score exactly like one. */
static void test_windows_independent(void) {
  const int32_t one[6] = {0, 298, 260, 343, 390, 322};
  int32_t two[12];
  memcpy(two, one, sizeof one);
  memcpy(two + 6, one, sizeof one);
  ttt_perplexity_result a = {0}, b = {0};
  CHECK_OK(ttt_perplexity_compute(model->lm, ctx, one, 6, 6, NULL, NULL, &a));
  CHECK_OK(ttt_perplexity_compute(model->lm, ctx, two, 12, 6, NULL, NULL, &b));
  CHECK(a.predicted_tokens == 5 && b.predicted_tokens == 10 && b.windows == 2);
  CHECK_MSG(fabs(a.mean_nll - b.mean_nll) < 1e-9, "%.9f vs %.9f", a.mean_nll, b.mean_nll);
}

int main(void) {
  ttt_device device;
  char *json = ttt_test_read_file(TTT_MODELS_DIR "/kjv-llama/golden_perplexity.json", NULL);
  golden = json ? cJSON_Parse(json) : NULL;
  free(json);
  if (!golden || ttt_device_cpu(&device, 0) != TTT_OK || ttt_context_create(&device, &ctx) ||
      ttt_hf_model_load(TTT_MODELS_DIR "/kjv-llama", &device, &(ttt_hf_load_options){0}, &model)) {
    fprintf(stderr, "setup failed: %s\n", ttt_last_error());
    return 1;
  }
  TTT_RUN(test_golden_results);
  TTT_RUN(test_performance_strategy_within_2_percent);
  TTT_RUN(test_errors);
  TTT_RUN(test_windows_independent);
  ttt_hf_model_destroy(model);
  ttt_context_destroy(ctx);
  cJSON_Delete(golden);
  return ttt_test_finish();
}
