/*
 * ttt_hf_config.h — HuggingFace config.json → ttt_hf_config → the core's block specs.
 *
 * Not part of the core library. Each supported model_type is a descriptor in models/adapters/arch/
 * (bert, an encoder, and the causal decoders llama, mistral, qwen2, qwen3, mixtral, gemma, gemma2,
 * gemma3_text, phi3, phi, gpt2, gpt_neox, qwen2_moe, qwen3_moe, olmo2, starcoder2, granite, cohere,
 * stablelm; see the README's architecture table), which may rename keys (gpt2's n_embd) and change
 * defaults. Both spellings HF writes are accepted: the Hub's `rope_theta` +
 * `rope_scaling` (with `type` or `rope_type`) and transformers 5's `rope_parameters` (which holds
 * rope_theta and rope_type).
 *
 * Defaults follow the transformers config classes where a field is absent (or null where HF
 * allows null): num_key_value_heads → num_attention_heads, head_dim → hidden / heads,
 * hidden_act → silu, rope_theta → 10000, rms_norm_eps → 1e-6, tie_word_embeddings → false,
 * use_sliding_window → false, max_window_layers → 28; a family's descriptor may change a default
 * (mixtral: rope_theta 1e6, rms_norm_eps 1e-5; bert: hidden_act gelu, layer_norm_eps 1e-12,
 * tie_word_embeddings true, type_vocab_size 2) or a key's spelling (bert: layer_norm_eps).
 * vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
 * max_position_embeddings (and for mixtral num_local_experts, num_experts_per_tok; for the qwen
 * MoEs num_experts, num_experts_per_tok, moe_intermediate_size) are required unless the family
 * gives a default (gpt2's n_inner → 4 · n_embd).
 * Numbers must be finite and within float range; llama3 rope scaling needs low_freq_factor <
 * high_freq_factor.
 *
 * Errors name the file and the field: TTT_ERR_FORMAT for missing required fields, wrong JSON types
 * and invalid values; TTT_ERR_UNSUPPORTED for a model_type, rope_type, hidden_act or option this
 * library does not implement, with the list of what is supported.
 */
#ifndef TTT_HF_CONFIG_H
#define TTT_HF_CONFIG_H

#include <ttt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The index of the model's descriptor in the registry (models/adapters/arch/registry.c). The
 * first six are fixed; later architectures have no constant (compare ttt_hf_model_type_name). */
typedef enum ttt_hf_model_type {
  TTT_HF_LLAMA = 0,
  TTT_HF_MISTRAL,
  TTT_HF_QWEN2,
  TTT_HF_QWEN3,
  TTT_HF_MIXTRAL,
  TTT_HF_BERT
} ttt_hf_model_type;

typedef enum ttt_hf_arch {
  TTT_HF_DECODER = 0, /* causal LM: embedding, pre-norm decoder layers, final norm, lm_head */
  TTT_HF_ENCODER      /* BERT: word+position+token-type embeddings, post-norm layers, pooler */
} ttt_hf_arch;

#define TTT_HF_MAX_EOS 8

