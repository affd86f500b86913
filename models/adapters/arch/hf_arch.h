/*
 * hf_arch.h — private: what one HuggingFace architecture is, as data (a descriptor).
 *
 * Each architecture is one file in this folder defining one `hf_arch` and one line in registry.c.
 * A descriptor says:
 *   - `base`: the fixed facts of the family that config.json does not say (encoder or decoder,
 *     which projections have biases, norm type, gated MLP, q/k norm...), as a ttt_hf_config the
 *     parser starts from;
 *   - `aliases` and `defaults`: other spellings of config keys (GPT-2's `n_embd` for
 *     `hidden_size`) and the family's defaults for absent keys;
 *   - `weights` and `modules`: the tensor-name and module-name tables (with transforms for fused or
 *     transposed tensors);
 *   - `parse`: a short hook for what the tables cannot say (which layers slide, MoE fields...).
 * The generic parser (hf_config.c), weight map (hf_weights.c) and spec builder (model_factory.c)
 * read only descriptors; none of them names a family.
 */
#ifndef TTT_HF_ARCH_H
#define TTT_HF_ARCH_H

#include <cjson/cJSON.h>

#include "ttt_hf_config.h"

/* ---------------------------------------------------------------------------------------------- */
/* Config keys */
/* ---------------------------------------------------------------------------------------------- */

#define HF_MAX_SPELLINGS 4

/* `key` is read from the first of `spellings` present in config.json (so a family that prefers
 * `hidden_activation` over `hidden_act` lists it first). */
typedef struct hf_alias {
  const char *key;
  const char *spellings[HF_MAX_SPELLINGS];
} hf_alias;

/* The family's default for an absent (or null) optional key: a number or a string. */
typedef struct hf_default {
  const char *key;
  double number;
  const char *string;
} hf_default;
#define HF_NUM(key_, value_)                                                                       \
  { .key = key_, .number = value_ }
#define HF_STR(key_, value_)                                                                       \
  { .key = key_, .string = value_ }
#define HF_DEFAULTS_END                                                                            \
  { .key = NULL }

struct hf_arch;

/* Where fields are read from: the file (for messages), the JSON object and its name ("" for the
 * root, "rope_scaling"...) so nested fields are named "rope_scaling.factor", and the descriptor
 * (its aliases and defaults apply at the root). */
typedef struct hf_scope {
  const char *src;
  const cJSON *obj;
  const char *name;
  const struct hf_arch *arch;
  const cJSON *root; /* the config's root object */
} hf_scope;

#define HF_MAX_DIM 1e12 /* any dim beyond this is a corrupt config, not a model */

/* Readers for hooks: absent or null → the family default (see hf_default) or else `def`; errors
 * name the file and the field. Numbers must be finite and fit a float. */
ttt_status hf_get_int(const hf_scope *sc, const char *key, bool required, int64_t def, double min,
                      double max, int64_t *out);
ttt_status hf_get_num(const hf_scope *sc, const char *key, bool required, double def, bool positive,
                      double *out);
/* A rope base (rope_theta and its per-family spellings): a number > 1, as the rotary embedding
 * needs (theta^(-2i/d) must fall with i). */
ttt_status hf_get_rope_theta(const hf_scope *sc, const char *key, bool required, double def,
                             double *out);
ttt_status hf_get_bool(const hf_scope *sc, const char *key, bool def, bool *out);
ttt_status hf_get_str(const hf_scope *sc, const char *key, const char **out);
/* The item of `key` (through the aliases), or NULL when absent or null. */
const cJSON *hf_field(const hf_scope *sc, const char *key);

/* Shared hook pieces (hooks.c). */
/* `sliding_window` on every layer (Mistral, Mixtral, Starcoder2). */
ttt_status hf_parse_window_all_layers(const hf_scope *sc, ttt_hf_config *cfg);
/* Qwen2/Qwen3 rules: the window counts only with use_sliding_window; `layer_types` (when given)
 * says which layers slide, else layers >= max_window_layers do. */
ttt_status hf_parse_window_qwen(const hf_scope *sc, ttt_hf_config *cfg);
/* `layer_types` (["sliding_attention", "full_attention", ...]) into sliding_window[] with `window`;
 * false in *found when the key is absent. */
ttt_status hf_parse_layer_types(const hf_scope *sc, ttt_hf_config *cfg, int64_t window,
                                bool *found);
/* num_local_experts (or `experts_key`) and num_experts_per_tok, both required. */
ttt_status hf_parse_moe_counts(const hf_scope *sc, ttt_hf_config *cfg, const char *experts_key);
/* Qwen MoE fields: num_experts, num_experts_per_tok, moe_intermediate_size, norm_topk_prob
 * (default false), and which layers are dense: mlp_only_layers, or not every
 * decoder_sparse_step-th layer. */
ttt_status hf_parse_moe_qwen(const hf_scope *sc, ttt_hf_config *cfg);

#define HF_TRY(call)                                                                               \
  do {                                                                                             \
    ttt_status hf_try_status_ = (call);                                                            \
    if (hf_try_status_ != TTT_OK) return hf_try_status_;                                           \
  } while (0)

