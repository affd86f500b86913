/* Gemma-2 (Gemma2ForCausalLM): Gemma with sandwich norms (pre and post around attention and MLP),
 * attention scores soft-capped (`attn_logit_softcapping`), logits soft-capped
 * (`final_logit_softcapping`), softmax scale query_pre_attn_scalar^-0.5, and a sliding window on
 * even layers (or as `layer_types` says). The sandwich tables are shared with gemma3_text. */
#include <math.h>

#include "hf_arch.h"

#define LAYER "model.layers.{L}."

const hf_weight_rule hf_sandwich_norms[] = {
    W("layers.{L}.post_attention_norm.weight", LAYER "post_attention_layernorm.weight", D_HIDDEN,
      D_NONE),
    W("layers.{L}.ffn_norm.weight", LAYER "pre_feedforward_layernorm.weight", D_HIDDEN, D_NONE),
    W("layers.{L}.post_ffn_norm.weight", LAYER "post_feedforward_layernorm.weight", D_HIDDEN,
      D_NONE),
    W_END,
};

const hf_module_rule hf_post_norm_modules[] = {
    {"layers.{L}.post_attention_norm", LAYER "post_attention_layernorm", C_ALWAYS},
    {"layers.{L}.ffn_norm", LAYER "pre_feedforward_layernorm", C_ALWAYS},
    {"layers.{L}.post_ffn_norm", LAYER "post_feedforward_layernorm", C_ALWAYS},
    {NULL, NULL, C_ALWAYS},
};

/* A soft-cap: absent → the family default, null → none. */
static ttt_status softcap(const hf_scope *sc, const char *key, double def, double *out) {
  if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(sc->obj, key))) {
    *out = 0;
    return TTT_OK;
  }
  return hf_get_num(sc, key, false, def, true, out);
}

ttt_status hf_parse_gemma_common(const hf_scope *sc, ttt_hf_config *cfg, double attn_cap,
                                 double final_cap) {
  double scalar;
  cfg->embedding_scale = sqrt((double)cfg->hidden_size);
  HF_TRY(hf_get_num(sc, "query_pre_attn_scalar", false, 256, true, &scalar));
  cfg->attention_scale = 1 / sqrt(scalar);
  HF_TRY(softcap(sc, "attn_logit_softcapping", attn_cap, &cfg->attention_softcap));
  return softcap(sc, "final_logit_softcapping", final_cap, &cfg->final_softcap);
}

static ttt_status parse_gemma2(const hf_scope *sc, ttt_hf_config *cfg) {
  int64_t window;
  bool typed;
  HF_TRY(hf_parse_gemma_common(sc, cfg, 50, 30));
  HF_TRY(hf_get_int(sc, "sliding_window", false, 4096, 1, HF_MAX_DIM, &window));
  HF_TRY(hf_parse_layer_types(sc, cfg, window, &typed));
  for (int64_t i = 0; !typed && i < cfg->num_hidden_layers; i++)
    cfg->sliding_window[i] = i % 2 == 0 ? window : 0;
  return TTT_OK;
}

static const ttt_hf_config base = {
    .mlp_gated = true, .norm_weight_offset = true, .norm_placement = TTT_NORM_SANDWICH};
static const hf_alias aliases[] = {{"hidden_act", {"hidden_activation", "hidden_act"}},
                                   {.key = NULL}};
static const hf_default defaults[] = {
    HF_NUM("bos_token_id", 2),        HF_NUM("eos_token_id", 1),
    HF_NUM("pad_token_id", 0),        HF_STR("hidden_act", "gelu_pytorch_tanh"),
    HF_NUM("tie_word_embeddings", 1), HF_DEFAULTS_END};

const hf_arch hf_arch_gemma2 = {
    .model_type = "gemma2",
    .base = &base,
    .aliases = aliases,
    .defaults = defaults,
    .weights = {hf_llama_embedding, hf_llama_input_norm, hf_llama_attention, hf_sandwich_norms,
                hf_llama_mlp, hf_llama_head},
    .modules = {hf_post_norm_modules, hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .parse = parse_gemma2,
};
