/*
 * mistral_example: a model owner's path in a few dozen lines.
 *
 * Builds a Mistral model from a HuggingFace folder with one module's impl config overridden (the
 * first layer's attention runs bf16 weights; layers use a sliding window), prefills the golden
 * prompt, decodes the golden's decode tokens, and validates both sets of logits against
 * golden.safetensors. Exits 1 when the logits disagree beyond what bf16 weights explain.
 *
 *   mistral_example tests/fixtures/hf/mistral_tiny
 */
#include <stdio.h>
#include <stdlib.h>

#include "ttt_models.h"

static const char *const overrides[] = {"layers.0.attention.weight_dtype=bf16"};
static const double min_pcc =
    0.9999; /* bf16 weights in one attention: ~3 significant digits there */

/* Token ids of a golden tensor (i64 in the file) as i32. */
static int32_t *read_ids(const ttt_safetensors *golden, const char *name, int64_t *n) {
  ttt_tensor t;
  if (ttt_safetensors_get(golden, name, &t) != TTT_OK) return NULL;
  *n = ttt_tensor_numel(&t);
  int32_t *ids = malloc((size_t)*n * sizeof *ids);
  for (int64_t i = 0; ids && i < *n; i++) ids[i] = (int32_t)ttt_tensor_get(&t, i);
  return ids;
}

/* Compares logits with a golden tensor; prints one line; true when PCC clears the bar. */
static bool check_logits(const ttt_safetensors *golden, const char *name,
                         const ttt_tensor *logits) {
  ttt_tensor expected;
  ttt_compare_result r;
  ttt_logits_result l;
  if (ttt_safetensors_get(golden, name, &expected) != TTT_OK ||
      ttt_compare(logits, &expected, NULL, 1e-3, 1e-3, &r) != TTT_OK ||
      ttt_compare_logits(logits, &expected, &l) != TTT_OK) {
    fprintf(stderr, "error: %s\n", ttt_last_error());
    return false;
  }
  bool ok = r.pcc >= min_pcc && l.top1_agreement == 1.0;
  printf("%-15s PCC %.6f  max abs %.3g  top-1 %.0f%%  %s\n", name, r.pcc, r.max_abs_err,
         100 * l.top1_agreement, ok ? "PASS" : "FAIL");
  return ok;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL_DIR\n", argv[0]);
    return 2;
  }
  char path[1200];
  snprintf(path, sizeof path, "%s/golden.safetensors", argv[1]);
  ttt_device device;
  ttt_context *ctx = NULL;
  ttt_hf_model *model = NULL;
  ttt_safetensors *golden = NULL;
  ttt_hf_load_options options = {.overrides = overrides, .n_overrides = 1};
  ttt_status st = ttt_device_cpu(&device, 0);
  if (st == TTT_OK) st = ttt_context_create(&device, &ctx);
  if (st == TTT_OK) st = ttt_hf_model_load(argv[1], &device, &options, &model);
  if (st == TTT_OK) st = ttt_safetensors_open(path, &golden);
  int64_t T = 0, D = 0, vocab = model ? ttt_causal_lm_get_spec(model->lm)->lm_head.vocab : 0;
  int32_t *prompt = golden ? read_ids(golden, "input_ids", &T) : NULL;
  int32_t *decode = golden ? read_ids(golden, "decode_ids", &D) : NULL;
  float *prefill_logits = malloc((size_t)(T * vocab) * sizeof(float));
  float *decode_logits = malloc((size_t)(D * vocab) * sizeof(float));
  ttt_kv_cache *cache = NULL;
  if (st == TTT_OK && (!prompt || !decode || !prefill_logits || !decode_logits))
    st = ttt_set_error(TTT_ERR_FORMAT, "%s: cannot read input_ids / decode_ids", path);
  if (st == TTT_OK) st = ttt_causal_lm_create_cache(model->lm, 0, &cache);
  ttt_tensor prefill_t = ttt_tensor_2d(TTT_F32, prefill_logits, T, vocab);
  ttt_tensor decode_t = ttt_tensor_2d(TTT_F32, decode_logits, D, vocab);
  if (st == TTT_OK)
    st =
        ttt_causal_lm_prefill_forward(model->lm, ctx, cache, prompt, T, 0, false, &prefill_t, NULL);
  for (int64_t i = 0; st == TTT_OK && i < D; i++) {
    ttt_tensor row = ttt_tensor_2d(TTT_F32, decode_logits + i * vocab, 1, vocab);
    st = ttt_causal_lm_decode_forward(model->lm, ctx, cache, decode[i], T + i, &row, NULL);
  }
  bool ok = st == TTT_OK;
  if (ok) {
    char summary[512];
    ttt_hf_model_describe(model, summary, sizeof summary);
    printf("%s\noverride: %s\n", summary, overrides[0]);
    ok = check_logits(golden, "logits.prefill", &prefill_t);
    ok = check_logits(golden, "logits.decode", &decode_t) && ok;
  } else {
    fprintf(stderr, "error: %s\n", ttt_last_error());
  }
  ttt_kv_cache_destroy(cache);
  free(prompt);
  free(decode);
  free(prefill_logits);
  free(decode_logits);
  ttt_safetensors_close(golden);
  ttt_hf_model_destroy(model);
  ttt_context_destroy(ctx);
  return ok ? 0 : 1;
}
