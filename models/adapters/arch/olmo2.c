/* OLMo-2 (Olmo2ForCausalLM): norms after attention and after the MLP, none before
 * (post_attention_layernorm, post_feedforward_layernorm), and q/k RMSNorm over all heads at once
 * (q_norm [heads · head_dim], k_norm [kv_heads · head_dim]). */
#include "hf_arch.h"

#define LAYER "model.layers.{L}."

static const hf_weight_rule post_norms[] = {
    W("layers.{L}.attention.q_norm", LAYER "self_attn.q_norm.weight", D_Q, D_NONE),
    W("layers.{L}.attention.k_norm", LAYER "self_attn.k_norm.weight", D_KV, D_NONE),
    W("layers.{L}.post_attention_norm.weight", LAYER "post_attention_layernorm.weight", D_HIDDEN,
      D_NONE),
    W("layers.{L}.post_ffn_norm.weight", LAYER "post_feedforward_layernorm.weight", D_HIDDEN,
      D_NONE),
    W_END,
};

static ttt_status parse_olmo2(const hf_scope *sc, ttt_hf_config *cfg) {
  bool attention_bias;
  HF_TRY(hf_get_bool(sc, "attention_bias", false, &attention_bias));
  cfg->q_bias = cfg->k_bias = cfg->v_bias = cfg->o_bias = attention_bias;
  return TTT_OK;
}

static const hf_default defaults[] = {HF_NUM("eos_token_id", 50279), HF_NUM("pad_token_id", 1),
                                      HF_DEFAULTS_END};
static const ttt_hf_config base = {
    .mlp_gated = true, .norm_placement = TTT_NORM_POST, .qk_norm = TTT_QK_NORM_ALL};

const hf_arch hf_arch_olmo2 = {
    .model_type = "olmo2",
    .base = &base,
    .defaults = defaults,
    .weights = {hf_llama_embedding, hf_llama_attention, post_norms, hf_llama_mlp, hf_llama_head},
    .modules = {hf_post_norm_modules, hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = parse_olmo2,
};
