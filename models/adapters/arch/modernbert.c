/* ModernBERT (ModernBertModel): a pre-norm encoder with rope instead of a position table, no token
 * types, no biases (LayerNorms without bias), a GeGLU MLP and a final norm. The first layer has no
 * attention norm (HF's nn.Identity). Every global_attn_every_n_layers-th layer (from 0) attends
 * globally with rope theta global_rope_theta; the others attend within a symmetric window
 * (|i - j| <= local_attention / 2) with local_rope_theta. `attn.Wqkv` stacks q, k, v by rows;
 * `mlp.Wi` stacks the activated input and the gate by rows: act(Wi_0 x) · Wi_1 x, which is the
 * core's act(gate(x)) · up(x) with gate = Wi_0 and up = Wi_1. Checkpoints saved from
 * ModernBertFor* classes prefix every name with "model." and carry task heads, which are
 * ignored. */
#include "hf_arch.h"

#define LAYER "layers.{L}."
#define QKV D_Q, D_KV, D_KV
#define GATE_UP D_INTER, D_INTER

static const hf_weight_rule weights[] = {
    W("embeddings.word.table", "embeddings.tok_embeddings.weight", D_VOCAB, D_HIDDEN),
    W("embeddings.norm.weight", "embeddings.norm.weight", D_HIDDEN, D_NONE),
    W_IF("layers.{L}.attention_norm.weight", LAYER "attn_norm.weight", D_HIDDEN, D_NONE,
         C_AFTER_FIRST_LAYER),
    W_FUSED("layers.{L}.attention.wq", LAYER "attn.Wqkv.weight", D_Q, D_HIDDEN, C_ALWAYS, F_ROWS,
            false, 0, QKV),
    W_FUSED("layers.{L}.attention.wk", LAYER "attn.Wqkv.weight", D_KV, D_HIDDEN, C_ALWAYS, F_ROWS,
            false, 1, QKV),
    W_FUSED("layers.{L}.attention.wv", LAYER "attn.Wqkv.weight", D_KV, D_HIDDEN, C_ALWAYS, F_ROWS,
            false, 2, QKV),
    W("layers.{L}.attention.wo", LAYER "attn.Wo.weight", D_HIDDEN, D_Q),
    W("layers.{L}.ffn_norm.weight", LAYER "mlp_norm.weight", D_HIDDEN, D_NONE),
    W_FUSED("layers.{L}.ffn.gate", LAYER "mlp.Wi.weight", D_INTER, D_HIDDEN, C_ALWAYS, F_ROWS,
            false, 0, GATE_UP),
    W_FUSED("layers.{L}.ffn.up", LAYER "mlp.Wi.weight", D_INTER, D_HIDDEN, C_ALWAYS, F_ROWS, false,
            1, GATE_UP),
    W("layers.{L}.ffn.down", LAYER "mlp.Wo.weight", D_HIDDEN, D_INTER),
    W("norm.weight", "final_norm.weight", D_HIDDEN, D_NONE),
    W_END,
};

static const hf_module_rule modules[] = {
    {"embeddings", "embeddings", C_ALWAYS},
    {"embeddings.word", "embeddings.tok_embeddings", C_ALWAYS},
    {"embeddings.norm", "embeddings.norm", C_ALWAYS},
    {"layers.{L}", "layers.{L}", C_ALWAYS},
    {"layers.{L}.attention_norm", LAYER "attn_norm", C_AFTER_FIRST_LAYER},
    {"layers.{L}.attention", LAYER "attn", C_ALWAYS},
    {"layers.{L}.ffn_norm", LAYER "mlp_norm", C_ALWAYS},
    {"layers.{L}.ffn", LAYER "mlp", C_ALWAYS},
    {"norm", "final_norm", C_ALWAYS},
    {.path = NULL},
};

static const char *const ignored[] = {"head.*", "decoder.*", "classifier.*", NULL};

/* Which layers are local, their window and rope theta; the biases this library does not
 * implement for ModernBERT are refused. */
static ttt_status parse_modernbert(const hf_scope *sc, ttt_hf_config *cfg) {
  bool norm_bias, attention_bias, mlp_bias;
  HF_TRY(hf_get_bool(sc, "norm_bias", false, &norm_bias));
  HF_TRY(hf_get_bool(sc, "attention_bias", false, &attention_bias));
  HF_TRY(hf_get_bool(sc, "mlp_bias", false, &mlp_bias));
  if (norm_bias || attention_bias || mlp_bias)
    return ttt_set_error(TTT_ERR_UNSUPPORTED,
                         "%s: modernbert with norm_bias, attention_bias or mlp_bias is not "
                         "supported (supported: no biases)",
                         sc->src);
  int64_t every, window;
  HF_TRY(hf_get_int(sc, "global_attn_every_n_layers", false, 3, 1, HF_MAX_DIM, &every));
  HF_TRY(hf_get_int(sc, "local_attention", false, 128, 2, HF_MAX_DIM, &window));
  HF_TRY(hf_get_rope_theta(sc, "local_rope_theta", false, 1e4, &cfg->local_rope_theta));
  for (int64_t l = 0; l < cfg->num_hidden_layers; l++)
    cfg->sliding_window[l] = l % every == 0 ? 0 : window;
  return TTT_OK;
}

static const ttt_hf_config base = {
    .arch = TTT_HF_ENCODER,
    .norm_type = TTT_NORM_LAYER,
    .mlp_gated = true,
    .rope_type = TTT_ROPE_DEFAULT,
    .encoder_pre_norm = true,
    .first_layer_no_attention_norm = true,
    .encoder_final_norm = true,
};
static const hf_alias aliases[] = {{"hidden_act", {"hidden_activation"}},
                                   {"rms_norm_eps", {"norm_eps"}},
                                   {"rope_theta", {"global_rope_theta"}},
                                   {.key = NULL}};
static const hf_default defaults[] = {HF_STR("hidden_act", "gelu"), HF_NUM("rms_norm_eps", 1e-5),
                                      HF_NUM("rope_theta", 160000.0), HF_DEFAULTS_END};

const hf_arch hf_arch_modernbert = {
    .model_type = "modernbert",
    .base = &base,
    .aliases = aliases,
    .defaults = defaults,
    .weights = {weights},
    .modules = {modules},
    .ignored = ignored,
    .name_prefix = "model.",
    .parse = parse_modernbert,
};
