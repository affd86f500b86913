/*
 * fuzz_hf_config — config.json → ttt_hf_config → block specs → a model with synthetic weights,
 * in both strategies (so the performance strategy's q8_0/bf16 weight conversion runs), then a
 * 3-token forward. Models larger than FUZZ_MAX_PARAMS values are only parsed (speed).
 *
 * Invariant: a config the parser accepts builds. ttt_hf_config.h promises that values were
 * checked when the config was parsed, so a spec, an impl config or a model that the core then
 * refuses is a parser bug (issue 19 item 5: a config "accepted by the parser and rejected later by
 * the core").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_PARAMS (1 << 18)
#define FUZZ_MAX_POSITIONS 4096 /* rope tables are [positions, head_dim] */

static ttt_context *context(void) {
  static ttt_context *ctx;
  ttt_device device = fuzz_device();
  if (!ctx && ttt_context_create(&device, &ctx) != TTT_OK) abort();
  return ctx;
}

static const int32_t tokens[3] = {0, 1, 2};

static void run_causal_lm(const ttt_hf_config *cfg, fuzz_weights *weights) {
  ttt_causal_lm_spec spec;
  FUZZ_CHECK(ttt_hf_causal_lm_spec(cfg, &spec) == TTT_OK, "parsed config has no CausalLM spec");
  ttt_device device = fuzz_device();
  /* T prompt tokens then one decode step, all inside the context and the vocabulary. */
  int64_t T = cfg->vocab_size < 3 ? cfg->vocab_size : 3;
  if (T >= cfg->max_position_embeddings) T = cfg->max_position_embeddings - 1;
  bool decode = T >= 1;
  if (T < 1) T = 1;
  int64_t positions = cfg->max_position_embeddings < 8 ? cfg->max_position_embeddings : 8;
  float *logits_data = malloc(sizeof(float) * (size_t)(T * cfg->vocab_size));
  for (int s = 0; s < 2; s++) {
    ttt_strategy strategy = s ? TTT_STRATEGY_PERFORMANCE : TTT_STRATEGY_ACCURACY;
    ttt_causal_lm_impl_config *impl = malloc(sizeof *impl);
    ttt_causal_lm *lm = NULL;
    ttt_kv_cache *cache = NULL;
    FUZZ_CHECK(ttt_causal_lm_default_impl_config(&device, strategy, TTT_F32, &spec, impl) == TTT_OK,
               "no default impl config (%s)", ttt_strategy_name(strategy));
    ttt_status st = ttt_causal_lm_create(&spec, impl, fuzz_weights_resolve, weights, &lm);
    FUZZ_CHECK(st == TTT_OK, "parsed config does not build (%s): %s", ttt_strategy_name(strategy),
               ttt_status_str(st));
    FUZZ_CHECK(ttt_causal_lm_create_cache(lm, positions, &cache) == TTT_OK, "no cache");
    ttt_tensor logits = ttt_tensor_2d(TTT_F32, logits_data, T, cfg->vocab_size);
    st = ttt_causal_lm_prefill_forward(lm, context(), cache, tokens, T, 0, false, &logits, NULL);
    FUZZ_CHECK(st == TTT_OK, "prefill failed: %s", ttt_status_str(st));
    ttt_tensor last = ttt_tensor_2d(TTT_F32, logits_data, 1, cfg->vocab_size);
    if (decode) st = ttt_causal_lm_decode_forward(lm, context(), cache, 0, T, &last, NULL);
    FUZZ_CHECK(st == TTT_OK, "decode failed: %s", ttt_status_str(st));
    ttt_kv_cache_destroy(cache);
    ttt_causal_lm_destroy(lm);
    free(impl);
  }
  free(logits_data);
}

static void run_encoder(const ttt_hf_config *cfg, fuzz_weights *weights) {
  ttt_encoder_spec spec;
  FUZZ_CHECK(ttt_hf_encoder_spec(cfg, &spec) == TTT_OK, "parsed config has no encoder spec");
  ttt_device device = fuzz_device();
  int64_t T = 3;
  if (T > cfg->vocab_size) T = cfg->vocab_size;
  if (T > cfg->max_position_embeddings) T = cfg->max_position_embeddings;
  float *hidden_data = malloc(sizeof(float) * (size_t)(T * cfg->hidden_size));
  for (int s = 0; s < 2; s++) {
    ttt_strategy strategy = s ? TTT_STRATEGY_PERFORMANCE : TTT_STRATEGY_ACCURACY;
    ttt_encoder_impl_config *impl = malloc(sizeof *impl);
    ttt_encoder *encoder = NULL;
    FUZZ_CHECK(ttt_encoder_default_impl_config(&device, strategy, &spec, impl) == TTT_OK,
               "no default impl config (%s)", ttt_strategy_name(strategy));
    ttt_status st = ttt_encoder_create(&spec, impl, fuzz_weights_resolve, weights, &encoder);
    FUZZ_CHECK(st == TTT_OK, "parsed config does not build (%s): %s", ttt_strategy_name(strategy),
               ttt_status_str(st));
    ttt_tensor hidden = ttt_tensor_3d(TTT_F32, hidden_data, 1, T, cfg->hidden_size);
    st = ttt_encoder_forward(encoder, context(), tokens, NULL, NULL, 1, T, &hidden, NULL, NULL);
    FUZZ_CHECK(st == TTT_OK, "forward failed: %s", ttt_status_str(st));
    ttt_encoder_destroy(encoder);
    free(impl);
  }
  free(hidden_data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ttt_hf_config cfg;
  ttt_status st = ttt_hf_config_parse((const char *)data, size, "fuzz/config.json", &cfg);
  if (st != TTT_OK) {
    FUZZ_CHECK(strstr(ttt_last_error(), "fuzz/config.json") != NULL,
               "the error does not name the file: %s", ttt_last_error());
    return 0;
  }
  char line[512];
  ttt_hf_config_describe(&cfg, line, sizeof line);
  ttt_hf_weight_map *map = NULL;
  FUZZ_CHECK(ttt_hf_weight_map_create(&cfg, &map) == TTT_OK, "parsed config has no weight map");
  if (fuzz_weights_numel(map) <= FUZZ_MAX_PARAMS &&
      cfg.max_position_embeddings <= FUZZ_MAX_POSITIONS) {
    fuzz_weights weights = {.map = map};
    if (cfg.arch == TTT_HF_ENCODER)
      run_encoder(&cfg, &weights);
    else
      run_causal_lm(&cfg, &weights);
    fuzz_weights_free(&weights);
  }
  ttt_hf_weight_map_destroy(map);
  return 0;
}
