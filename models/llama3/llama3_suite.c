/*
 * llama3_suite: a model owner's test suite.
 *
 * Builds the model from a HuggingFace folder, registers cases for a few modules in prefill and
 * decode mode, captures their real inputs from a short generation (the golden prompt, then 8
 * greedy tokens), and compares every module with its float64 reference. Prints the table (and the
 * JSON report with --json); exits 1 if any case fails.
 *
 *   llama3_suite tests/fixtures/hf/llama3_tiny [--json]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttt_models.h"

enum { DECODE_STEPS = 8, MAX_PROMPT = 256 };

typedef struct prompt {
  int32_t ids[MAX_PROMPT];
  int64_t n;
} prompt;

/* The golden's input_ids (i64 in the file) as i32 token ids. */
static ttt_status read_prompt(const char *dir, prompt *out) {
  char path[1200];
  snprintf(path, sizeof path, "%s/golden.safetensors", dir);
  ttt_safetensors *golden = NULL;
  ttt_tensor ids;
  ttt_status st = ttt_safetensors_open(path, &golden);
  if (st == TTT_OK) st = ttt_safetensors_get(golden, "input_ids", &ids);
  if (st == TTT_OK) {
    out->n = ttt_tensor_numel(&ids) < MAX_PROMPT ? ttt_tensor_numel(&ids) : MAX_PROMPT;
    for (int64_t i = 0; i < out->n; i++) out->ids[i] = (int32_t)ttt_tensor_get(&ids, i);
  }
  ttt_safetensors_close(golden);
  return st;
}

static int32_t argmax(const float *x, int64_t n) {
  int32_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (x[i] > x[best]) best = (int32_t)i;
  return best;
}

/* The sample run the suite observes: prefill the prompt, then decode greedily. */
static ttt_status generate(ttt_context *ctx, const ttt_causal_lm *lm, void *user,
                           const ttt_observer *observer) {
  const prompt *p = user;
  int64_t vocab = ttt_causal_lm_get_spec(lm)->lm_head.vocab;
  float *logits = malloc((size_t)vocab * sizeof *logits);
  ttt_tensor out = ttt_tensor_2d(TTT_F32, logits, 1, vocab);
  ttt_kv_cache *cache = NULL;
  ttt_status st = logits ? ttt_causal_lm_create_cache(lm, 0, &cache) : TTT_ERR_OUT_OF_MEMORY;
  if (st == TTT_OK)
    st = ttt_causal_lm_prefill_forward(lm, ctx, cache, p->ids, p->n, 0, true, &out, observer);
  for (int64_t i = 0; st == TTT_OK && i < DECODE_STEPS; i++)
    st = ttt_causal_lm_decode_forward(lm, ctx, cache, argmax(logits, vocab), p->n + i, &out,
                                      observer);
  ttt_kv_cache_destroy(cache);
  free(logits);
  return st;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL_DIR [--json]\n", argv[0]);
    return 2;
  }
  ttt_device device;
  ttt_context *ctx = NULL;
  ttt_hf_model *model = NULL;
  ttt_suite *suite = NULL;
  prompt p;
  ttt_status st = ttt_device_cpu(&device, 0);
  if (st == TTT_OK) st = ttt_context_create(&device, &ctx);
  if (st == TTT_OK) st = ttt_hf_model_load(argv[1], &device, &(ttt_hf_load_options){0}, &model);
  if (st == TTT_OK) st = read_prompt(argv[1], &p);
  if (st == TTT_OK)
    st = ttt_suite_create(
        &(ttt_suite_options){
            .name = "llama3_tiny", .model = model->lm, .sample_run = generate, .sample_user = &p},
        &suite);
  /* Accuracy strategy (f32): the optimized kernels must match float64 to f32 rounding. Latency
   * caps are soft: reported, never failing the run. */
  static const char *const modules[] = {"embedding", "layers.0.attention", "layers.0.ffn",
                                        "layers.1", "lm_head"};
  for (size_t i = 0; st == TTT_OK && i < sizeof modules / sizeof modules[0]; i++)
    for (int mode = 0; st == TTT_OK && mode < 2; mode++)
      st = ttt_suite_add(suite, &(ttt_suite_case){
                                    .module = modules[i],
                                    .mode = (ttt_mode)mode,
                                    .input = TTT_SUITE_INPUT_TRACE,
                                    .reference = TTT_SUITE_REF_BUILTIN,
                                    .expect = {.pcc = 0.99999,
                                               .atol = 1e-4,
                                               .rtol = 1e-3,
                                               .latency_ms = 5,
                                               .percentile = 90},
                                });
  int exit_code = 1;
  if (st == TTT_OK) {
    char summary[512];
    ttt_hf_model_describe(model, summary, sizeof summary);
    printf("%s\n", summary);
    ttt_suite_outcome outcome = ttt_suite_run(suite, ctx, stdout);
    if (outcome != TTT_SUITE_ERROR && argc > 2 && strcmp(argv[2], "--json") == 0)
      ttt_suite_write_json(suite, stdout);
    if (outcome == TTT_SUITE_ERROR) fprintf(stderr, "error: %s\n", ttt_last_error());
    exit_code = outcome == TTT_SUITE_PASSED ? 0 : 1;
  } else {
    fprintf(stderr, "error: %s\n", ttt_last_error());
  }
  ttt_suite_destroy(suite);
  ttt_hf_model_destroy(model);
  ttt_context_destroy(ctx);
  return exit_code;
}
