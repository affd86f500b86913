/* Qwen3-MoE (Qwen3MoeForCausalLM): Qwen3 (per-head q/k RMSNorm) with mixtures of gated experts of
 * `moe_intermediate_size` (router `mlp.gate`, experts `mlp.experts.E.{gate,up,down}_proj`),
 * top-k renormalized when `norm_topk_prob`; dense layers from `mlp_only_layers` and
 * `decoder_sparse_step`. The experts table is shared with qwen2_moe. */
#include "hf_arch.h"

#define LAYER "model.layers.{L}."

const hf_weight_rule hf_qwen_moe_experts[] = {
    W_IF("layers.{L}.ffn.router", LAYER "mlp.gate.weight", D_EXPERTS, D_HIDDEN, C_MOE),
    W_IF("layers.{L}.ffn.experts.{E}.gate", LAYER "mlp.experts.{E}.gate_proj.weight", D_MOE_INTER,
         D_HIDDEN, C_MOE),
    W_IF("layers.{L}.ffn.experts.{E}.up", LAYER "mlp.experts.{E}.up_proj.weight", D_MOE_INTER,
         D_HIDDEN, C_MOE),
    W_IF("layers.{L}.ffn.experts.{E}.down", LAYER "mlp.experts.{E}.down_proj.weight", D_HIDDEN,
         D_MOE_INTER, C_MOE),
    W_END,
};

static ttt_status parse_qwen3_moe(const hf_scope *sc, ttt_hf_config *cfg) {
  bool attention_bias;
  HF_TRY(hf_get_bool(sc, "attention_bias", false, &attention_bias));
  cfg->q_bias = cfg->k_bias = cfg->v_bias = cfg->o_bias = attention_bias;
  HF_TRY(hf_parse_window_qwen(sc, cfg));
  return hf_parse_moe_qwen(sc, cfg);
}

static const ttt_hf_config base = {.mlp_gated = true, .qk_norm = TTT_QK_NORM_HEAD};

const hf_arch hf_arch_qwen3_moe = {
    .model_type = "qwen3_moe",
    .base = &base,
    .weights = {hf_llama_embedding, hf_llama_input_norm, hf_llama_attention, hf_llama_qk_norm,
                hf_llama_ffn_norm, hf_llama_mlp, hf_qwen_moe_experts, hf_llama_head},
    .modules = {hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = parse_qwen3_moe,
};