typedef struct ttt_hf_config {
  ttt_hf_model_type model_type;
  ttt_hf_arch arch;
  int64_t vocab_size;
  int64_t hidden_size;
  int64_t intermediate_size;
  int64_t num_hidden_layers; /* 1..TTT_MAX_LAYERS */
  int64_t num_attention_heads;
  int64_t num_key_value_heads;
  int64_t head_dim; /* resolved: never 0 */
  int64_t max_position_embeddings;
  ttt_activation hidden_act;
  double norm_eps; /* rms_norm_eps for decoders, layer_norm_eps for bert */
  bool tie_word_embeddings;
  /* Every norm of the model (the family's fact: RMSNorm for decoders, LayerNorm with bias for
   * bert; Gemma's RMSNorm scales by 1 + w). */
  ttt_norm_type norm_type;
  bool norm_bias, norm_weight_offset;
  /* Which projections carry biases, resolved per model type (qwen2: q/k/v always; llama, qwen3:
   * attention_bias on all four; mistral, mixtral: none; bert: all). */
  bool q_bias, k_bias, v_bias, o_bias;
  bool mlp_bias;              /* llama's mlp_bias; bert: true */
  bool mlp_gated;             /* gate and up projections (decoders); bert: up only */
  ttt_qk_norm qk_norm;        /* q/k normalization before rope (qwen3: per head) */
  ttt_norm_type qk_norm_type; /* RMSNorm (qwen3, gemma3, olmo2) or LayerNorm (cohere, phi) */
  bool qk_norm_bias;          /* the q/k LayerNorms have biases */

  /* Decoder-layer topology (see ttt_decoder_layer_spec): where the norms sit, how the sublayers
   * meet the residual stream, and the multiplier of each sublayer's output (0 → 1). */
  ttt_norm_placement norm_placement;
  ttt_residual_topology residual;
  double residual_multiplier;
  bool learned_positions; /* absolute position embedding [max_position_embeddings, hidden] (gpt2);
                             such models have no rope */

  /* Rotary embedding (bert: TTT_ROPE_NONE). */
  ttt_rope_type rope_type;
  double rope_theta;
  double rope_factor;
  double rope_low_freq_factor, rope_high_freq_factor;           /* llama3 */
  int64_t rope_original_max_positions;                          /* llama3, dynamic, yarn */
  double rope_beta_fast, rope_beta_slow, rope_attention_factor; /* yarn (0 = default) */
  int64_t rotary_dim; /* partial_rotary_factor · head_dim; equals head_dim without it */
  float rope_short_factor[TTT_MAX_ROPE_FACTORS]; /* longrope: rotary_dim / 2 each */
  float rope_long_factor[TTT_MAX_ROPE_FACTORS];

  /* Sliding window per layer, 0 = full attention. Mistral: `sliding_window` on every layer.
   * Qwen2/Qwen3: `layer_types` when present, else layers >= max_window_layers slide when
   * use_sliding_window (as transformers derives layer_types). */
  int64_t sliding_window[TTT_MAX_LAYERS];

  /* Mixture of experts (mixtral, qwen*_moe); 0 experts = dense FFN. */
  int64_t num_local_experts;
  int64_t num_experts_per_tok;
  int64_t moe_intermediate_size; /* each expert's width; 0 → intermediate_size */
  bool moe_no_renormalize;       /* top-k weights not rescaled to sum to 1 (!norm_topk_prob) */
  int64_t shared_expert_intermediate_size; /* qwen2_moe: an always-on expert; 0 = none */
  bool shared_expert_gate;                 /* scaled by sigmoid(shared_gate · x) */
  bool dense_layer[TTT_MAX_LAYERS]; /* with experts: layers whose FFN is a dense MLP instead */

  /* Multi-head latent attention (deepseek_v3): kv_lora_rank > 0 makes every layer an MLA layer
   * (ttt_hf_mla_spec); q_lora_rank 0 (null) is a direct q_proj. */
  int64_t q_lora_rank, kv_lora_rank;
  int64_t qk_nope_head_dim, qk_rope_head_dim, v_head_dim;
  double rope_mscale_all_dim; /* yarn: the softmax-scale correction of ttt_mla_spec */
  /* DeepSeek-V3 routing (see ttt_moe_spec): sigmoid scores, e_score_correction_bias for the
   * selection, group-limited top-k, routed_scaling_factor (0 → 1). */
  ttt_moe_routing moe_routing;
  bool moe_score_correction_bias;
  int64_t moe_n_group, moe_topk_group;
  double moe_routed_scaling_factor;

  /* Scalings and caps; 0 = none (the usual 1/sqrt(head_dim) softmax scale, no cap). */
  double embedding_scale;   /* embedding rows × this (gemma: sqrt(hidden)) */
  double attention_scale;   /* softmax scale (gemma2/3: query_pre_attn_scalar^-0.5) */
  double attention_softcap; /* attention scores (gemma2: attn_logit_softcapping) */
  double final_softcap;     /* logits (gemma2: final_logit_softcapping) */
  double logit_scale;       /* logits × this before the cap (cohere logit_scale) */
  bool lm_head_bias;
  bool rope_interleaved; /* GPT-J pairs (2i, 2i+1) instead of rotate-half */
  /* Layers with a sliding window use the default rope with this theta (gemma3's
   * rope_local_base_freq); 0: every layer uses the rope above. */
  double local_rope_theta;

  /* Encoders. type_vocab_size 0: no token-type embedding (distilbert). Position-table row of
   * the first token, and whether positions count only non-pad tokens (roberta: padding_idx + 1,
   * counting; see ttt_encoder_spec). */
  int64_t type_vocab_size;
  int64_t position_offset;
  bool positions_skip_padding;
  /* Pre-norm encoder layers (modernbert), the first without an attention norm, and a final norm;
   * with rope_type set the layers' rope replaces the position table. */
  bool encoder_pre_norm, first_layer_no_attention_norm, encoder_final_norm;

  /* Special tokens; -1 when absent or null. */
  int64_t bos_token_id;
  int64_t pad_token_id;
  int64_t eos_token_ids[TTT_HF_MAX_EOS];
  int32_t n_eos_token_ids;
} ttt_hf_config;

