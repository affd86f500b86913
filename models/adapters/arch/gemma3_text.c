/* Gemma-3 text (Gemma3ForCausalLM, model_type gemma3_text): Gemma-2's sandwich layout without
 * soft-caps by default, q/k RMSNorm per head (scaled by 1 + w), local (sliding) layers every
 * layer but each `sliding_window_pattern`-th (or as `layer_types` says), local layers with the
 * plain rope of `rope_local_base_freq`, global layers with rope_theta and rope_scaling. */
#include "hf_arch.h"

static ttt_status parse_gemma3(const hf_scope *sc, ttt_hf_config *cfg) {
  int64_t window, pattern;
  bool typed;
  HF_TRY(hf_parse_gemma_common(sc, cfg, 0, 0));
  HF_TRY(hf_get_rope_theta(sc, "rope_local_base_freq", false, 10000, &cfg->local_rope_theta));
  HF_TRY(hf_get_int(sc, "sliding_window", false, 4096, 1, HF_MAX_DIM, &window));
  HF_TRY(hf_parse_layer_types(sc, cfg, window, &typed));
  HF_TRY(hf_get_int(sc, "sliding_window_pattern", false, 6, 1, HF_MAX_DIM, &pattern));
  for (int64_t i = 0; !typed && i < cfg->num_hidden_layers; i++)
    cfg->sliding_window[i] = (i + 1) % pattern != 0 ? window : 0;
  return TTT_OK;
}

static const ttt_hf_config base = {.mlp_gated = true,
                                   .norm_weight_offset = true,
                                   .norm_placement = TTT_NORM_SANDWICH,
                                   .qk_norm = TTT_QK_NORM_HEAD};
static const hf_alias aliases[] = {{"hidden_act", {"hidden_activation", "hidden_act"}},
                                   {.key = NULL}};
static const hf_default defaults[] = {HF_NUM("bos_token_id", 2),
                                      HF_NUM("eos_token_id", 1),
                                      HF_NUM("pad_token_id", 0),
                                      HF_STR("hidden_act", "gelu_pytorch_tanh"),
                                      HF_NUM("tie_word_embeddings", 1),
                                      HF_NUM("rope_theta", 1e6),
                                      HF_DEFAULTS_END};

const hf_arch hf_arch_gemma3_text = {
    .model_type = "gemma3_text",
    .base = &base,
    .aliases = aliases,
    .defaults = defaults,
    .weights = {hf_llama_embedding, hf_llama_input_norm, hf_llama_attention, hf_llama_qk_norm,
                hf_sandwich_norms, hf_llama_mlp, hf_llama_head},
    .modules = {hf_post_norm_modules, hf_llama_modules},
    .ignored = hf_decoder_ignored,
    .qk_norm_trace_heads_first = true,
    .parse = parse_gemma3,
};
