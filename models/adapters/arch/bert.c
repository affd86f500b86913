/* BERT (BertModel): the bidirectional encoder — word + absolute position + token-type embeddings,
 * post-norm LayerNorm layers, an up → GELU → down MLP with biases, an optional pooler.
 * Checkpoints saved from BertFor* classes prefix every name with "bert." and carry task heads
 * ("cls.*"), which are ignored. */
#include <string.h>

#include "hf_arch.h"

#define LAYER "encoder.layer.{L}."

const hf_weight_rule hf_bert_weights[] = {
    W("embeddings.word.table", "embeddings.word_embeddings.weight", D_VOCAB, D_HIDDEN),
    W("embeddings.position.table", "embeddings.position_embeddings.weight", D_POS, D_HIDDEN),
    W("embeddings.token_type.table", "embeddings.token_type_embeddings.weight", D_TYPES, D_HIDDEN),
    W("embeddings.norm.weight", "embeddings.LayerNorm.weight", D_HIDDEN, D_NONE),
    W("embeddings.norm.bias", "embeddings.LayerNorm.bias", D_HIDDEN, D_NONE),
    W("layers.{L}.attention.wq", LAYER "attention.self.query.weight", D_Q, D_HIDDEN),
    W("layers.{L}.attention.bq", LAYER "attention.self.query.bias", D_Q, D_NONE),
    W("layers.{L}.attention.wk", LAYER "attention.self.key.weight", D_KV, D_HIDDEN),
    W("layers.{L}.attention.bk", LAYER "attention.self.key.bias", D_KV, D_NONE),
    W("layers.{L}.attention.wv", LAYER "attention.self.value.weight", D_KV, D_HIDDEN),
    W("layers.{L}.attention.bv", LAYER "attention.self.value.bias", D_KV, D_NONE),
    W("layers.{L}.attention.wo", LAYER "attention.output.dense.weight", D_HIDDEN, D_Q),
    W("layers.{L}.attention.bo", LAYER "attention.output.dense.bias", D_HIDDEN, D_NONE),
    W("layers.{L}.attention_norm.weight", LAYER "attention.output.LayerNorm.weight", D_HIDDEN,
      D_NONE),
    W("layers.{L}.attention_norm.bias", LAYER "attention.output.LayerNorm.bias", D_HIDDEN, D_NONE),
    W("layers.{L}.ffn.up", LAYER "intermediate.dense.weight", D_INTER, D_HIDDEN),
    W("layers.{L}.ffn.up_bias", LAYER "intermediate.dense.bias", D_INTER, D_NONE),
    W("layers.{L}.ffn.down", LAYER "output.dense.weight", D_HIDDEN, D_INTER),
    W("layers.{L}.ffn.down_bias", LAYER "output.dense.bias", D_HIDDEN, D_NONE),
    W("layers.{L}.ffn_norm.weight", LAYER "output.LayerNorm.weight", D_HIDDEN, D_NONE),
    W("layers.{L}.ffn_norm.bias", LAYER "output.LayerNorm.bias", D_HIDDEN, D_NONE),
    W_OPTIONAL("pooler.weight", "pooler.dense.weight", D_HIDDEN, D_HIDDEN),
    W_OPTIONAL("pooler.bias", "pooler.dense.bias", D_HIDDEN, D_NONE),
    W_END,
};

const hf_module_rule hf_bert_modules[] = {
    {"embeddings", "embeddings", C_ALWAYS},
    {"embeddings.word", "embeddings.word_embeddings", C_ALWAYS},
    {"embeddings.position", "embeddings.position_embeddings", C_ALWAYS},
    {"embeddings.token_type", "embeddings.token_type_embeddings", C_ALWAYS},
    {"embeddings.norm", "embeddings.LayerNorm", C_ALWAYS},
    {"layers.{L}", "encoder.layer.{L}", C_ALWAYS},
    {"layers.{L}.attention_norm", LAYER "attention.output.LayerNorm", C_ALWAYS},
    {"layers.{L}.ffn_norm", LAYER "output.LayerNorm", C_ALWAYS},
    {"pooler", "pooler", C_ALWAYS},
    {.path = NULL},
};

static const char *const ignored[] = {"cls.*", "embeddings.position_ids", NULL};

/* BertModel options this library does not implement are refused rather than ignored. */
ttt_status hf_parse_bert(const hf_scope *sc, ttt_hf_config *cfg) {
  const char *pos_type;
  bool is_decoder, cross;
  HF_TRY(hf_get_int(sc, "type_vocab_size", false, 2, 1, HF_MAX_DIM, &cfg->type_vocab_size));
  HF_TRY(hf_get_str(sc, "position_embedding_type", &pos_type));
  if (pos_type && strcmp(pos_type, "absolute") != 0)
    return ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "%s: position_embedding_type '%s' is not supported (supported: absolute)",
                         sc->src, pos_type);
  HF_TRY(hf_get_bool(sc, "is_decoder", false, &is_decoder));
  HF_TRY(hf_get_bool(sc, "add_cross_attention", false, &cross));
  if (is_decoder || cross)
    return ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "%s: bert with is_decoder or add_cross_attention is not supported "
                         "(supported: the bidirectional encoder)",
                         sc->src);
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
/* The generic key rms_norm_eps is spelled layer_norm_eps here. */
static const hf_alias aliases[] = {{"rms_norm_eps", {"layer_norm_eps"}}, {.key = NULL}};
static const hf_default defaults[] = {HF_STR("hidden_act", "gelu"), HF_NUM("rms_norm_eps", 1e-12),
                                      HF_NUM("tie_word_embeddings", 1), HF_DEFAULTS_END};

const hf_arch hf_arch_bert = {
    .model_type = "bert",
    .base = &base,
    .aliases = aliases,
    .defaults = defaults,
    .weights = {hf_bert_weights},
    .modules = {hf_bert_modules},
    .ignored = ignored,
    .name_prefix = "bert.",
    .parse = hf_parse_bert,
};
