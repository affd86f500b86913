/* Qwen2-MoE (Qwen2MoeForCausalLM): Qwen2 (q/k/v biases) with Qwen's experts on every
 * `decoder_sparse_step`-th layer not in `mlp_only_layers`, plus a shared expert of
 * `shared_expert_intermediate_size` scaled by sigmoid(shared_expert_gate · x). */
#include "hf_arch.h"

#define LAYER "model.layers.{L}."

static const hf_weight_rule shared_expert[] = {
    W_IF("layers.{L}.ffn.shared.gate", LAYER "mlp.shared_expert.gate_proj.weight", D_SHARED_INTER,
         D_HIDDEN, C_SHARED_EXPERT),
    W_IF("layers.{L}.ffn.shared.up", LAYER "mlp.shared_expert.up_proj.weight", D_SHARED_INTER,
         D_HIDDEN, C_SHARED_EXPERT),
    W_IF("layers.{L}.ffn.shared.down", LAYER "mlp.shared_expert.down_proj.weight", D_HIDDEN,
         D_SHARED_INTER, C_SHARED_EXPERT),
    W_IF("layers.{L}.ffn.shared_gate", LAYER "mlp.shared_expert_gate.weight", D_ONE, D_HIDDEN,
         C_SHARED_EXPERT),
    W_END,
};

static ttt_status parse_qwen2_moe(const hf_scope *sc, ttt_hf_config *cfg) {
  HF_TRY(hf_parse_window_qwen(sc, cfg));
  HF_TRY(hf_parse_moe_qwen(sc, cfg));
  HF_TRY(hf_get_int(sc, "shared_expert_intermediate_size", true, 0, 1, HF_MAX_DIM,
                    &cfg->shared_expert_intermediate_size));
  cfg->shared_expert_gate = true;
  return TTT_OK;
}

static const ttt_hf_config base = {
    .mlp_gated = true, .q_bias = true, .k_bias = true, .v_bias = true};

const hf_arch hf_arch_qwen2_moe = {
    .model_type = "qwen2_moe",
    .base = &base,
    .weights = {hf_llama_embedding, hf_llama_input_norm, hf_llama_attention, hf_llama_ffn_norm,
                hf_llama_mlp, hf_qwen_moe_experts, shared_expert, hf_llama_head},
    .modules = {hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = parse_qwen2_moe,
};
