/* Phi-2 (PhiForCausalLM): attention and MLP in parallel from one LayerNorm (with bias), partial
 * rotary, biases on every projection (`self_attn.dense` is the output projection), a plain GELU
 * MLP `mlp.fc1` → `mlp.fc2`, a final LayerNorm `model.final_layernorm`, an lm_head with bias; with
 * `qk_layernorm`, q and k LayerNorms over each head shared by all heads. */
#include "hf_arch.h"

#define LAYER "model.layers.{L}."

static const hf_weight_rule weights[] = {
    W("embedding.table", "model.embed_tokens.weight", D_VOCAB, D_HIDDEN),
    W("layers.{L}.attention_norm.weight", LAYER "input_layernorm.weight", D_HIDDEN, D_NONE),
    W("layers.{L}.attention_norm.bias", LAYER "input_layernorm.bias", D_HIDDEN, D_NONE),
    W("layers.{L}.attention.wq", LAYER "self_attn.q_proj.weight", D_Q, D_HIDDEN),
    W("layers.{L}.attention.wk", LAYER "self_attn.k_proj.weight", D_KV, D_HIDDEN),
    W("layers.{L}.attention.wv", LAYER "self_attn.v_proj.weight", D_KV, D_HIDDEN),
    W("layers.{L}.attention.wo", LAYER "self_attn.dense.weight", D_HIDDEN, D_Q),
    W("layers.{L}.attention.bq", LAYER "self_attn.q_proj.bias", D_Q, D_NONE),
    W("layers.{L}.attention.bk", LAYER "self_attn.k_proj.bias", D_KV, D_NONE),
    W("layers.{L}.attention.bv", LAYER "self_attn.v_proj.bias", D_KV, D_NONE),
    W("layers.{L}.attention.bo", LAYER "self_attn.dense.bias", D_HIDDEN, D_NONE),
    W_IF("layers.{L}.attention.q_norm", LAYER "self_attn.q_layernorm.weight", D_HEAD, D_NONE,
         C_QK_NORM),
    W_IF("layers.{L}.attention.q_norm_bias", LAYER "self_attn.q_layernorm.bias", D_HEAD, D_NONE,
         C_QK_NORM),
    W_IF("layers.{L}.attention.k_norm", LAYER "self_attn.k_layernorm.weight", D_HEAD, D_NONE,
         C_QK_NORM),
    W_IF("layers.{L}.attention.k_norm_bias", LAYER "self_attn.k_layernorm.bias", D_HEAD, D_NONE,
         C_QK_NORM),
    W("layers.{L}.ffn.up", LAYER "mlp.fc1.weight", D_INTER, D_HIDDEN),
    W("layers.{L}.ffn.up_bias", LAYER "mlp.fc1.bias", D_INTER, D_NONE),
    W("layers.{L}.ffn.down", LAYER "mlp.fc2.weight", D_HIDDEN, D_INTER),
    W("layers.{L}.ffn.down_bias", LAYER "mlp.fc2.bias", D_HIDDEN, D_NONE),
    W("norm.weight", "model.final_layernorm.weight", D_HIDDEN, D_NONE),
    W("norm.bias", "model.final_layernorm.bias", D_HIDDEN, D_NONE),
    W_IF("lm_head.weight", "lm_head.weight", D_VOCAB, D_HIDDEN, C_UNTIED),
    W_IF("lm_head.weight", "model.embed_tokens.weight", D_VOCAB, D_HIDDEN, C_TIED),
    W("lm_head.bias", "lm_head.bias", D_VOCAB, D_NONE),
    W_END,
};

static const hf_module_rule modules[] = {
    {"norm", "model.final_layernorm", C_ALWAYS},
    {"layers.{L}.attention.q_norm", LAYER "self_attn.q_layernorm", C_QK_NORM},
    {"layers.{L}.attention.k_norm", LAYER "self_attn.k_layernorm", C_QK_NORM},
    {NULL, NULL, C_ALWAYS},
};

static ttt_status parse_phi(const hf_scope *sc, ttt_hf_config *cfg) {
  bool qk_layernorm;
  HF_TRY(hf_get_bool(sc, "qk_layernorm", false, &qk_layernorm));
  cfg->qk_norm = qk_layernorm ? TTT_QK_NORM_HEAD : TTT_QK_NORM_NONE;
  cfg->qk_norm_bias = qk_layernorm;
  return TTT_OK;
}

static const ttt_hf_config base = {.norm_type = TTT_NORM_LAYER,
                                   .norm_bias = true,
                                   .residual = TTT_RESIDUAL_PARALLEL,
                                   .q_bias = true,
                                   .k_bias = true,
                                   .v_bias = true,
                                   .o_bias = true,
                                   .mlp_bias = true,
                                   .lm_head_bias = true,
                                   .qk_norm_type = TTT_NORM_LAYER};
static const hf_alias aliases[] = {{"rms_norm_eps", {"layer_norm_eps"}}, {.key = NULL}};
static const hf_default defaults[] = {HF_NUM("bos_token_id", 1), HF_NUM("eos_token_id", 2),
                                      HF_STR("hidden_act", "gelu_new"),
                                      HF_NUM("rms_norm_eps", 1e-5), HF_DEFAULTS_END};

const hf_arch hf_arch_phi = {
    .model_type = "phi",
    .base = &base,
    .aliases = aliases,
    .defaults = defaults,
    .weights = {weights},
    .modules = {modules, hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = parse_phi,
};
