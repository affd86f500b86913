/* RoBERTa (RobertaModel): BERT's layers and names, with positions that count only the non-pad
 * tokens and start at padding_idx + 1 (HF's create_position_ids_from_input_ids: a pad token reads
 * row padding_idx, the k-th real token row padding_idx + 1 + k). Checkpoints saved from
 * RobertaFor* classes prefix every name with "roberta." and carry task heads ("lm_head.*",
 * "classifier.*"), which are ignored. XLM-RoBERTa (xlm_roberta.c) is the same model. */
#include "hf_arch.h"

static const char *const ignored[] = {"lm_head.*", "classifier.*", "embeddings.position_ids",
                                      "embeddings.token_type_ids", NULL};

/* BERT's options, then the padding-aware positions from pad_token_id (RoBERTa's padding_idx). */
static ttt_status parse_roberta(const hf_scope *sc, ttt_hf_config *cfg) {
  HF_TRY(hf_parse_bert(sc, cfg));
  if (cfg->pad_token_id < 0)
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: pad_token_id is required (positions start at pad_token_id + 1)",
                         sc->src);
  if (cfg->pad_token_id >= cfg->vocab_size || cfg->pad_token_id + 2 > cfg->max_position_embeddings)
    return ttt_set_error(TTT_ERR_FORMAT,
                         "%s: pad_token_id (%lld) must be below vocab_size (%lld) and leave a "
                         "position below max_position_embeddings (%lld)",
                         sc->src, (long long)cfg->pad_token_id, (long long)cfg->vocab_size,
                         (long long)cfg->max_position_embeddings);
  cfg->position_offset = cfg->pad_token_id + 1;
  cfg->positions_skip_padding = true;
  return TTT_OK;
}

static const ttt_hf_config base = {
    .arch = TTT_HF_ENCODER,
    .norm_type = TTT_NORM_LAYER,
    .norm_bias = true,
    .q_bias = true,
    .k_bias = true,
    .v_bias = true,
    .o_bias = true,
    .mlp_bias = true,
};
static const hf_alias aliases[] = {{"rms_norm_eps", {"layer_norm_eps"}}, {.key = NULL}};
static const hf_default defaults[] = {HF_STR("hidden_act", "gelu"), HF_NUM("rms_norm_eps", 1e-12),
                                      HF_NUM("tie_word_embeddings", 1), HF_NUM("pad_token_id", 1),
                                      HF_DEFAULTS_END};

const hf_arch hf_arch_roberta = {
    .model_type = "roberta",
    .base = &base,
    .aliases = aliases,
    .defaults = defaults,
    .weights = {hf_bert_weights},
    .modules = {hf_bert_modules},
    .ignored = ignored,
    .name_prefix = "roberta.",
    .parse = parse_roberta,
};

const hf_arch hf_arch_xlm_roberta = {
    .model_type = "xlm-roberta",
    .base = &base,
    .aliases = aliases,
    .defaults = defaults,
    .weights = {hf_bert_weights},
    .modules = {hf_bert_modules},
    .ignored = ignored,
    .name_prefix = "roberta.",
    .parse = parse_roberta,
};
