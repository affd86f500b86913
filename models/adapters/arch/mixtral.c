/* Mixtral (MixtralForCausalLM): the Llama layout with a mixture of gated experts in every layer
 * (softmax top-k, renormalized), `sliding_window` on every layer, rope_theta 1e6 and rms_norm_eps
 * 1e-5 by default. */
#include "hf_arch.h"

static ttt_status parse_mixtral(const hf_scope *sc, ttt_hf_config *cfg) {
  HF_TRY(hf_parse_window_all_layers(sc, cfg));
  return hf_parse_moe_counts(sc, cfg, "num_local_experts");
}

static const ttt_hf_config base = {.mlp_gated = true};
static const hf_default defaults[] = {HF_NUM("rope_theta", 1e6), HF_NUM("rms_norm_eps", 1e-5),
                                      HF_DEFAULTS_END};

const hf_arch hf_arch_mixtral = {
    .model_type = "mixtral",
    .base = &base,
    .defaults = defaults,
    .weights = hf_llama_weights,
    .modules = hf_llama_modules,
    .ignored = hf_decoder_ignored,
    .parse = parse_mixtral,
};
