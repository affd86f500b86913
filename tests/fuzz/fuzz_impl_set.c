/*
 * fuzz_impl_set — the impl-config path setters ttt_causal_lm_impl_set and ttt_encoder_impl_set.
 *
 * Input: byte 0 selects the model (llama3_tiny, mixtral_tiny (MoE), qwen3_tiny, bert_tiny (the
 * encoder setter)); the rest, up to a NUL, is the assignment.
 * Invariants: a refused assignment returns TTT_ERR_INVALID_ARGUMENT and leaves the config
 * byte-for-byte unchanged; an accepted one is idempotent (setting it again changes nothing); a
 * config built from accepted assignments is used to create the model (must not crash; a refusal
 * is allowed only as a clean error) and run a short forward.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char *const dirs[4] = {"tests/fixtures/hf/llama3_tiny",
                                    "tests/fixtures/hf/mixtral_tiny",
                                    "tests/fixtures/hf/qwen3_tiny", "tests/fixtures/hf/bert_tiny"};
static ttt_hf_config configs[4];
static ttt_hf_weight_map *maps[4];
static ttt_causal_lm_spec lm_specs[3];
static ttt_encoder_spec encoder_spec;
static ttt_context *ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  for (int i = 0; i < 4; i++) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", TTT_SOURCE_DIR, dirs[i]);
    if (ttt_hf_config_load(dir, &configs[i]) != TTT_OK ||
        ttt_hf_weight_map_create(&configs[i], &maps[i]) != TTT_OK ||
        (i < 3 ? ttt_hf_causal_lm_spec(&configs[i], &lm_specs[i])
               : ttt_hf_encoder_spec(&configs[i], &encoder_spec)) != TTT_OK) {
      fprintf(stderr, "%s: %s\n", dir, ttt_last_error());
      abort();
    }
  }
  ttt_device device = fuzz_device();
  if (ttt_context_create(&device, &ctx) != TTT_OK) abort();
  return 0;
}

static const int32_t tokens[3] = {1, 2, 3};

static void run_causal_lm(int which, const ttt_causal_lm_impl_config *impl) {
  fuzz_weights weights = {.map = maps[which]};
  ttt_causal_lm *lm = NULL;
  ttt_status st = ttt_causal_lm_create(&lm_specs[which], impl, fuzz_weights_resolve, &weights, &lm);
  if (st != TTT_OK) {
    FUZZ_CHECK(lm == NULL, "a refused model was returned");
    fuzz_weights_free(&weights);
    return;
  }
  int64_t vocab = configs[which].vocab_size;
  float *logits_data = malloc(sizeof(float) * (size_t)(3 * vocab));
  ttt_tensor logits = ttt_tensor_2d(TTT_F32, logits_data, 3, vocab);
  ttt_kv_cache *cache = NULL;
  if (ttt_causal_lm_create_cache(lm, 8, &cache) == TTT_OK &&
      ttt_causal_lm_prefill_forward(lm, ctx, cache, tokens, 3, 0, false, &logits, NULL) == TTT_OK) {
    ttt_tensor last = ttt_tensor_2d(TTT_F32, logits_data, 1, vocab);
    (void)ttt_causal_lm_decode_forward(lm, ctx, cache, 4, 3, &last, NULL);
  }
  ttt_kv_cache_destroy(cache);
  free(logits_data);
  ttt_causal_lm_destroy(lm);
  fuzz_weights_free(&weights);
}

static void run_encoder(const ttt_encoder_impl_config *impl) {
  fuzz_weights weights = {.map = maps[3]};
  ttt_encoder *encoder = NULL;
  ttt_status st = ttt_encoder_create(&encoder_spec, impl, fuzz_weights_resolve, &weights, &encoder);
  if (st == TTT_OK) {
    int64_t hidden_size = configs[3].hidden_size;
    float *hidden_data = malloc(sizeof(float) * (size_t)(3 * hidden_size));
    ttt_tensor hidden = ttt_tensor_3d(TTT_F32, hidden_data, 1, 3, hidden_size);
    (void)ttt_encoder_forward(encoder, ctx, tokens, NULL, NULL, 1, 3, &hidden, NULL, NULL);
    free(hidden_data);
    ttt_encoder_destroy(encoder);
  } else {
    FUZZ_CHECK(encoder == NULL, "a refused encoder was returned");
  }
  fuzz_weights_free(&weights);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int which = data[0] & 3;
  bool strategy = data[0] & 4;
  char *assignment = fuzz_strndup(data + 1, size - 1); /* stops at an embedded NUL */
  ttt_device device = fuzz_device();
  if (which < 3) {
    ttt_causal_lm_impl_config *impl = malloc(sizeof *impl), *before = malloc(sizeof *impl);
    FUZZ_CHECK(ttt_causal_lm_default_impl_config(&device, strategy, TTT_F32, &lm_specs[which],
                                                 impl) == TTT_OK,
               "default impl config");
    memcpy(before, impl, sizeof *impl);
    ttt_status st = ttt_causal_lm_impl_set(impl, &lm_specs[which], assignment);
    if (st != TTT_OK) {
      FUZZ_CHECK(st == TTT_ERR_INVALID_ARGUMENT, "refusal status %s", ttt_status_str(st));
      FUZZ_CHECK(memcmp(before, impl, sizeof *impl) == 0,
                 "a refused assignment changed the config");
    } else {
      memcpy(before, impl, sizeof *impl);
      FUZZ_CHECK(ttt_causal_lm_impl_set(impl, &lm_specs[which], assignment) == TTT_OK &&
                     memcmp(before, impl, sizeof *impl) == 0,
                 "an accepted assignment is not idempotent");
      run_causal_lm(which, impl);
    }
    free(before);
    free(impl);
  } else {
    ttt_encoder_impl_config *impl = malloc(sizeof *impl), *before = malloc(sizeof *impl);
    FUZZ_CHECK(ttt_encoder_default_impl_config(&device, strategy, &encoder_spec, impl) == TTT_OK,
               "default impl config");
    memcpy(before, impl, sizeof *impl);
    ttt_status st = ttt_encoder_impl_set(impl, &encoder_spec, assignment);
    if (st != TTT_OK) {
      FUZZ_CHECK(st == TTT_ERR_INVALID_ARGUMENT, "refusal status %s", ttt_status_str(st));
      FUZZ_CHECK(memcmp(before, impl, sizeof *impl) == 0,
                 "a refused assignment changed the config");
    } else {
      memcpy(before, impl, sizeof *impl);
      FUZZ_CHECK(ttt_encoder_impl_set(impl, &encoder_spec, assignment) == TTT_OK &&
                     memcmp(before, impl, sizeof *impl) == 0,
                 "an accepted assignment is not idempotent");
      run_encoder(impl);
    }
    free(before);
    free(impl);
  }
  free(assignment);
  return 0;
}