/* ---------------------------------------------------------------------------------------------- */
/* Weight and module names */
/* ---------------------------------------------------------------------------------------------- */

/* Symbolic dims, resolved from the config. */
typedef enum hf_dim {
  D_NONE = 0, /* absent second dim: a 1-D tensor */
  D_HIDDEN,
  D_Q,  /* heads · head_dim */
  D_KV, /* kv_heads · head_dim */
  D_INTER,
  D_VOCAB,
  D_HEAD,
  D_EXPERTS,
  D_POS,
  D_TYPES,
  D_N_HEADS,      /* heads (per-head norm weights) */
  D_N_KV_HEADS,   /* kv heads */
  D_MOE_INTER,    /* an expert's width */
  D_SHARED_INTER, /* the shared expert's width */
  D_ONE,
  D_MLA_Q,   /* MLA: heads · (qk_nope_head_dim + qk_rope_head_dim) */
  D_Q_LORA,  /* q_lora_rank */
  D_KV_LORA, /* kv_lora_rank */
  D_KV_A,    /* kv_lora_rank + qk_rope_head_dim */
  D_KV_B,    /* heads · (qk_nope_head_dim + v_head_dim) */
  D_MLA_O    /* heads · v_head_dim */
} hf_dim;

/* When a rule applies (per layer where it has {L}). */
typedef enum hf_cond {
  C_ALWAYS = 0,
  C_Q_BIAS,
  C_K_BIAS,
  C_V_BIAS,
  C_O_BIAS,
  C_QK_NORM,
  C_NORM_BIAS, /* every norm has a bias */
  C_DENSE,     /* this layer's FFN is a dense MLP */
  C_DENSE_GATED /* ... and gated */,
  C_DENSE_BIAS, /* ... with biases */
  C_DENSE_GATED_BIAS,
  C_MOE, /* this layer's FFN is a mixture of experts */
  C_SHARED_EXPERT,
  C_LM_HEAD_BIAS,
  C_QK_NORM_BIAS,
  C_TIED,
  C_UNTIED,
  C_Q_LORA,           /* MLA with a q LoRA (q_a_proj, q_a_layernorm, q_b_proj) */
  C_NO_Q_LORA,        /* MLA with a direct q_proj */
  C_SCORE_BIAS,       /* MoE layer with a selection bias (e_score_correction_bias) */
  C_AFTER_FIRST_LAYER /* every layer but layer 0 */
} hf_cond;

/* How the model's tensor is made from the checkpoint's. */
typedef enum hf_fuse {
  F_NONE = 0,
  F_ROWS, /* the checkpoint stacks `parts` along rows ([q; k; v]); this weight is part `part` */
  F_HEADS /* per head [h][part][head_dim] rows (GPT-NeoX query_key_value); parts are equal */
} hf_fuse;

typedef struct hf_weight_rule {
  const char *path; /* module weight path, "layers.{L}.attention.wq" */
  const char *hf;   /* checkpoint tensor, "model.layers.{L}.self_attn.q_proj.weight" */
  hf_dim d0, d1;    /* the model's shape ([out, in] for projections) */
  hf_cond when;
  bool optional;
  bool transposed; /* stored [in, out] (GPT-2 Conv1D): the model's weight is its transpose */
  hf_fuse fuse;
  hf_dim parts[3]; /* fused: the row blocks of the checkpoint tensor, D_NONE-terminated */
  int8_t part;
} hf_weight_rule;

/* Table rows (designated, so unnamed fields are zero): a weight always present, one under a
 * condition, an optional one, a transposed (Conv1D) one, and part `part` of a fused tensor whose
 * row blocks are the remaining arguments. */
#define W(path_, hf_, d0_, d1_)                                                                    \
  { .path = path_, .hf = hf_, .d0 = d0_, .d1 = d1_ }
#define W_IF(path_, hf_, d0_, d1_, when_)                                                          \
  { .path = path_, .hf = hf_, .d0 = d0_, .d1 = d1_, .when = when_ }
#define W_OPTIONAL(path_, hf_, d0_, d1_)                                                           \
  { .path = path_, .hf = hf_, .d0 = d0_, .d1 = d1_, .optional = true }
#define W_T(path_, hf_, d0_, d1_)                                                                  \
  { .path = path_, .hf = hf_, .d0 = d0_, .d1 = d1_, .transposed = true }
#define W_FUSED(path_, hf_, d0_, d1_, when_, fuse_, transposed_, part_, ...)                       \
  {                                                                                                \
    .path = path_, .hf = hf_, .d0 = d0_, .d1 = d1_, .when = when_, .transposed = transposed_,      \
    .fuse = fuse_, .parts = {__VA_ARGS__}, .part = part_                                           \
  }
#define W_END                                                                                      \
  { .path = NULL }

/* Module rules: path, HF module, condition. For one path the first rule is the HF name written by
 * ttt_hf_path_to_module; later ones are aliases read by ttt_hf_module_to_path. */