/* Parses `json_len` bytes of JSON; `source` names it in errors (usually the file path). */
ttt_status ttt_hf_config_parse(const char *json, size_t json_len, const char *source,
                               ttt_hf_config *out);
/* Reads a config file, or `path`/config.json when `path` is a folder. */
ttt_status ttt_hf_config_load(const char *path, ttt_hf_config *out);

/* "llama", "mistral", ... */
const char *ttt_hf_model_type_name(ttt_hf_model_type type);
/* One line: "llama: 2 layers, hidden 64, 4 heads (2 kv, head_dim 16), ffn 160, vocab 512, rope
 * llama3 theta 500000". */
void ttt_hf_config_describe(const ttt_hf_config *cfg, char *buf, size_t size);

/* ---------------------------------------------------------------------------------------------- */
/* Block specs. Values were checked when the config was parsed (positive dims, heads dividing, */
/* eps > 0...); the core's ttt_X_spec_validate runs again when a block or model is built.       */
/* ---------------------------------------------------------------------------------------------- */

/* Rotary embedding of every layer (type NONE for bert); max_positions = max_position_embeddings. */
ttt_status ttt_hf_rope_spec(const ttt_hf_config *cfg, ttt_rope_spec *out);
/* Attention of layer `layer` (sliding windows differ per layer); TTT_ERR_OUT_OF_RANGE for a bad
 * layer. BERT: bidirectional, all biases, no rope. */
ttt_status ttt_hf_attention_spec(const ttt_hf_config *cfg, int64_t layer, ttt_attention_spec *out);
/* Every norm of the model (attention_norm, ffn_norm, final norm; bert: embeddings.norm too):
 * RMSNorm(rms_norm_eps) for decoders, LayerNorm with bias(layer_norm_eps) for bert. */
ttt_status ttt_hf_norm_spec(const ttt_hf_config *cfg, ttt_norm_spec *out);
/* True when the layers use multi-head latent attention (build them with ttt_hf_mla_spec instead
 * of ttt_hf_attention_spec). */
bool ttt_hf_is_mla(const ttt_hf_config *cfg);
/* MLA of every layer: ranks and head dims from the config; rope over qk_rope_head_dim
 * (rope_interleave layout), YaRN mscale_all_dim. */
ttt_status ttt_hf_mla_spec(const ttt_hf_config *cfg, ttt_mla_spec *out);
/* True when the model has mixtures of experts (use ttt_hf_moe_spec), false for dense MLPs. */
bool ttt_hf_is_moe(const ttt_hf_config *cfg);
/* True when layer `layer`'s FFN is a mixture of experts (false for qwen2_moe's dense layers). */
bool ttt_hf_is_moe_layer(const ttt_hf_config *cfg, int64_t layer);
/* Dense FFN: gated (SwiGLU...) for decoders, plain up/down with biases for bert.
 * TTT_ERR_INVALID_ARGUMENT for a model whose every layer is a MoE. */
ttt_status ttt_hf_mlp_spec(const ttt_hf_config *cfg, ttt_mlp_spec *out);
/* MoE FFN (mixtral: gated silu experts of intermediate_size, softmax top-k, renormalized).
 * TTT_ERR_INVALID_ARGUMENT for a dense model. */
ttt_status ttt_hf_moe_spec(const ttt_hf_config *cfg, ttt_moe_spec *out);
/* Token (word) embedding: [vocab_size, hidden_size]. */
ttt_status ttt_hf_embedding_spec(const ttt_hf_config *cfg, ttt_embedding_spec *out);
/* Encoders: absolute position [max_position_embeddings, hidden] and token type [type_vocab_size,
 * hidden] embeddings (vocab 0 and dim 0 when type_vocab_size is 0). */
ttt_status ttt_hf_position_embedding_spec(const ttt_hf_config *cfg, ttt_embedding_spec *out);
ttt_status ttt_hf_token_type_embedding_spec(const ttt_hf_config *cfg, ttt_embedding_spec *out);
/* Decoders only: [vocab, hidden], no bias. */
ttt_status ttt_hf_lm_head_spec(const ttt_hf_config *cfg, ttt_lm_head_spec *out);
/* Decoders only: a KV cache for `max_positions` (0 → max_position_embeddings) positions in
 * `dtype` (0 → f32) with the per-layer sliding windows. */
ttt_status ttt_hf_kv_cache_spec(const ttt_hf_config *cfg, int64_t max_positions, ttt_dtype dtype,
                                ttt_kv_cache_spec *out);

#ifdef __cplusplus
}
#endif

#endif /* TTT_HF_CONFIG_H */
