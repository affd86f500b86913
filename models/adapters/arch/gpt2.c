/* GPT-2 (GPT2LMHeadModel): learned absolute positions (`wpe`), LayerNorm with bias, biases
 * everywhere, a plain GELU MLP, tied head. Its Conv1D weights are stored [in, out] (transposed at
 * load) and `attn.c_attn` fuses q, k and v by rows of the transpose. Config keys: n_embd, n_layer,
 * n_head, n_positions, n_inner (default 4 · n_embd), activation_function, layer_norm_epsilon. */
#include "hf_arch.h"

#define LAYER "transformer.h.{L}."
#define QKV D_Q, D_KV, D_KV

static const hf_weight_rule weights[] = {
    W("embedding.table", "transformer.wte.weight", D_VOCAB, D_HIDDEN),
    W("position_embedding.table", "transformer.wpe.weight", D_POS, D_HIDDEN),
    W("layers.{L}.attention_norm.weight", LAYER "ln_1.weight", D_HIDDEN, D_NONE),
    W("layers.{L}.attention_norm.bias", LAYER "ln_1.bias", D_HIDDEN, D_NONE),
    W_FUSED("layers.{L}.attention.wq", LAYER "attn.c_attn.weight", D_Q, D_HIDDEN, C_ALWAYS, F_ROWS,
            true, 0, QKV),
    W_FUSED("layers.{L}.attention.wk", LAYER "attn.c_attn.weight", D_KV, D_HIDDEN, C_ALWAYS, F_ROWS,
            true, 1, QKV),
    W_FUSED("layers.{L}.attention.wv", LAYER "attn.c_attn.weight", D_KV, D_HIDDEN, C_ALWAYS, F_ROWS,
            true, 2, QKV),
    W_FUSED("layers.{L}.attention.bq", LAYER "attn.c_attn.bias", D_Q, D_NONE, C_ALWAYS, F_ROWS,
            false, 0, QKV),
    W_FUSED("layers.{L}.attention.bk", LAYER "attn.c_attn.bias", D_KV, D_NONE, C_ALWAYS, F_ROWS,
            false, 1, QKV),
    W_FUSED("layers.{L}.attention.bv", LAYER "attn.c_attn.bias", D_KV, D_NONE, C_ALWAYS, F_ROWS,
            false, 2, QKV),
    W_T("layers.{L}.attention.wo", LAYER "attn.c_proj.weight", D_HIDDEN, D_Q),
    W("layers.{L}.attention.bo", LAYER "attn.c_proj.bias", D_HIDDEN, D_NONE),
    W("layers.{L}.ffn_norm.weight", LAYER "ln_2.weight", D_HIDDEN, D_NONE),
    W("layers.{L}.ffn_norm.bias", LAYER "ln_2.bias", D_HIDDEN, D_NONE),
    W_T("layers.{L}.ffn.up", LAYER "mlp.c_fc.weight", D_INTER, D_HIDDEN),
    W("layers.{L}.ffn.up_bias", LAYER "mlp.c_fc.bias", D_INTER, D_NONE),
    W_T("layers.{L}.ffn.down", LAYER "mlp.c_proj.weight", D_HIDDEN, D_INTER),
    W("layers.{L}.ffn.down_bias", LAYER "mlp.c_proj.bias", D_HIDDEN, D_NONE),
    W("norm.weight", "transformer.ln_f.weight", D_HIDDEN, D_NONE),
    W("norm.bias", "transformer.ln_f.bias", D_HIDDEN, D_NONE),
    W_IF("lm_head.weight", "lm_head.weight", D_VOCAB, D_HIDDEN, C_UNTIED),
    W_IF("lm_head.weight", "transformer.wte.weight", D_VOCAB, D_HIDDEN, C_TIED),
    W_END,
};

static const hf_module_rule modules[] = {
    {"embedding", "transformer.wte", C_ALWAYS},
    {"position_embedding", "transformer.wpe", C_ALWAYS},
    {"layers.{L}", "transformer.h.{L}", C_ALWAYS},
    {"layers.{L}.attention_norm", LAYER "ln_1", C_ALWAYS},
    {"layers.{L}.attention", LAYER "attn", C_ALWAYS},
    {"layers.{L}.ffn_norm", LAYER "ln_2", C_ALWAYS},
    {"layers.{L}.ffn", LAYER "mlp", C_ALWAYS},
    {"norm", "transformer.ln_f", C_ALWAYS},
    {"lm_head", "lm_head", C_ALWAYS},
    {NULL, NULL, C_ALWAYS},
};

/* The causal-mask buffers older checkpoints saved. */
static const char *const ignored[] = {"*.attn.bias", "*.attn.masked_bias", NULL};

static ttt_status parse_gpt2(const hf_scope *sc, ttt_hf_config *cfg) {
  /* multi-head only: HF's config class has no kv heads (a num_key_value_heads key is ignored) */
  cfg->num_key_value_heads = cfg->num_attention_heads;
  return hf_get_int(sc, "n_inner", false, 4 * cfg->hidden_size, 1, HF_MAX_DIM,
                    &cfg->intermediate_size);
}

static const ttt_hf_config base = {.norm_type = TTT_NORM_LAYER,
                                   .norm_bias = true,
                                   .learned_positions = true,
                                   .q_bias = true,
                                   .k_bias = true,
                                   .v_bias = true,
                                   .o_bias = true,
                                   .mlp_bias = true};
/* GPT2Config maps the generic names onto its own; when both are given the generic one wins. */
static const hf_alias aliases[] = {
    {"hidden_size", {"hidden_size", "n_embd"}},
    {"num_hidden_layers", {"num_hidden_layers", "n_layer"}},
    {"num_attention_heads", {"num_attention_heads", "n_head"}},
    {"max_position_embeddings", {"max_position_embeddings", "n_positions"}},
    {"hidden_act", {"activation_function"}},
    {"rms_norm_eps", {"layer_norm_epsilon"}},
    {.key = NULL}};
static const hf_default defaults[] = {HF_NUM("bos_token_id", 50256),
                                      HF_NUM("eos_token_id", 50256),
                                      HF_STR("hidden_act", "gelu_new"),
                                      HF_NUM("rms_norm_eps", 1e-5),
                                      HF_NUM("tie_word_embeddings", 1),
                                      HF_NUM("intermediate_size", 0),
                                      HF_DEFAULTS_END};

const hf_arch hf_arch_gpt2 = {
    .model_type = "gpt2",
    .base = &base,
    .aliases = aliases,
    .defaults = defaults,
    .weights = {weights},
    .modules = {modules},
    .ignored = ignored,
    .parse = parse_gpt2,
};
