/* The README's C API example: build a model from a HF folder, prefill a prompt, decode greedily. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ttt.h>

#include "ttt_models.h" /* the adapters (link ttt_adapters) */

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "models/kjv-llama", *text = "In the beginning";
  const char *set[] = {"layers.*.ffn.weight_dtype=q8_0"}; /* optional impl-config overrides */
  ttt_hf_load_options options = {
      .strategy = TTT_STRATEGY_ACCURACY, .overrides = set, .n_overrides = 1};
  ttt_device device;
  ttt_context *ctx = NULL;
  ttt_hf_model *m = NULL;
  ttt_kv_cache *cache = NULL;
  int32_t *ids = NULL;
  int64_t n = 0;
  ttt_status st = ttt_device_cpu(&device, 0); /* 0 = one thread per core */
  if (st == TTT_OK) st = ttt_context_create(&device, &ctx);
  if (st == TTT_OK) st = ttt_hf_model_load(dir, &device, &options, &m);
  if (st == TTT_OK) st = ttt_tokenizer_encode(m->tokenizer, text, strlen(text), true, &ids, &n);
  if (st == TTT_OK) st = ttt_causal_lm_create_cache(m->lm, 0, &cache);
  int64_t vocab = m ? m->config.vocab_size : 0;
  float *logits = malloc(sizeof(float) * (size_t)(vocab ? vocab : 1));
  ttt_tensor out = ttt_tensor_2d(TTT_F32, logits, 1, vocab);
  if (st == TTT_OK) /* last_only: just the logits of the prompt's last token */
    st = ttt_causal_lm_prefill_forward(m->lm, ctx, cache, ids, n, 0, true, &out, NULL);
  for (int64_t pos = n; st == TTT_OK && pos < n + 8; pos++) {
    int32_t next = 0;
    for (int32_t v = 1; v < vocab; v++) next = logits[v] > logits[next] ? v : next;
    char *piece = NULL;
    size_t len = 0;
    if (ttt_tokenizer_decode(m->tokenizer, &next, 1, true, &piece, &len) == TTT_OK)
      printf("%s", piece);
    free(piece);
    st = ttt_causal_lm_decode_forward(m->lm, ctx, cache, next, pos, &out, NULL);
  }
  if (st != TTT_OK) fprintf(stderr, "error: %s\n", ttt_last_error()); /* names file/field/tensor */
  printf("\n");
  free(logits);
  free(ids);
  ttt_kv_cache_destroy(cache);
  ttt_hf_model_destroy(m);
  ttt_context_destroy(ctx);
  return st == TTT_OK ? 0 : 1;
}
