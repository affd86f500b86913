/* GPT-NeoX (GPTNeoXForCausalLM): `attention.query_key_value` fuses q, k and v per head (rows
 * [head][q|k|v][head_dim], de-interleaved at load), partial rotary (`rotary_pct`, base
 * `rotary_emb_base`), LayerNorm with bias, a plain GELU MLP with biases, attention and MLP in
 * parallel from two norms (`use_parallel_residual`, else sequential), head `embed_out`. */
#include "hf_arch.h"

#define LAYER "gpt_neox.layers.{L}."
#define QKV D_Q, D_Q, D_Q

static const hf_weight_rule weights[] = {
    W("embedding.table", "gpt_neox.embed_in.weight", D_VOCAB, D_HIDDEN),
    W("layers.{L}.attention_norm.weight", LAYER "input_layernorm.weight", D_HIDDEN, D_NONE),
    W("layers.{L}.attention_norm.bias", LAYER "input_layernorm.bias", D_HIDDEN, D_NONE),
    W_FUSED("layers.{L}.attention.wq", LAYER "attention.query_key_value.weight", D_Q, D_HIDDEN,
            C_ALWAYS, F_HEADS, false, 0, QKV),
    W_FUSED("layers.{L}.attention.wk", LAYER "attention.query_key_value.weight", D_KV, D_HIDDEN,
            C_ALWAYS, F_HEADS, false, 1, QKV),
    W_FUSED("layers.{L}.attention.wv", LAYER "attention.query_key_value.weight", D_KV, D_HIDDEN,
            C_ALWAYS, F_HEADS, false, 2, QKV),
    W_FUSED("layers.{L}.attention.bq", LAYER "attention.query_key_value.bias", D_Q, D_NONE,
            C_Q_BIAS, F_HEADS, false, 0, QKV),
    W_FUSED("layers.{L}.attention.bk", LAYER "attention.query_key_value.bias", D_KV, D_NONE,
            C_K_BIAS, F_HEADS, false, 1, QKV),
    W_FUSED("layers.{L}.attention.bv", LAYER "attention.query_key_value.bias", D_KV, D_NONE,
            C_V_BIAS, F_HEADS, false, 2, QKV),
    W("layers.{L}.attention.wo", LAYER "attention.dense.weight", D_HIDDEN, D_Q),
    W_IF("layers.{L}.attention.bo", LAYER "attention.dense.bias", D_HIDDEN, D_NONE, C_O_BIAS),
    W("layers.{L}.ffn_norm.weight", LAYER "post_attention_layernorm.weight", D_HIDDEN, D_NONE),
    W("layers.{L}.ffn_norm.bias", LAYER "post_attention_layernorm.bias", D_HIDDEN, D_NONE),
    W("layers.{L}.ffn.up", LAYER "mlp.dense_h_to_4h.weight", D_INTER, D_HIDDEN),
    W("layers.{L}.ffn.up_bias", LAYER "mlp.dense_h_to_4h.bias", D_INTER, D_NONE),
    W("layers.{L}.ffn.down", LAYER "mlp.dense_4h_to_h.weight", D_HIDDEN, D_INTER),
    W("layers.{L}.ffn.down_bias", LAYER "mlp.dense_4h_to_h.bias", D_HIDDEN, D_NONE),
    W("norm.weight", "gpt_neox.final_layer_norm.weight", D_HIDDEN, D_NONE),
    W("norm.bias", "gpt_neox.final_layer_norm.bias", D_HIDDEN, D_NONE),
    W_IF("lm_head.weight", "embed_out.weight", D_VOCAB, D_HIDDEN, C_UNTIED),
    W_IF("lm_head.weight", "gpt_neox.embed_in.weight", D_VOCAB, D_HIDDEN, C_TIED),
    W_END,
};

static const hf_module_rule modules[] = {
    {"embedding", "gpt_neox.embed_in", C_ALWAYS},
    {"layers.{L}", "gpt_neox.layers.{L}", C_ALWAYS},
    {"layers.{L}.attention_norm", LAYER "input_layernorm", C_ALWAYS},
    {"layers.{L}.attention", LAYER "attention", C_ALWAYS},
    {"layers.{L}.ffn_norm", LAYER "post_attention_layernorm", C_ALWAYS},
    {"layers.{L}.ffn", LAYER "mlp", C_ALWAYS},
    {"norm", "gpt_neox.final_layer_norm", C_ALWAYS},
    {"lm_head", "lm_head", C_ALWAYS},
    {"lm_head", "embed_out", C_ALWAYS},
    {NULL, NULL, C_ALWAYS},
};

static const char *const ignored[] = {"*.attention.bias", "*.attention.masked_bias",
                                      "*.rotary_emb.inv_freq", NULL};

static ttt_status parse_gpt_neox(const hf_scope *sc, ttt_hf_config *cfg) {
  /* multi-head only: HF's config class has no kv heads (a num_key_value_heads key is ignored) */
  cfg->num_key_value_heads = cfg->num_attention_heads;
  bool parallel, bias;
  HF_TRY(hf_get_bool(sc, "use_parallel_residual", true, &parallel));
  cfg->residual = parallel ? TTT_RESIDUAL_PARALLEL_TWO_NORMS : TTT_RESIDUAL_SEQUENTIAL;
  HF_TRY(hf_get_bool(sc, "attention_bias", true, &bias));
  cfg->q_bias = cfg->k_bias = cfg->v_bias = cfg->o_bias = bias;
  return TTT_OK;
}

static const ttt_hf_config base = {
    .norm_type = TTT_NORM_LAYER, .norm_bias = true, .mlp_bias = true};
static const hf_alias aliases[] = {{"partial_rotary_factor", {"rotary_pct"}},
                                   {"rope_theta", {"rotary_emb_base"}},
                                   {"rms_norm_eps", {"layer_norm_eps"}},
                                   {.key = NULL}};
static const hf_default defaults[] = {HF_NUM("bos_token_id", 0),
                                      HF_NUM("eos_token_id", 2),
                                      HF_STR("hidden_act", "gelu"),
                                      HF_NUM("rms_norm_eps", 1e-5),
                                      HF_NUM("partial_rotary_factor", 0.25),
                                      HF_DEFAULTS_END};

const hf_arch hf_arch_gpt_neox = {
    .model_type = "gpt_neox",
    .base = &base,
    .aliases = aliases,
    .defaults = defaults,
    .weights = {weights},
    .modules = {modules},
    .ignored = ignored,
    .parse = parse_gpt_neox,
};
