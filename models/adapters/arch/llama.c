/* Llama (LlamaForCausalLM): the decoder layout most families reuse — RMSNorm pre-norm layers,
 * separate q/k/v/o projections, a gated MLP; biases from `attention_bias` and `mlp_bias`. The
 * tables below are shared (hf_arch.h) by most decoders, each taking the pieces it has. */
#include "hf_arch.h"

#define LAYER "model.layers.{L}."

const hf_weight_rule hf_llama_embedding[] = {
    W("embedding.table", "model.embed_tokens.weight", D_VOCAB, D_HIDDEN),
    W_END,
};

const hf_weight_rule hf_llama_input_norm[] = {
    W("layers.{L}.attention_norm.weight", LAYER "input_layernorm.weight", D_HIDDEN, D_NONE),
    W_IF("layers.{L}.attention_norm.bias", LAYER "input_layernorm.bias", D_HIDDEN, D_NONE,
         C_NORM_BIAS),
    W_END,
};

const hf_weight_rule hf_llama_attention[] = {
    W("layers.{L}.attention.wq", LAYER "self_attn.q_proj.weight", D_Q, D_HIDDEN),
    W("layers.{L}.attention.wk", LAYER "self_attn.k_proj.weight", D_KV, D_HIDDEN),
    W("layers.{L}.attention.wv", LAYER "self_attn.v_proj.weight", D_KV, D_HIDDEN),
    W("layers.{L}.attention.wo", LAYER "self_attn.o_proj.weight", D_HIDDEN, D_Q),
    W_IF("layers.{L}.attention.bq", LAYER "self_attn.q_proj.bias", D_Q, D_NONE, C_Q_BIAS),
    W_IF("layers.{L}.attention.bk", LAYER "self_attn.k_proj.bias", D_KV, D_NONE, C_K_BIAS),
    W_IF("layers.{L}.attention.bv", LAYER "self_attn.v_proj.bias", D_KV, D_NONE, C_V_BIAS),
    W_IF("layers.{L}.attention.bo", LAYER "self_attn.o_proj.bias", D_HIDDEN, D_NONE, C_O_BIAS),
    W_END,
};

const hf_weight_rule hf_llama_qk_norm[] = {
    W_IF("layers.{L}.attention.q_norm", LAYER "self_attn.q_norm.weight", D_HEAD, D_NONE, C_QK_NORM),
    W_IF("layers.{L}.attention.k_norm", LAYER "self_attn.k_norm.weight", D_HEAD, D_NONE, C_QK_NORM),
    W_END,
};

const hf_weight_rule hf_llama_ffn_norm[] = {
    W("layers.{L}.ffn_norm.weight", LAYER "post_attention_layernorm.weight", D_HIDDEN, D_NONE),
    W_IF("layers.{L}.ffn_norm.bias", LAYER "post_attention_layernorm.bias", D_HIDDEN, D_NONE,
         C_NORM_BIAS),
    W_END,
};

const hf_weight_rule hf_llama_mlp[] = {
    W_IF("layers.{L}.ffn.gate", LAYER "mlp.gate_proj.weight", D_INTER, D_HIDDEN, C_DENSE_GATED),
    W_IF("layers.{L}.ffn.up", LAYER "mlp.up_proj.weight", D_INTER, D_HIDDEN, C_DENSE),
    W_IF("layers.{L}.ffn.down", LAYER "mlp.down_proj.weight", D_HIDDEN, D_INTER, C_DENSE),
    W_IF("layers.{L}.ffn.gate_bias", LAYER "mlp.gate_proj.bias", D_INTER, D_NONE,
         C_DENSE_GATED_BIAS),
    W_IF("layers.{L}.ffn.up_bias", LAYER "mlp.up_proj.bias", D_INTER, D_NONE, C_DENSE_BIAS),
    W_IF("layers.{L}.ffn.down_bias", LAYER "mlp.down_proj.bias", D_HIDDEN, D_NONE, C_DENSE_BIAS),
    W_END,
};

const hf_weight_rule hf_llama_head[] = {
    W("norm.weight", "model.norm.weight", D_HIDDEN, D_NONE),
    W_IF("norm.bias", "model.norm.bias", D_HIDDEN, D_NONE, C_NORM_BIAS),
    W_IF("lm_head.weight", "lm_head.weight", D_VOCAB, D_HIDDEN, C_UNTIED),
    W_IF("lm_head.weight", "model.embed_tokens.weight", D_VOCAB, D_HIDDEN, C_TIED),
    W_IF("lm_head.bias", "lm_head.bias", D_VOCAB, D_NONE, C_LM_HEAD_BIAS),
    W_END,
};

const hf_module_rule hf_llama_modules[] = {
    {"embedding", "model.embed_tokens", C_ALWAYS},
    {"layers.{L}", "model.layers.{L}", C_ALWAYS},
    {"layers.{L}.attention_norm", LAYER "input_layernorm", C_ALWAYS},
    {"layers.{L}.attention", LAYER "self_attn", C_ALWAYS},
    {"layers.{L}.attention.q_norm", LAYER "self_attn.q_norm", C_QK_NORM},
    {"layers.{L}.attention.k_norm", LAYER "self_attn.k_norm", C_QK_NORM},
    {"layers.{L}.ffn_norm", LAYER "post_attention_layernorm", C_ALWAYS},
    {"layers.{L}.ffn", LAYER "mlp", C_ALWAYS},
    {"layers.{L}.ffn", LAYER "block_sparse_moe", C_MOE},
    {"layers.{L}.ffn.router", LAYER "mlp.gate", C_MOE},
    {"layers.{L}.ffn.router", LAYER "block_sparse_moe.gate", C_MOE},
    {"layers.{L}.ffn.experts.{E}", LAYER "mlp.experts.{E}", C_MOE},
    {"layers.{L}.ffn.experts.{E}", LAYER "block_sparse_moe.experts.{E}", C_MOE},
    {"norm", "model.norm", C_ALWAYS},
    {"lm_head", "lm_head", C_ALWAYS},
    {.path = NULL},
};

/* Buffers HF keeps in some checkpoints. */
const char *const hf_decoder_ignored[] = {"*.rotary_emb.inv_freq", NULL};

static ttt_status parse_llama(const hf_scope *sc, ttt_hf_config *cfg) {
  bool attention_bias;
  HF_TRY(hf_get_bool(sc, "mlp_bias", false, &cfg->mlp_bias));
  HF_TRY(hf_get_bool(sc, "attention_bias", false, &attention_bias));
  cfg->q_bias = cfg->k_bias = cfg->v_bias = cfg->o_bias = attention_bias;
  return TTT_OK;
}

static const ttt_hf_config base = {.mlp_gated = true};

const hf_arch hf_arch_llama = {
    .model_type = "llama",
    .base = &base,
    .weights = {HF_LLAMA_WEIGHTS},
    .modules = {hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = parse_llama,
};
