/* Qwen3-MoE (Qwen3MoeForCausalLM): Qwen3 (per-head q/k RMSNorm) with mixtures of gated experts of
 * `moe_intermediate_size` (router `mlp.gate`, experts `mlp.experts.E.{gate,up,down}_proj`),
 * top-k renormalized when `norm_topk_prob`; dense layers from `mlp_only_layers` and
 * `decoder_sparse_step`. The layer table is shared with qwen2_moe. */
#include "hf_arch.h"

#define LAYER "model.layers.{L}."

const hf_weight_rule hf_qwen_moe_weights[] = {
    W("embedding.table", "model.embed_tokens.weight", D_VOCAB, D_HIDDEN),
    W("layers.{L}.attention_norm.weight", LAYER "input_layernorm.weight", D_HIDDEN, D_NONE),
    W("layers.{L}.attention.wq", LAYER "self_attn.q_proj.weight", D_Q, D_HIDDEN),
    W("layers.{L}.attention.wk", LAYER "self_attn.k_proj.weight", D_KV, D_HIDDEN),
    W("layers.{L}.attention.wv", LAYER "self_attn.v_proj.weight", D_KV, D_HIDDEN),
    W("layers.{L}.attention.wo", LAYER "self_attn.o_proj.weight", D_HIDDEN, D_Q),
    W_IF("layers.{L}.attention.bq", LAYER "self_attn.q_proj.bias", D_Q, D_NONE, C_Q_BIAS),
    W_IF("layers.{L}.attention.bk", LAYER "self_attn.k_proj.bias", D_KV, D_NONE, C_K_BIAS),
    W_IF("layers.{L}.attention.bv", LAYER "self_attn.v_proj.bias", D_KV, D_NONE, C_V_BIAS),
    W_IF("layers.{L}.attention.bo", LAYER "self_attn.o_proj.bias", D_HIDDEN, D_NONE, C_O_BIAS),
    W_IF("layers.{L}.attention.q_norm", LAYER "self_attn.q_norm.weight", D_HEAD, D_NONE, C_QK_NORM),
    W_IF("layers.{L}.attention.k_norm", LAYER "self_attn.k_norm.weight", D_HEAD, D_NONE, C_QK_NORM),
    W("layers.{L}.ffn_norm.weight", LAYER "post_attention_layernorm.weight", D_HIDDEN, D_NONE),
    W_IF("layers.{L}.ffn.gate", LAYER "mlp.gate_proj.weight", D_INTER, D_HIDDEN, C_DENSE),
    W_IF("layers.{L}.ffn.up", LAYER "mlp.up_proj.weight", D_INTER, D_HIDDEN, C_DENSE),
    W_IF("layers.{L}.ffn.down", LAYER "mlp.down_proj.weight", D_HIDDEN, D_INTER, C_DENSE),
    W_IF("layers.{L}.ffn.router", LAYER "mlp.gate.weight", D_EXPERTS, D_HIDDEN, C_MOE),
    W_IF("layers.{L}.ffn.experts.{E}.gate", LAYER "mlp.experts.{E}.gate_proj.weight", D_MOE_INTER,
         D_HIDDEN, C_MOE),
    W_IF("layers.{L}.ffn.experts.{E}.up", LAYER "mlp.experts.{E}.up_proj.weight", D_MOE_INTER,
         D_HIDDEN, C_MOE),
    W_IF("layers.{L}.ffn.experts.{E}.down", LAYER "mlp.experts.{E}.down_proj.weight", D_HIDDEN,
         D_MOE_INTER, C_MOE),
    W("norm.weight", "model.norm.weight", D_HIDDEN, D_NONE),
    W_IF("lm_head.weight", "lm_head.weight", D_VOCAB, D_HIDDEN, C_UNTIED),
    W_IF("lm_head.weight", "model.embed_tokens.weight", D_VOCAB, D_HIDDEN, C_TIED),
    W_END,
};

static ttt_status parse_qwen3_moe(const hf_scope *sc, ttt_hf_config *cfg) {
  bool attention_bias;
  HF_TRY(hf_get_bool(sc, "attention_bias", false, &attention_bias));
  cfg->q_bias = cfg->k_bias = cfg->v_bias = cfg->o_bias = attention_bias;
  HF_TRY(hf_parse_window_qwen(sc, cfg));
  return hf_parse_moe_qwen(sc, cfg);
}

static const ttt_hf_config base = {.mlp_gated = true, .qk_norm = true};

const hf_arch hf_arch_qwen3_moe = {
    .model_type = "qwen3_moe",
    .base = &base,
    .weights = hf_qwen_moe_weights,
    .modules = hf_llama_modules,
    .ignored = hf_decoder_ignored,
    .parse = parse_qwen3_moe,
};
