/* Starcoder2 (Starcoder2ForCausalLM): LayerNorm with bias (`norm_epsilon`), a plain GELU MLP
 * `mlp.c_fc` → `mlp.c_proj`, biases on every projection with `use_bias`, `sliding_window` on
 * every layer, tied head. */
#include "hf_arch.h"

#define LAYER "model.layers.{L}."

static const hf_weight_rule mlp[] = {
    W("layers.{L}.ffn.up", LAYER "mlp.c_fc.weight", D_INTER, D_HIDDEN),
    W("layers.{L}.ffn.down", LAYER "mlp.c_proj.weight", D_HIDDEN, D_INTER),
    W_IF("layers.{L}.ffn.up_bias", LAYER "mlp.c_fc.bias", D_INTER, D_NONE, C_DENSE_BIAS),
    W_IF("layers.{L}.ffn.down_bias", LAYER "mlp.c_proj.bias", D_HIDDEN, D_NONE, C_DENSE_BIAS),
    W_END,
};

static ttt_status parse_starcoder2(const hf_scope *sc, ttt_hf_config *cfg) {
  bool bias;
  HF_TRY(hf_get_bool(sc, "use_bias", true, &bias));
  cfg->q_bias = cfg->k_bias = cfg->v_bias = cfg->o_bias = cfg->mlp_bias = bias;
  return hf_parse_window_all_layers(sc, cfg);
}

static const ttt_hf_config base = {.norm_type = TTT_NORM_LAYER, .norm_bias = true};
static const hf_alias aliases[] = {{"rms_norm_eps", {"norm_epsilon"}}, {.key = NULL}};
static const hf_default defaults[] = {HF_NUM("bos_token_id", 50256),
                                      HF_NUM("eos_token_id", 50256),
                                      HF_STR("hidden_act", "gelu_pytorch_tanh"),
                                      HF_NUM("rms_norm_eps", 1e-5),
                                      HF_NUM("tie_word_embeddings", 1),
                                      HF_DEFAULTS_END};

const hf_arch hf_arch_starcoder2 = {
    .model_type = "starcoder2",
    .base = &base,
    .aliases = aliases,
    .defaults = defaults,
    .weights = {hf_llama_embedding, hf_llama_input_norm, hf_llama_attention, hf_llama_ffn_norm, mlp,
                hf_llama_head},
    .modules = {hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = parse_starcoder2,
};
