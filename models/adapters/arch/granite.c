/* Granite (GraniteForCausalLM): Llama with four multipliers — the embedding
 * (`embedding_multiplier`), each sublayer's residual branch (`residual_multiplier`), the softmax
 * scale (`attention_multiplier`) and the logits (divided by `logits_scaling`). */
#include "hf_arch.h"

static ttt_status parse_granite(const hf_scope *sc, ttt_hf_config *cfg) {
  double logits_scaling;
  bool attention_bias;
  HF_TRY(hf_get_bool(sc, "mlp_bias", false, &cfg->mlp_bias));
  HF_TRY(hf_get_bool(sc, "attention_bias", false, &attention_bias));
  cfg->q_bias = cfg->k_bias = cfg->v_bias = cfg->o_bias = attention_bias;
  HF_TRY(hf_get_num(sc, "embedding_multiplier", false, 1, true, &cfg->embedding_scale));
  HF_TRY(hf_get_num(sc, "residual_multiplier", false, 1, true, &cfg->residual_multiplier));
  HF_TRY(hf_get_num(sc, "attention_multiplier", false, 1, true, &cfg->attention_scale));
  HF_TRY(hf_get_num(sc, "logits_scaling", false, 1, true, &logits_scaling));
  cfg->logit_scale = 1 / logits_scaling;
  return TTT_OK;
}

static const hf_default defaults[] = {HF_NUM("bos_token_id", 1), HF_NUM("eos_token_id", 2),
                                      HF_DEFAULTS_END};
static const ttt_hf_config base = {.mlp_gated = true};

const hf_arch hf_arch_granite = {
    .model_type = "granite",
    .base = &base,
    .defaults = defaults,
    .weights = {HF_LLAMA_WEIGHTS},
    .modules = {hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = parse_granite,
    .embedding_trace_unscaled = true,
};
