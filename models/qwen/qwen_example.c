/*
 * qwen_example: a model owner's path for Qwen3, in a few dozen lines.
 *
 *   1. build the model from a HuggingFace folder, overriding one module's impl config
 *      (layer 1's feed-forward keeps bf16 weights);
 *   2. run it: prefill a prompt, then greedy decode a few tokens;
 *   3. validate every module and the logits against the folder's golden.safetensors, with
 *      thresholds that allow for bf16 weights in one FFN (PCC >= 0.9999).
 *
 *   qwen_example tests/fixtures/hf/qwen3_tiny      (exit status 0 when the model validates)
 */
#include <stdio.h>

#include "ttt_validate.h"

static int32_t argmax(const float *x, int64_t n) {
  int32_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (x[i] > x[best]) best = (int32_t)i;
  return best;
}

/* Greedy continuation of `prompt`, printing the new token ids. */
static ttt_status generate(const ttt_hf_model *m, ttt_context *ctx, const int32_t *prompt,
                           int64_t n) {
  enum { NEW_TOKENS = 8, MAX_VOCAB = 1 << 16 };
  static float logits[MAX_VOCAB];
  int64_t vocab = m->config.vocab_size;
  if (vocab > MAX_VOCAB) return ttt_set_error(TTT_ERR_CAPACITY, "example: vocabulary too large");
  ttt_kv_cache *cache = NULL;
  ttt_tensor out = ttt_tensor_2d(TTT_F32, logits, 1, vocab);
  ttt_status st = ttt_causal_lm_create_cache(m->lm, n + NEW_TOKENS, &cache);
  if (st == TTT_OK)
    st = ttt_causal_lm_prefill_forward(m->lm, ctx, cache, prompt, n, 0, true, &out, NULL);
  printf("greedy continuation:");
  for (int64_t i = 0; st == TTT_OK && i < NEW_TOKENS; i++) {
    int32_t token = argmax(logits, vocab);
    printf(" %d", token);
    st = ttt_causal_lm_decode_forward(m->lm, ctx, cache, token, n + i, &out, NULL);
  }
  printf("\n");
  ttt_kv_cache_destroy(cache);
  return st;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL_DIR\n", argv[0]);
    return 2;
  }
  const char *overrides[] = {"layers.1.ffn.weight_dtype=bf16"};
  ttt_hf_load_options options = {.overrides = overrides, .n_overrides = 1};
  ttt_validate_options thresholds = {.min_pcc = 0.9999, .atol = -1}; /* bf16: ~3 digits */
  char golden[1200], summary[512];
  snprintf(golden, sizeof golden, "%s/golden.safetensors", argv[1]);
  ttt_device device;
  ttt_context *ctx = NULL;
  ttt_hf_model *m = NULL;
  ttt_validate_report *report = NULL;
  const int32_t prompt[] = {1, 23, 57, 9, 130};
  ttt_status st = ttt_device_cpu(&device, 0);
  if (st == TTT_OK) st = ttt_context_create(&device, &ctx);
  if (st == TTT_OK) st = ttt_hf_model_load(argv[1], &device, &options, &m);
  if (st == TTT_OK) {
    ttt_hf_model_describe(m, summary, sizeof summary);
    printf("%s\noverride: %s\n", summary, overrides[0]);
    st = generate(m, ctx, prompt, 5);
  }
  if (st == TTT_OK) st = ttt_validate_causal_lm(m, ctx, golden, &thresholds, &report);
  int rc = st == TTT_OK ? 0 : 1;
  if (st != TTT_OK) fprintf(stderr, "error: %s\n", ttt_last_error());
  for (int64_t i = 0; report && i < report->n_rows; i++)
    printf("%-24s pcc %.7f  max abs %.2e  %s\n", report->rows[i].module, report->rows[i].pcc,
           report->rows[i].max_abs_err, report->rows[i].pass ? "PASS" : "FAIL");
  if (report && report->first_failure >= 0) rc = 1;
  ttt_validate_report_destroy(report);
  ttt_hf_model_destroy(m);
  ttt_context_destroy(ctx);
  return rc;
}
