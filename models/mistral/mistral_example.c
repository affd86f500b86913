/*
 * mistral_example: a model owner's path for a sliding-window model, in a few dozen lines.
 *
 *   1. build Mistral from a HuggingFace folder (sliding window 8) with layer 0's attention
 *      overridden to run bf16 weights;
 *   2. prefill a 20-token prompt in chunks of 3 tokens — smaller than the window, so the ring
 *      buffer of the KV cache wraps between chunks — and check the last logits against one
 *      prefill of the whole prompt;
 *   3. validate every module and the logits against golden.safetensors (PCC >= 0.9999: bf16).
 *
 *   mistral_example tests/fixtures/hf/mistral_tiny      (exit status 0 when all agree)
 */
#include <stdio.h>
#include <stdlib.h>

#include "ttt_validate.h"

/* Last-position logits of `tokens` prefilled in chunks of `chunk` tokens. */
static ttt_status chunked_prefill(const ttt_hf_model *m, ttt_context *ctx, const int32_t *tokens,
                                  int64_t n, int64_t chunk, float *logits) {
  ttt_kv_cache *cache = NULL;
  ttt_tensor out = ttt_tensor_2d(TTT_F32, logits, 1, m->config.vocab_size);
  ttt_status st = ttt_causal_lm_create_cache(m->lm, n, &cache);
  for (int64_t start = 0; st == TTT_OK && start < n; start += chunk) {
    int64_t len = n - start < chunk ? n - start : chunk;
    st = ttt_causal_lm_prefill_forward(m->lm, ctx, cache, tokens + start, len, start, true, &out,
                                       NULL);
  }
  ttt_kv_cache_destroy(cache);
  return st;
}

static ttt_status check_chunking(const ttt_hf_model *m, ttt_context *ctx) {
  enum { N = 20 };
  int32_t tokens[N];
  for (int i = 0; i < N; i++) tokens[i] = (int32_t)((i * 37 + 11) % m->config.vocab_size);
  int64_t vocab = m->config.vocab_size;
  float *whole = malloc(sizeof(float) * (size_t)vocab),
        *chunked = malloc(sizeof(float) * (size_t)vocab);
  ttt_status st = whole && chunked ? TTT_OK : ttt_set_error(TTT_ERR_OUT_OF_MEMORY, "out of memory");
  if (st == TTT_OK) st = chunked_prefill(m, ctx, tokens, N, N, whole);
  if (st == TTT_OK) st = chunked_prefill(m, ctx, tokens, N, 3, chunked);
  ttt_compare_result r;
  ttt_tensor a = ttt_tensor_1d(TTT_F32, chunked, vocab), b = ttt_tensor_1d(TTT_F32, whole, vocab);
  if (st == TTT_OK) st = ttt_compare(&a, &b, NULL, 1e-5, 1e-5, &r);
  if (st == TTT_OK) printf("chunks of 3 vs one prefill of %d: max abs %.2e\n", N, r.max_abs_err);
  if (st == TTT_OK && !r.allclose) st = ttt_set_error(TTT_ERR_INTERNAL, "chunked prefill differs");
  free(whole);
  free(chunked);
  return st;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL_DIR\n", argv[0]);
    return 2;
  }
  const char *overrides[] = {"layers.0.attention.weight_dtype=bf16"};
  ttt_hf_load_options options = {.overrides = overrides, .n_overrides = 1};
  ttt_validate_options thresholds = {.min_pcc = 0.9999, .atol = -1};
  char golden[1200];
  snprintf(golden, sizeof golden, "%s/golden.safetensors", argv[1]);
  ttt_device device;
  ttt_context *ctx = NULL;
  ttt_hf_model *m = NULL;
  ttt_validate_report *report = NULL;
  ttt_status st = ttt_device_cpu(&device, 0);
  if (st == TTT_OK) st = ttt_context_create(&device, &ctx);
  if (st == TTT_OK) st = ttt_hf_model_load(argv[1], &device, &options, &m);
  if (st == TTT_OK) st = check_chunking(m, ctx);
  if (st == TTT_OK) st = ttt_validate_causal_lm(m, ctx, golden, &thresholds, &report);
  if (st != TTT_OK) fprintf(stderr, "error: %s\n", ttt_last_error());
  bool pass = st == TTT_OK && report->first_failure < 0;
  if (report)
    printf("%lld modules and logits validated against %s: %s\n", (long long)report->n_rows, golden,
           pass ? "PASS" : "FAIL");
  ttt_validate_report_destroy(report);
  ttt_hf_model_destroy(m);
  ttt_context_destroy(ctx);
  return pass ? 0 : 1;
}
