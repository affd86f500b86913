/* DistilBERT (DistilBertModel): BERT's post-norm layers under its own names, with word and
 * learned position embeddings only (no token types) and no pooler. sinusoidal_pos_embds only
 * changes how the position table is initialized: the checkpoint stores the table either way, so
 * it is read like a learned one. Its LayerNorms use eps 1e-12 (fixed in the HF code). Config keys:
 * dim, n_layers, n_heads, hidden_dim, activation. Checkpoints saved from DistilBertFor* classes
 * prefix every name with "distilbert." and carry task heads, which are ignored. */
#include "hf_arch.h"

#define LAYER "transformer.layer.{L}."

static const hf_weight_rule weights[] = {
    W("embeddings.word.table", "embeddings.word_embeddings.weight", D_VOCAB, D_HIDDEN),
    W("embeddings.position.table", "embeddings.position_embeddings.weight", D_POS, D_HIDDEN),
    W("embeddings.norm.weight", "embeddings.LayerNorm.weight", D_HIDDEN, D_NONE),
    W("embeddings.norm.bias", "embeddings.LayerNorm.bias", D_HIDDEN, D_NONE),
    W("layers.{L}.attention.wq", LAYER "attention.q_lin.weight", D_Q, D_HIDDEN),
    W("layers.{L}.attention.bq", LAYER "attention.q_lin.bias", D_Q, D_NONE),
    W("layers.{L}.attention.wk", LAYER "attention.k_lin.weight", D_KV, D_HIDDEN),
    W("layers.{L}.attention.bk", LAYER "attention.k_lin.bias", D_KV, D_NONE),
    W("layers.{L}.attention.wv", LAYER "attention.v_lin.weight", D_KV, D_HIDDEN),
    W("layers.{L}.attention.bv", LAYER "attention.v_lin.bias", D_KV, D_NONE),
    W("layers.{L}.attention.wo", LAYER "attention.out_lin.weight", D_HIDDEN, D_Q),
    W("layers.{L}.attention.bo", LAYER "attention.out_lin.bias", D_HIDDEN, D_NONE),
    W("layers.{L}.attention_norm.weight", LAYER "sa_layer_norm.weight", D_HIDDEN, D_NONE),
    W("layers.{L}.attention_norm.bias", LAYER "sa_layer_norm.bias", D_HIDDEN, D_NONE),
    W("layers.{L}.ffn.up", LAYER "ffn.lin1.weight", D_INTER, D_HIDDEN),
    W("layers.{L}.ffn.up_bias", LAYER "ffn.lin1.bias", D_INTER, D_NONE),
    W("layers.{L}.ffn.down", LAYER "ffn.lin2.weight", D_HIDDEN, D_INTER),
    W("layers.{L}.ffn.down_bias", LAYER "ffn.lin2.bias", D_HIDDEN, D_NONE),
    W("layers.{L}.ffn_norm.weight", LAYER "output_layer_norm.weight", D_HIDDEN, D_NONE),
    W("layers.{L}.ffn_norm.bias", LAYER "output_layer_norm.bias", D_HIDDEN, D_NONE),
    W_END,
};

static const hf_module_rule modules[] = {
    {"embeddings", "embeddings", C_ALWAYS},
    {"embeddings.word", "embeddings.word_embeddings", C_ALWAYS},
    {"embeddings.position", "embeddings.position_embeddings", C_ALWAYS},
    {"embeddings.norm", "embeddings.LayerNorm", C_ALWAYS},
    {"layers.{L}", "transformer.layer.{L}", C_ALWAYS},
    {"layers.{L}.attention_norm", LAYER "sa_layer_norm", C_ALWAYS},
    {"layers.{L}.ffn_norm", LAYER "output_layer_norm", C_ALWAYS},
    {.path = NULL},
};

static const char *const ignored[] = {"vocab_*",      "pre_classifier.*",        "classifier.*",
                                      "qa_outputs.*", "embeddings.position_ids", NULL};

static const ttt_hf_config base = {
    .arch = TTT_HF_ENCODER,
    .norm_type = TTT_NORM_LAYER,
    .norm_bias = true,
    .q_bias = true,
    .k_bias = true,
    .v_bias = true,
    .o_bias = true,
    .mlp_bias = true,
    .norm_eps = 1e-12,
    .type_vocab_size = 0,
};
static const hf_alias aliases[] = {{"hidden_size", {"dim"}},
                                   {"num_hidden_layers", {"n_layers"}},
                                   {"num_attention_heads", {"n_heads"}},
                                   {"intermediate_size", {"hidden_dim"}},
                                   {"hidden_act", {"activation"}},
                                   {.key = NULL}};
/* rms_norm_eps is not a DistilBERT key: the default is its fixed LayerNorm eps. */
static const hf_default defaults[] = {HF_STR("hidden_act", "gelu"), HF_NUM("rms_norm_eps", 1e-12),
                                      HF_NUM("tie_word_embeddings", 1), HF_DEFAULTS_END};

const hf_arch hf_arch_distilbert = {
    .model_type = "distilbert",
    .base = &base,
    .aliases = aliases,
    .defaults = defaults,
    .weights = {weights},
    .modules = {modules},
    .ignored = ignored,
    .name_prefix = "distilbert.",
};
