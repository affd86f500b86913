/* hooks.c — hook pieces several descriptors share: which layers slide, the MoE counts and layer
 * mix. (Declared in hf_arch.h.) */
#include <string.h>

#include "../hf_json.h"
#include "hf_arch.h"

ttt_status hf_parse_window_all_layers(const hf_scope *sc, ttt_hf_config *cfg) {
  int64_t window;
  HF_TRY(hf_get_int(sc, "sliding_window", false, 0, 1, HF_MAX_DIM, &window));
  for (int64_t i = 0; i < cfg->num_hidden_layers; i++) cfg->sliding_window[i] = window;
  return TTT_OK;
}

ttt_status hf_parse_layer_types(const hf_scope *sc, ttt_hf_config *cfg, int64_t window,
                                bool *found) {
  const cJSON *types = hf_field(sc, "layer_types");
  *found = types != NULL;
  if (!types) return TTT_OK;
  if (!cJSON_IsArray(types) || cJSON_GetArraySize(types) != cfg->num_hidden_layers)
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: field 'layer_types' must be an array of num_hidden_layers (%lld) "
                         "strings",
                         sc->src, (long long)cfg->num_hidden_layers);
  const cJSON *t = types->child;
  for (int64_t i = 0; i < cfg->num_hidden_layers; i++, t = t->next) {
    bool full = cJSON_IsString(t) && strcmp(t->valuestring, "full_attention") == 0;
    bool sliding = cJSON_IsString(t) && strcmp(t->valuestring, "sliding_attention") == 0;
    if (!full && !sliding)
      return ttt_set_error(TTT_ERR_UNSUPPORTED,
                           "%s: layer_types[%lld] is not supported (supported: full_attention, "
                           "sliding_attention)",
                           sc->src, (long long)i);
    cfg->sliding_window[i] = sliding ? window : 0;
  }
  return TTT_OK;
}

ttt_status hf_parse_window_qwen(const hf_scope *sc, ttt_hf_config *cfg) {
  bool use, typed;
  int64_t window, max_window_layers;
  HF_TRY(hf_get_bool(sc, "use_sliding_window", false, &use));
  HF_TRY(hf_get_int(sc, "sliding_window", false, 0, 1, HF_MAX_DIM, &window));
  HF_TRY(hf_get_int(sc, "max_window_layers", false, 28, 0, HF_MAX_DIM, &max_window_layers));
  if (!use) window = 0;
  HF_TRY(hf_parse_layer_types(sc, cfg, window, &typed));
  for (int64_t i = 0; !typed && i < cfg->num_hidden_layers; i++)
    cfg->sliding_window[i] = i >= max_window_layers ? window : 0;
  return TTT_OK;
}

ttt_status hf_parse_moe_counts(const hf_scope *sc, ttt_hf_config *cfg, const char *experts_key) {
  HF_TRY(hf_get_int(sc, experts_key, true, 0, 1, TTT_MAX_EXPERTS, &cfg->num_local_experts));
  return hf_get_int(sc, "num_experts_per_tok", true, 0, 1, (double)cfg->num_local_experts,
                    &cfg->num_experts_per_tok);
}

ttt_status hf_parse_moe_qwen(const hf_scope *sc, ttt_hf_config *cfg) {
  bool renormalize;
  int64_t step;
  HF_TRY(hf_parse_moe_counts(sc, cfg, "num_experts"));
  HF_TRY(
      hf_get_int(sc, "moe_intermediate_size", true, 0, 1, HF_MAX_DIM, &cfg->moe_intermediate_size));
  HF_TRY(hf_get_bool(sc, "norm_topk_prob", false, &renormalize));
  cfg->moe_no_renormalize = !renormalize;
  HF_TRY(hf_get_int(sc, "decoder_sparse_step", false, 1, 1, HF_MAX_DIM, &step));
  for (int64_t l = 0; l < cfg->num_hidden_layers; l++) cfg->dense_layer[l] = (l + 1) % step != 0;
  const cJSON *only = hf_field(sc, "mlp_only_layers");
  if (!only) return TTT_OK;
  if (!cJSON_IsArray(only))
    return ttt_set_error(TTT_ERR_FORMAT, "%s: field 'mlp_only_layers' must be an array, got %s",
                         sc->src, ttt_hfj_type_name(only));
  int i = 0;
  for (const cJSON *l = only->child; l; l = l->next, i++) {
    if (!ttt_hfj_is_int(l, 0, (double)cfg->num_hidden_layers - 1))
      return ttt_set_error(TTT_ERR_FORMAT,
                           "%s: mlp_only_layers[%d] must be a layer index in [0, %lld)", sc->src, i,
                           (long long)cfg->num_hidden_layers);
    cfg->dense_layer[(int64_t)l->valuedouble] = true;
  }
  return TTT_OK;
}
