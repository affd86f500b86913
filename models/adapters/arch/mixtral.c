/* Mixtral (MixtralForCausalLM): the Llama layout with a mixture of gated experts in every layer
 * (softmax top-k, renormalized), `sliding_window` on every layer, rope_theta 1e6 and rms_norm_eps
 * 1e-5 by default. */
#include "hf_arch.h"

#define LAYER "model.layers.{L}."

static const hf_weight_rule experts[] = {
    W_IF("layers.{L}.ffn.router", LAYER "block_sparse_moe.gate.weight", D_EXPERTS, D_HIDDEN, C_MOE),
    W_IF("layers.{L}.ffn.experts.{E}.gate", LAYER "block_sparse_moe.experts.{E}.w1.weight",
         D_MOE_INTER, D_HIDDEN, C_MOE),
    W_IF("layers.{L}.ffn.experts.{E}.up", LAYER "block_sparse_moe.experts.{E}.w3.weight",
         D_MOE_INTER, D_HIDDEN, C_MOE),
    W_IF("layers.{L}.ffn.experts.{E}.down", LAYER "block_sparse_moe.experts.{E}.w2.weight",
         D_HIDDEN, D_MOE_INTER, C_MOE),
    W_END,
};

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
    .weights = {hf_llama_embedding, hf_llama_input_norm, hf_llama_attention, hf_llama_ffn_norm,
                experts, hf_llama_head},
    .modules = {hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = parse_mixtral,
};
