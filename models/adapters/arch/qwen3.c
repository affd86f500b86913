/* Qwen3 (Qwen3ForCausalLM): the Llama layout with per-head RMSNorm of q and k (eps rms_norm_eps),
 * biases from `attention_bias`, Qwen's sliding-window rules. */
#include "hf_arch.h"

static ttt_status parse_qwen3(const hf_scope *sc, ttt_hf_config *cfg) {
  bool attention_bias;
  HF_TRY(hf_get_bool(sc, "attention_bias", false, &attention_bias));
  cfg->q_bias = cfg->k_bias = cfg->v_bias = cfg->o_bias = attention_bias;
  return hf_parse_window_qwen(sc, cfg);
}

static const ttt_hf_config base = {.mlp_gated = true, .qk_norm = TTT_QK_NORM_HEAD};

const hf_arch hf_arch_qwen3 = {
    .model_type = "qwen3",
    .base = &base,
    .weights = {hf_llama_embedding, hf_llama_input_norm, hf_llama_attention, hf_llama_qk_norm,
                hf_llama_ffn_norm, hf_llama_mlp, hf_llama_head},
    .modules = {hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = parse_qwen3,
};