typedef struct hf_module_rule {
  const char *path;
  const char *hf;
  hf_cond when;
} hf_module_rule;

/* ---------------------------------------------------------------------------------------------- */
/* The descriptor */
/* ---------------------------------------------------------------------------------------------- */

typedef ttt_status (*hf_parse_hook)(const hf_scope *sc, ttt_hf_config *cfg);

#define HF_MAX_TABLES 8

typedef struct hf_arch {
  const char *model_type;     /* config.json's model_type */
  const ttt_hf_config *base;  /* fixed facts; the parser starts from a copy */
  const hf_alias *aliases;    /* {NULL}-terminated; may be NULL */
  const hf_default *defaults; /* {NULL}-terminated; may be NULL */
  /* Weight tables (each W_END-terminated), read as one: rules without {L} apply once, each run of
   * per-layer rules repeats per layer, so list them in model order. */
  const hf_weight_rule *weights[HF_MAX_TABLES];
  /* Module tables ({NULL}-terminated): the first rule matching a name wins, so a descriptor's own
   * table listed before a shared one overrides it. */
  const hf_module_rule *modules[HF_MAX_TABLES];
  /* Checkpoint tensors the model does not use: exact names, "prefix*" or "*suffix". */
  const char *const *ignored;
  const char *name_prefix; /* a prefix some checkpoints put before every name ("bert."); or NULL */
  /* HF's embedding module returns the rows before the family's embedding_scale (granite scales
   * outside it; gemma's module scales inside). */
  bool embedding_trace_unscaled;
  /* HF's q_norm / k_norm trace is [heads, T, head_dim] (gemma3 normalizes after moving the heads
   * first) where the library's event is [T, heads, head_dim]. */
  bool qk_norm_trace_heads_first;
  /* yarn rope_scaling may carry mscale / mscale_all_dim (DeepSeek); refused otherwise. */
  bool yarn_mscale;
  hf_parse_hook parse; /* after the generic fields; may be NULL */
} hf_arch;

#define HF_COUNT(a) ((int32_t)(sizeof(a) / sizeof((a)[0])))

/* The registry (registry.c): every architecture, in the order of ttt_hf_model_type. */
extern const hf_arch *const hf_archs[];
extern const int32_t hf_n_archs;

/* The descriptor of a parsed config (never NULL for a config from ttt_hf_config_parse). */
const hf_arch *hf_arch_of(const ttt_hf_config *cfg);

/* Shared tables of the Llama layout (llama.c), which most decoders combine with their own: */
extern const hf_weight_rule hf_llama_embedding[];  /* model.embed_tokens → embedding.table */
extern const hf_weight_rule hf_llama_input_norm[]; /* input_layernorm → attention_norm */
extern const hf_weight_rule hf_llama_attention[];  /* self_attn.{q,k,v,o}_proj (+ biases) */
extern const hf_weight_rule hf_llama_qk_norm[];    /* self_attn.{q,k}_norm, one [head_dim] each */
extern const hf_weight_rule hf_llama_ffn_norm[];   /* post_attention_layernorm → ffn_norm */
extern const hf_weight_rule hf_llama_mlp[];        /* mlp.{gate,up,down}_proj (+ biases) */
extern const hf_weight_rule hf_llama_head[];       /* model.norm, lm_head (tied or not) */
extern const hf_module_rule hf_llama_modules[];
extern const char *const hf_decoder_ignored[];
/* Gemma-2's sandwich norms (gemma2.c) and the post-norm module names (post_attention_layernorm,
 * pre_feedforward_layernorm, post_feedforward_layernorm), shared by gemma3_text and olmo2. */
extern const hf_weight_rule hf_sandwich_norms[];
extern const hf_module_rule hf_post_norm_modules[];
/* Gemma's scalings: sqrt(hidden) embedding, query_pre_attn_scalar, soft-caps (absent → these
 * defaults, null → none). */
ttt_status hf_parse_gemma_common(const hf_scope *sc, ttt_hf_config *cfg, double attn_cap,
                                 double final_cap);
/* BERT's layout and options (bert.c), shared by roberta and xlm-roberta: the tables with
 * embeddings.*, encoder.layer.{L}.*, pooler.*; the hook reads type_vocab_size and refuses the
 * decoder / relative-position variants. */
extern const hf_weight_rule hf_bert_weights[];
extern const hf_module_rule hf_bert_modules[];
ttt_status hf_parse_bert(const hf_scope *sc, ttt_hf_config *cfg);
/* The Qwen MoE layout (qwen3_moe.c): `mlp.gate` routing `mlp.experts.E` on MoE layers. */
extern const hf_weight_rule hf_qwen_moe_experts[];

/* Llama's full weight list, for .weights = {HF_LLAMA_WEIGHTS}. */
#define HF_LLAMA_WEIGHTS                                                                           \
  hf_llama_embedding, hf_llama_input_norm, hf_llama_attention, hf_llama_ffn_norm, hf_llama_mlp,    \
      hf_llama_head

#endif /* TTT_HF_ARCH_H */
