/*
 * ttt/blocks.h — building blocks: normalization, embeddings, rotary embedding, MLP / gated MLP, MoE,
 * attention with an explicit KV cache, multi-head latent attention (MLA) with a latent KV cache,
 * LM head.
 *
 * Part of the public API; include <ttt.h>, not this file directly.
 *
 * Every block X has the same face:
 *   ttt_X_spec                 the math (dims, eps, activation...). Validate with ttt_X_spec_validate().
 *   ttt_X_impl_config          how it runs. Zero-initialized fields mean "default".
 *   ttt_X_default_impl_config  defaults for a device and mode (prefill: GEMM-style; decode: GEMV).
 *   ttt_X_weights              non-owning views of the tensors the block reads.
 *   forward functions          pure: all state (KV cache, scratch) is passed in explicitly.
 *
 * Conventions for all blocks:
 *   - Activations are f32, row-major, tokens outermost: x is [T, hidden] (T tokens of one sequence).
 *   - Linear weights use the HuggingFace layout [out_features, in_features] (each output row
 *     contiguous), so y = x · Wᵀ + b. Their dtype must equal the impl config's weight_dtype
 *     (convert with ttt_tensor_convert; the patterns do this when building a model).
 *   - Norm weights and all biases are f32 vectors.
 *   - Output tensors are caller-allocated f32 views of the documented shape.
 *   - impl.threads caps the threads used (0 = all of the context's threads).
 *   - activation_dtype: f32 (default), or q8_0 with q8_0 weights: activations are quantized per
 *     32-value block and dot products run in int8 (the performance strategy).
 *   - impl may be NULL (all defaults). Zero fields resolve inside the forwards the same way in both
 *     modes: weight_dtype and activation_dtype → f32, kernel → SIMD, threads → all. So weights of
 *     another dtype need an explicit impl.weight_dtype (a DEFAULT impl does not adopt the weights'
 *     dtype). Defaults differ by mode only where the mode matters (MoE group_by_expert); an
 *     unknown mode gets the prefill defaults.
 *   - q8_0 weights need every in_features (the last dim) to be a multiple of 32.
 *   - Optional tensors (biases, gate) must be given exactly when the spec asks for them: a bias
 *     passed while spec.bias is false is an error rather than silently ignored. Vectors may be
 *     [n] or [1, n].
 *   - Errors name the tensor ("mlp.up: dtype bf16, expected f32", "moe.experts[3].down: shape
 *     must be [4096, 512], ...") or the field ("mlp spec: intermediate (0) must be >= 1").
 */
#ifndef TTT_BLOCKS_H
#define TTT_BLOCKS_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------------ */
/* Normalization: RMSNorm and LayerNorm over the last dim                                            */
/* ------------------------------------------------------------------------------------------------ */

typedef enum ttt_norm_type { TTT_NORM_RMS = 0, TTT_NORM_LAYER = 1 } ttt_norm_type;

/* "rms", "layer"; "unknown" otherwise. */
TTT_API const char *ttt_norm_type_name(ttt_norm_type type);

/* RMSNorm:   y = x / sqrt(mean(x²) + eps) * w          (w → 1 + w when weight_offset, as Gemma stores it)
 * LayerNorm: y = (x - mean) / sqrt(var + eps) * w + b  (biased variance, as PyTorch)
 * The input's last dim must equal `dim`; all leading dims are rows. A per-head norm (Qwen3 q/k norm)
 * is this block with dim = head_dim applied to a [T, heads, head_dim] tensor.
 * Statistics are accumulated in f32: kernel REFERENCE sums sequentially, SIMD keeps 8 partial sums.
 * (Gemma: store w as in the checkpoint and set weight_offset; do not add 1 to the weights.) */
typedef struct ttt_norm_spec {
  ttt_norm_type type;
  int64_t dim;
  float eps;          /* > 0 */
  bool weight_offset; /* RMSNorm only: scale by (1 + w) */
  bool bias;          /* LayerNorm only: add b */
} ttt_norm_spec;

typedef struct ttt_norm_impl_config {
  ttt_kernel kernel;
  int32_t threads;
} ttt_norm_impl_config;

typedef struct ttt_norm_weights {
  ttt_tensor weight; /* [dim] f32 */
  ttt_tensor bias;   /* [dim] f32, LayerNorm with spec.bias */
} ttt_norm_weights;

TTT_API ttt_status ttt_norm_spec_validate(const ttt_norm_spec *spec);
TTT_API ttt_norm_impl_config ttt_norm_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                          const ttt_norm_spec *spec);
/* x: [..., dim] f32; out: same number of rows f32; out may equal x (in place) but must not
 * partially overlap it. */
TTT_API ttt_status ttt_norm_forward(ttt_context *ctx, const ttt_norm_spec *spec,
                                    const ttt_norm_impl_config *impl,
                                    const ttt_norm_weights *weights, const ttt_tensor *x,
                                    ttt_tensor *out);

/* ------------------------------------------------------------------------------------------------ */
/* Embedding: a learned lookup table (token, absolute position, or token-type embedding)              */
/* ------------------------------------------------------------------------------------------------ */

typedef struct ttt_embedding_spec {
  int64_t vocab; /* rows of the table */
  int64_t dim;
  float scale; /* multiply looked-up rows by this; 0 means 1 (Gemma uses sqrt(dim)) */
} ttt_embedding_spec;

typedef struct ttt_embedding_impl_config {
  ttt_dtype weight_dtype; /* f32, bf16, f16 or q8_0 table (q8_0: dim % 32 == 0); rows are decoded
                             to f32, there is no matmul, hence no kernel or activation dtype */
  int32_t threads;
} ttt_embedding_impl_config;

typedef struct ttt_embedding_weights {
  ttt_tensor table; /* [vocab, dim] */
} ttt_embedding_weights;

TTT_API ttt_status ttt_embedding_spec_validate(const ttt_embedding_spec *spec);
TTT_API ttt_embedding_impl_config ttt_embedding_default_impl_config(const ttt_device *device,
                                                                    ttt_mode mode,
                                                                    const ttt_embedding_spec *spec);
/* ids: n >= 1 indices; an id outside [0, vocab) is TTT_ERR_OUT_OF_RANGE naming the id and its
 * index, detected before anything is written (out is left untouched).
 * out: [n, dim] f32. When `accumulate` is true the rows are added to out (BERT sums word, position
 * and token-type embeddings); otherwise out is overwritten. */
TTT_API ttt_status ttt_embedding_forward(ttt_context *ctx, const ttt_embedding_spec *spec,
                                         const ttt_embedding_impl_config *impl,
                                         const ttt_embedding_weights *weights, const int32_t *ids,
                                         int64_t n, bool accumulate, ttt_tensor *out);

/* ------------------------------------------------------------------------------------------------ */
/* Rotary position embedding                                                                         */
/* ------------------------------------------------------------------------------------------------ */

typedef enum ttt_rope_type {
  TTT_ROPE_NONE = 0, /* no rotary embedding (BERT) */
  TTT_ROPE_DEFAULT,  /* inv_freq[i] = theta^(-2i/rotary_dim) */
  TTT_ROPE_LINEAR,   /* positions divided by factor */
  TTT_ROPE_LLAMA3,   /* Llama 3.1 frequency-dependent scaling */
  TTT_ROPE_DYNAMIC,  /* dynamic NTK: theta rescaled for max_positions (see below) */
  TTT_ROPE_YARN,     /* YaRN: ramp between interpolation and extrapolation, attention factor */
  TTT_ROPE_LONGROPE  /* LongRoPE: per-frequency factors, short or long by sequence length (below) */
} ttt_rope_type;

/* "none", "default", "linear", "llama3", "dynamic", "yarn", "longrope"; "unknown" otherwise. */
TTT_API const char *ttt_rope_type_name(ttt_rope_type type);

#define TTT_MAX_ROPE_FACTORS 128 /* longrope factor arrays: rotary_dim / 2 at most */

/* Rotates pairs of the first rotary_dim values of each head. Layout "rotate half" (HF / NeoX): pair
 * (i, i + rotary_dim/2); `interleaved` selects the GPT-J layout, pair (2i, 2i+1).
 * DYNAMIC: HF recomputes theta from the current sequence length; here the tables are computed once
 * for max_positions (theta' = theta·(factor·max/orig − (factor − 1))^(d/(d−2)) when max > orig),
 * which equals HF once the sequence reaches max_positions and differs before.
 * LONGROPE: inv_freq[i] = 1 / (ext[i] · theta^(2i/rotary_dim)) with ext = short_factor, or
 * long_factor when the forward's last position + 1 exceeds original_max_positions (as HF's dynamic
 * update: a sequence that grows past original_max_positions switches every later forward to the
 * long factors; the positions of an earlier forward keep what their keys were rotated with, as in
 * HF's cache). cos and sin are scaled by attention_factor; 0 → sqrt(1 + ln(max_positions /
 * original_max_positions) / ln(original_max_positions)) when max_positions >
 * original_max_positions, else 1. The tables hold both variants (twice the memory). */
typedef struct ttt_rope_spec {
  ttt_rope_type type;
  int64_t head_dim;
  int64_t rotary_dim;     /* 0 → head_dim; partial rotary when smaller (even) */
  int64_t max_positions;  /* table length: positions [0, max_positions) */
  double theta;           /* base; 0 → 10000 */
  double factor;          /* linear, llama3, dynamic, yarn */
  double low_freq_factor; /* llama3 */
  double high_freq_factor;
  int64_t original_max_positions; /* llama3, dynamic, yarn, longrope */
  double beta_fast;               /* yarn; 0 → 32 */
  double beta_slow;               /* yarn; 0 → 1 */
  double attention_factor; /* yarn: cos/sin scale; 0 → 0.1·ln(factor) + 1; longrope: above */
  bool interleaved;
  float short_factor[TTT_MAX_ROPE_FACTORS]; /* longrope: rotary_dim/2 values, each > 0 */
  float long_factor[TTT_MAX_ROPE_FACTORS];  /* longrope: rotary_dim/2 values, each > 0 */
} ttt_rope_spec;

/* Precomputed cos/sin tables (read-only after creation; shareable across threads). */
typedef struct ttt_rope ttt_rope;

TTT_API ttt_status ttt_rope_spec_validate(const ttt_rope_spec *spec);
TTT_API ttt_status ttt_rope_create(const ttt_rope_spec *spec, ttt_rope **out);
TTT_API void ttt_rope_destroy(ttt_rope *rope);
TTT_API const ttt_rope_spec *ttt_rope_get_spec(const ttt_rope *rope);
/* The rotary_dim/2 inverse frequencies after scaling (what HF calls rope.inv_freq; LONGROPE: those
 * of sequences within original_max_positions, the short factors). */
TTT_API ttt_status ttt_rope_inv_freq(const ttt_rope *rope, float *out, int64_t n);
/* The frequencies a forward whose last position + 1 is seq_len rotates with: LONGROPE's long
 * factors when seq_len > original_max_positions (what HF's buffer holds after such a forward);
 * ttt_rope_inv_freq otherwise. */
TTT_API ttt_status ttt_rope_inv_freq_at(const ttt_rope *rope, int64_t seq_len, float *out,
                                        int64_t n);
/* Rotates x in place: x is [T, heads, head_dim] f32; positions[t] in [0, max_positions). LONGROPE
 * uses the long factors when the largest position + 1 exceeds original_max_positions. */
TTT_API ttt_status ttt_rope_apply(ttt_context *ctx, const ttt_rope *rope, ttt_tensor *x,
                                  const int32_t *positions);

/* ------------------------------------------------------------------------------------------------ */
/* MLP: plain (down(act(up(x)))) or gated (down(act(gate(x)) * up(x)): SwiGLU with silu, GeGLU with gelu) */
/* ------------------------------------------------------------------------------------------------ */

typedef enum ttt_activation {
  TTT_ACT_SILU = 0,
  TTT_ACT_GELU,      /* exact, erf-based */
  TTT_ACT_GELU_TANH, /* tanh approximation */
  TTT_ACT_RELU
} ttt_activation;

/* "silu", "gelu", "gelu_tanh", "relu"; "unknown" otherwise. */
TTT_API const char *ttt_activation_name(ttt_activation activation);

typedef struct ttt_mlp_spec {
  int64_t hidden;
  int64_t intermediate;
  ttt_activation activation;
  bool gated; /* true: gate and up projections; false: up only */
  bool bias;  /* biases on every projection */
} ttt_mlp_spec;

typedef struct ttt_mlp_impl_config {
  ttt_dtype weight_dtype;
  ttt_dtype activation_dtype;
  ttt_kernel kernel;
  int32_t threads;
  bool fuse_gate_up; /* gated: gate and up in one parallel region (one ttt_linear_multi over their
                        concatenated columns) instead of two; act(g)*u is then one parallel
                        elementwise pass either way */
} ttt_mlp_impl_config;

typedef struct ttt_mlp_weights {
  ttt_tensor gate;               /* [intermediate, hidden]; gated only (must be absent otherwise) */
  ttt_tensor up;                 /* [intermediate, hidden] */
  ttt_tensor down;               /* [hidden, intermediate] */
  ttt_tensor gate_bias, up_bias; /* [intermediate] f32, with spec.bias */
  ttt_tensor down_bias;          /* [hidden] f32, with spec.bias */
} ttt_mlp_weights;

TTT_API ttt_status ttt_mlp_spec_validate(const ttt_mlp_spec *spec);
TTT_API ttt_mlp_impl_config ttt_mlp_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                        const ttt_mlp_spec *spec);
/* x: [T, hidden] f32; out: [T, hidden] f32 (must not alias x). Intermediates ([T, intermediate],
 * two of them when gated) live in the context's scratch workspace. */
TTT_API ttt_status ttt_mlp_forward(ttt_context *ctx, const ttt_mlp_spec *spec,
                                   const ttt_mlp_impl_config *impl, const ttt_mlp_weights *weights,
                                   const ttt_tensor *x, ttt_tensor *out);

/* ------------------------------------------------------------------------------------------------ */
/* Mixture of experts: router → softmax → top-k → (renormalized) weighted sum of gated-MLP experts    */
/* ------------------------------------------------------------------------------------------------ */

#define TTT_MAX_EXPERTS 256

/* Routing: probabilities = softmax(router · x) over all n_experts (routing SOFTMAX), or
 * sigmoid(router · x) per expert (SIGMOID, DeepSeek-V3); the top_k largest are chosen (equal
 * scores → the lower expert index first) and, unless no_renormalize, rescaled to sum to 1; then
 * multiplied by routed_scaling_factor (0 → 1); out = Σ weight · expert(x). Router logits are
 * computed in f32 (f32 activations even when the experts use q8_0) because the selection is
 * discontinuous.
 * Selection (DeepSeek-V3): with score_correction_bias, the choice ranks probability + bias (HF
 * e_score_correction_bias) while the weights stay the probabilities. With n_group > 1 the experts
 * are split into n_group consecutive groups, each group ranked by the sum of its two largest
 * choice scores, and only the topk_group best groups' experts compete (the others' choice scores
 * count as 0, as HF masks them).
 * Shared expert: out += g · shared(x), with g = sigmoid(shared_gate · x) when shared_expert_gate,
 * else 1 (an always-on expert). The gate logit is computed in f32. */
typedef enum ttt_moe_routing {
  TTT_MOE_ROUTING_SOFTMAX = 0, /* softmax over all experts (Mixtral, Qwen-MoE) */
  TTT_MOE_ROUTING_SIGMOID      /* independent sigmoid per expert (DeepSeek-V3) */
} ttt_moe_routing;

/* "softmax", "sigmoid"; "unknown" otherwise. */
TTT_API const char *ttt_moe_routing_name(ttt_moe_routing routing);

typedef struct ttt_moe_spec {
  ttt_mlp_spec expert; /* every expert's MLP (Mixtral: gated, silu, no bias); plain MLPs work too */
  int64_t n_experts;
  int64_t top_k;
  bool no_renormalize; /* false (Mixtral): the k softmax weights are rescaled to sum to 1 */
  bool shared_expert;  /* add shared(x) to the routed sum */
  ttt_mlp_spec shared; /* the shared expert's MLP (its own intermediate size; hidden as expert) */
  bool shared_expert_gate; /* shared(x) scaled by sigmoid(shared_gate · x) */
  ttt_moe_routing routing;
  bool score_correction_bias;  /* selection ranks probability + router_bias (weights unchanged) */
  int64_t n_group;             /* 0 or 1: no groups; else divides n_experts, >= 2 experts each */
  int64_t topk_group;          /* groups kept, in [1, n_group] (with n_group > 1) */
  float routed_scaling_factor; /* routing weights multiplied by this; 0 → 1 */
} ttt_moe_spec;

typedef struct ttt_moe_impl_config {
  ttt_dtype weight_dtype; /* experts' weights; the router is always f32 */
  ttt_dtype activation_dtype;
  ttt_kernel kernel;
  int32_t threads;
  bool fuse_gate_up;
  bool group_by_expert; /* prefill: gather the tokens routed to each expert and run one matmul per
                           expert; false: each token runs its k experts (decode) */
} ttt_moe_impl_config;

typedef struct ttt_moe_weights {
  ttt_tensor router;              /* [n_experts, hidden] f32 */
  const ttt_mlp_weights *experts; /* n_experts entries (w1 = gate, w3 = up, w2 = down) */
  ttt_mlp_weights shared;         /* with spec.shared_expert: the shared expert (expert dtype) */
  ttt_tensor shared_gate;         /* [1, hidden] (or [hidden]) f32 with spec.shared_expert_gate */
  ttt_tensor router_bias;         /* [n_experts] f32 with spec.score_correction_bias */
  /* Expert parallelism: the call runs only experts [expert_begin, expert_begin + expert_count)
   * (routing still ranks all n_experts); the routed contributions of the others are left out and
   * their entries of `experts` are neither checked nor read. expert_count 0: all experts. The
   * shared expert always runs. */
  int64_t expert_begin, expert_count;
} ttt_moe_weights;

TTT_API ttt_status ttt_moe_spec_validate(const ttt_moe_spec *spec);
TTT_API ttt_moe_impl_config ttt_moe_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                        const ttt_moe_spec *spec);
/* x: [T, hidden] f32; out: [T, hidden] f32 (must not alias x). Both paths (group_by_expert or
 * per token) give the same result up to f32 summation order. */
TTT_API ttt_status ttt_moe_forward(ttt_context *ctx, const ttt_moe_spec *spec,
                                   const ttt_moe_impl_config *impl, const ttt_moe_weights *weights,
                                   const ttt_tensor *x, ttt_tensor *out);

/* ------------------------------------------------------------------------------------------------ */
/* LM head: logits = x · Wᵀ (+ b); W may be the token embedding table (tied)                         */
/* ------------------------------------------------------------------------------------------------ */

typedef struct ttt_lm_head_spec {
  int64_t hidden;
  int64_t vocab;
  bool bias;
  float softcap; /* 0 → none; otherwise logits = softcap · tanh(logits / softcap) */
  float scale;   /* 0 → 1: logits = (x·Wᵀ + b) · scale, then the softcap (logit scaling) */
} ttt_lm_head_spec;

typedef struct ttt_lm_head_impl_config {
  ttt_dtype weight_dtype;
  ttt_dtype activation_dtype;
  ttt_kernel kernel;
  int32_t threads;
} ttt_lm_head_impl_config;

/* Tied heads pass the token embedding table itself as weight (same [vocab, hidden] layout, no
 * copy); the table's dtype must then equal this impl's weight_dtype. The scale then the softcap
 * are applied after the bias. */
typedef struct ttt_lm_head_weights {
  ttt_tensor weight; /* [vocab, hidden] */
  ttt_tensor bias;   /* [vocab] f32 with spec.bias */
} ttt_lm_head_weights;

TTT_API ttt_status ttt_lm_head_spec_validate(const ttt_lm_head_spec *spec);
TTT_API ttt_lm_head_impl_config ttt_lm_head_default_impl_config(const ttt_device *device,
                                                                ttt_mode mode,
                                                                const ttt_lm_head_spec *spec);
/* x: [T, hidden] f32. last_only: out is [1, vocab] with the logits of x's last row (what generation
 * needs after a prefill); otherwise out is [T, vocab]. */
TTT_API ttt_status ttt_lm_head_forward(ttt_context *ctx, const ttt_lm_head_spec *spec,
                                       const ttt_lm_head_impl_config *impl,
                                       const ttt_lm_head_weights *weights, const ttt_tensor *x,
                                       bool last_only, ttt_tensor *out);

/* ------------------------------------------------------------------------------------------------ */
/* KV cache                                                                                          */
/* ------------------------------------------------------------------------------------------------ */

#define TTT_MAX_LAYERS 128

/* Keys and values of one sequence for every layer: per layer and kv head, `capacity` slots of
 * head_dim values in the cache dtype (f32 or bf16). A layer with a sliding window w > 0 keeps a
 * ring of min(w, max_positions) slots (position p lives in slot p mod w); other layers keep
 * max_positions slots. Positions must be written in order from 0 (prefill [start, start+T), decode
 * one at a time); writing position >= max_positions is TTT_ERR_CAPACITY.
 * Each layer has its own kv heads, head dim and dtype: `layers[l]` overrides the cache-wide
 * values, field by field (zero fields take the cache-wide value). ttt_kv_cache_get_spec returns
 * the spec with every layer's fields resolved (no zero left in layers[0, n_layers)).
 * One cache serves one sequence; many sequences share a paged cache (ttt_paged_kv, below). */
typedef struct ttt_kv_cache_layer_spec {
  int64_t n_kv_heads; /* 0 → the cache's n_kv_heads */
  int64_t head_dim;   /* 0 → the cache's head_dim */
  ttt_dtype dtype;    /* DEFAULT → the cache's dtype */
  bool latent;        /* multi-head latent attention: one row of head_dim values per position
                         (the normalized latent then the rotated rope key) and no values;
                         n_kv_heads must resolve to 1 */
} ttt_kv_cache_layer_spec;

typedef struct ttt_kv_cache_spec {
  int64_t n_layers; /* 1..TTT_MAX_LAYERS */
  int64_t n_kv_heads;
  int64_t head_dim;
  int64_t max_positions;
  ttt_dtype dtype;                        /* f32 (default) or bf16 */
  int64_t sliding_window[TTT_MAX_LAYERS]; /* per layer; 0 = full attention */
  ttt_kv_cache_layer_spec layers[TTT_MAX_LAYERS];
} ttt_kv_cache_spec;

typedef struct ttt_kv_cache ttt_kv_cache;

TTT_API ttt_status ttt_kv_cache_create(const ttt_kv_cache_spec *spec, ttt_kv_cache **out);
TTT_API void ttt_kv_cache_destroy(ttt_kv_cache *cache);
/* Forgets all positions (the next write must be position 0). */
TTT_API void ttt_kv_cache_reset(ttt_kv_cache *cache);
/* Number of positions written so far for `layer` (the next position to write). */
TTT_API int64_t ttt_kv_cache_length(const ttt_kv_cache *cache, int64_t layer);
TTT_API const ttt_kv_cache_spec *ttt_kv_cache_get_spec(const ttt_kv_cache *cache);
/* Bytes of key/value storage held. */
TTT_API size_t ttt_kv_cache_bytes(const ttt_kv_cache *cache);

/* ------------------------------------------------------------------------------------------------ */
/* Paged KV cache: one pool of fixed-size blocks shared by many sequences                            */
/* ------------------------------------------------------------------------------------------------ */

/* A pool of n_blocks blocks; a block holds the keys and values of block_positions consecutive
 * positions of ONE layer of one sequence (layer storage [n_kv_heads][block_positions][head_dim]).
 * Each sequence has a block table per layer; blocks come from a free list as its positions are
 * written and go back when the sequence is freed, so memory in use follows the tokens actually
 * held. A layer with a sliding window w keeps only the blocks its next queries can see (positions
 * >= length - w, block-rounded): older blocks return to the free list as the sequence grows.
 * Every block has the size of the largest layer's block (layers differing in kv heads, head dim
 * or dtype waste the difference).
 * The spec is a ttt_kv_cache_spec (same validation and per-layer resolution); its max_positions
 * caps each sequence. block_positions 0 → 16. Writes are made by the paged forwards of the
 * patterns (ttt_causal_lm_prefill_paged, ttt_causal_lm_decode_batch_forward); a write that needs
 * more blocks than are free is TTT_ERR_CAPACITY and changes nothing.
 * Not thread-safe: one thread uses a pool at a time. */
typedef struct ttt_paged_kv ttt_paged_kv;

TTT_API ttt_status ttt_paged_kv_create(const ttt_kv_cache_spec *spec, int64_t block_positions,
                                       int64_t n_blocks, ttt_paged_kv **out);
TTT_API void ttt_paged_kv_destroy(ttt_paged_kv *pool);
TTT_API const ttt_kv_cache_spec *ttt_paged_kv_get_spec(const ttt_paged_kv *pool);
TTT_API int64_t ttt_paged_kv_block_positions(const ttt_paged_kv *pool);
/* A new empty sequence (length 0, no block held); *seq_id is its handle (ids of freed sequences
 * are reused). */
TTT_API ttt_status ttt_paged_kv_seq_create(ttt_paged_kv *pool, int32_t *seq_id);
/* Returns all of the sequence's blocks to the free list; the id becomes invalid. Unknown ids are
 * ignored. */
TTT_API void ttt_paged_kv_seq_free(ttt_paged_kv *pool, int32_t seq_id);
/* Positions written so far (the next position to write); -1 for an unknown id. */
TTT_API int64_t ttt_paged_kv_seq_length(const ttt_paged_kv *pool, int32_t seq_id);
/* Blocks the sequence holds now; -1 for an unknown id. */
TTT_API int64_t ttt_paged_kv_seq_blocks(const ttt_paged_kv *pool, int32_t seq_id);
TTT_API int64_t ttt_paged_kv_blocks_used(const ttt_paged_kv *pool);
TTT_API int64_t ttt_paged_kv_blocks_free(const ttt_paged_kv *pool);
/* An upper bound of the blocks one sequence holds at any time while it grows to `positions`
 * positions (written in any chunking): full layers ceil(positions / block_positions) each,
 * windowed layers at most that and at most 2·(ceil(w / block_positions) + 1). For admission. */
TTT_API int64_t ttt_paged_kv_blocks_for(const ttt_paged_kv *pool, int64_t positions);

/* ------------------------------------------------------------------------------------------------ */
/* Attention: MHA / GQA / MQA with optional biases, q/k norm, RoPE, causal or bidirectional, window   */
/* ------------------------------------------------------------------------------------------------ */

/* q/k normalization, applied after the projections (and their biases), before RoPE. */
typedef enum ttt_qk_norm {
  TTT_QK_NORM_NONE = 0,
  TTT_QK_NORM_HEAD,         /* each head's head_dim values normalized; one weight [head_dim] shared
                               by all heads (q_norm and k_norm) */
  TTT_QK_NORM_HEAD_WEIGHTS, /* each head normalized with its own weights: q_norm
                               [n_heads, head_dim], k_norm [n_kv_heads, head_dim] */
  TTT_QK_NORM_ALL           /* one norm over all heads of a token at once: q_norm
                               [n_heads·head_dim], k_norm [n_kv_heads·head_dim] */
} ttt_qk_norm;

/* "none", "head", "head_weights", "all"; "unknown" otherwise. */
TTT_API const char *ttt_qk_norm_name(ttt_qk_norm kind);

typedef struct ttt_attention_spec {
  int64_t hidden;
  int64_t n_heads;
  int64_t n_kv_heads; /* equal: MHA; divides n_heads: GQA; 1: MQA */
  int64_t head_dim;   /* independent of hidden / n_heads (Qwen3); 0 → hidden / n_heads */
  bool q_bias, k_bias, v_bias, o_bias;
  ttt_qk_norm qk_norm;        /* normalization of q and k before RoPE (NONE: none) */
  ttt_norm_spec qk_norm_spec; /* its type (RMS or LAYER), eps, weight_offset, bias; .dim is ignored
                                 (implied by the kind) */
  ttt_rope_spec rope;         /* type NONE: no rotary embedding */
  bool bidirectional;         /* false: causal */
  int64_t sliding_window;     /* 0: none; else a query at position p sees keys in (p - window, p],
                             or with bidirectional those with |j - p| <= window / 2 */
  float scale;                /* 0 → 1/sqrt(head_dim) */
  float softcap;              /* 0 → none; scores = softcap · tanh(scores / softcap) */
} ttt_attention_spec;

typedef enum ttt_attention_algorithm {
  TTT_ATTENTION_DEFAULT = 0,
  TTT_ATTENTION_NAIVE, /* materialize one query's scores, softmax, weighted sum */
  TTT_ATTENTION_TILED  /* flash-style: key blocks of block_size with an online softmax */
} ttt_attention_algorithm;

/* "default", "naive", "tiled"; "unknown" otherwise. */
TTT_API const char *ttt_attention_algorithm_name(ttt_attention_algorithm algorithm);

typedef struct ttt_attention_impl_config {
  ttt_dtype weight_dtype;
  ttt_dtype activation_dtype;
  ttt_kernel kernel;
  int32_t threads;
  bool fuse_qkv; /* q, k and v projections in one parallel pass */
  ttt_attention_algorithm algorithm;
  int32_t block_size; /* keys per tile for the tiled algorithm; 0 → 64 */
  /* query positions per tile for the tiled algorithm (each brings its heads of a GQA group);
   * 0 → 64 query rows: 64 / (n_heads / n_kv_heads) positions, at least 1 */
  int32_t query_block;
  ttt_dtype kv_dtype; /* cache dtype this config expects (f32 or bf16; DEFAULT: the cache's) */
} ttt_attention_impl_config;

/* Projection rows are head-major as in HuggingFace: row h·head_dim + i of wq is dim i of query
 * head h (wk, wv: of kv head h). Query head h reads kv head h / (n_heads / n_kv_heads). */
typedef struct ttt_attention_weights {
  ttt_tensor wq;             /* [n_heads·head_dim, hidden] */
  ttt_tensor wk;             /* [n_kv_heads·head_dim, hidden] */
  ttt_tensor wv;             /* [n_kv_heads·head_dim, hidden] */
  ttt_tensor wo;             /* [hidden, n_heads·head_dim] */
  ttt_tensor bq, bk, bv, bo; /* f32 biases of the matching out dims, when the spec has them */
  ttt_tensor q_norm, k_norm; /* f32 with qk_norm, shaped by the kind (see ttt_qk_norm); HEAD_WEIGHTS
                                may also be passed flat [heads·head_dim] */
  ttt_tensor q_norm_bias, k_norm_bias; /* f32, same shapes, with qk_norm_spec.bias (LayerNorm) */
} ttt_attention_weights;

TTT_API ttt_status ttt_attention_spec_validate(const ttt_attention_spec *spec);
TTT_API ttt_attention_impl_config ttt_attention_default_impl_config(const ttt_device *device,
                                                                    ttt_mode mode,
                                                                    const ttt_attention_spec *spec);
/* Causal attention of T new tokens at positions [start_pos, start_pos + T) of the sequence in
 * `cache` (layer `layer`): they attend to the cached positions and causally to each other, and
 * their keys/values are appended to the cache (after attending, so a chunk longer than a ring's
 * window still sees every key it needs; a failed call leaves the cache unchanged). start_pos must
 * equal ttt_kv_cache_length(cache, layer); start_pos + T > max_positions is TTT_ERR_CAPACITY.
 * rope: tables for spec.rope (NULL when type is NONE).
 * x: [T, hidden] f32; out: [T, hidden] f32 (must not alias x). */
TTT_API ttt_status ttt_attention_prefill_forward(ttt_context *ctx, const ttt_attention_spec *spec,
                                                 const ttt_attention_impl_config *impl,
                                                 const ttt_attention_weights *weights,
                                                 const ttt_rope *rope, ttt_kv_cache *cache,
                                                 int64_t layer, const ttt_tensor *x,
                                                 int64_t start_pos, ttt_tensor *out);
/* One token at `pos` (== cache length): x and out are [1, hidden]. */
TTT_API ttt_status ttt_attention_decode_forward(ttt_context *ctx, const ttt_attention_spec *spec,
                                                const ttt_attention_impl_config *impl,
                                                const ttt_attention_weights *weights,
                                                const ttt_rope *rope, ttt_kv_cache *cache,
                                                int64_t layer, const ttt_tensor *x, int64_t pos,
                                                ttt_tensor *out);
/* Cache-less attention over a batch (encoders): x [B, T, hidden]; key_mask [B·T] with 1 = attend,
 * 0 = padding (NULL: all attend); positions 0..T-1 for RoPE; causal unless spec.bidirectional.
 * out: [B, T, hidden]. Rows of padded queries are computed like any other (callers ignore them);
 * a query with no visible key (an all-padding sequence) gets a zero attention output. */
TTT_API ttt_status ttt_attention_forward(ttt_context *ctx, const ttt_attention_spec *spec,
                                         const ttt_attention_impl_config *impl,
                                         const ttt_attention_weights *weights, const ttt_rope *rope,
                                         const ttt_tensor *x, const uint8_t *key_mask,
                                         ttt_tensor *out);

/* ------------------------------------------------------------------------------------------------ */
/* Multi-head latent attention (MLA, DeepSeek-V2/V3): keys and values expanded from a shared latent   */
/* ------------------------------------------------------------------------------------------------ */

/* Per token x [hidden], with H = n_heads, dq = qk_nope_head_dim + qk_rope_head_dim:
 *   q     = q_b_proj(rmsnorm_qa(q_a_proj(x)))  [H·dq]   (q_lora_rank > 0), or q_proj(x) (0)
 *   kv_a  = kv_a_proj(x) = [c' (kv_lora_rank), k_rope (qk_rope_head_dim)]
 *   c     = rmsnorm_kv(c')                       the latent, cached
 *   k_rope, and each head's last qk_rope_head_dim query values, rotated by spec.rope (one rope key
 *   shared by all heads; cached rotated)
 *   [k_nope_h, v_h] = rows h·(nope + v) .. of kv_b_proj · c   (per head: nope key dims, then v)
 *   score_h(s) = scale · (q_nope_h · k_nope_h(s) + q_rope_h · k_rope(s)), causal softmax over s
 *   out   = o_proj(concat_h Σ_s p_h(s) v_h(s))   [hidden]
 * scale = (qk_nope_head_dim + qk_rope_head_dim)^-0.5, times m² with m = 0.1·mscale_all_dim·
 * ln(rope.factor) + 1 when rope.type is YARN, mscale_all_dim > 0 and rope.factor > 1 (DeepSeek's
 * YaRN; the rope's own attention_factor scales cos/sin as for any YaRN rope).
 * rope: head_dim = rotary_dim = qk_rope_head_dim; DeepSeek-V3 checkpoints rotate neighbour pairs
 * (HF rope_interleave: pair (2i, 2i+1), i.e. rope.interleaved = true). No projection biases
 * (DeepSeek's attention_bias = false). Norms are RMSNorm with eps = norm_eps. */
typedef struct ttt_mla_spec {
  int64_t hidden;
  int64_t n_heads;
  int64_t q_lora_rank;  /* 0: a direct q_proj */
  int64_t kv_lora_rank; /* the latent's size */
  int64_t qk_nope_head_dim;
  int64_t qk_rope_head_dim; /* even */
  int64_t v_head_dim;
  float norm_eps;        /* q_a and kv_a RMSNorm eps, > 0 */
  double mscale_all_dim; /* YaRN softmax-scale correction (above); 0: none */
  ttt_rope_spec rope;    /* type must not be NONE */
} ttt_mla_spec;

/* How decode attends over the latent cache (prefill always expands, as NAIVE does). */
typedef enum ttt_mla_algorithm {
  TTT_MLA_DEFAULT = 0, /* decode: ABSORBED */
  TTT_MLA_NAIVE,       /* expand every cached latent through kv_b_proj each step (the reference
                          path): O(length · H · (nope + v) · kv_lora_rank) per step */
  TTT_MLA_ABSORBED /* fold kv_b_proj into the query (q_nope_h · W_k,h) and output (W_v,h · Σ p·c)
                          sides and attend over the latent directly: O(length · H · kv_lora_rank) */
} ttt_mla_algorithm;

/* "default", "naive", "absorbed"; "unknown" otherwise. */
TTT_API const char *ttt_mla_algorithm_name(ttt_mla_algorithm algorithm);

typedef struct ttt_mla_impl_config {
  ttt_dtype weight_dtype;
  ttt_dtype activation_dtype;
  ttt_kernel kernel;
  int32_t threads;
  ttt_mla_algorithm algorithm;
  ttt_dtype kv_dtype; /* cache dtype this config expects (f32 or bf16; DEFAULT: the cache's) */
} ttt_mla_impl_config;

/* Linear weights in the impl's weight dtype, HF layout [out, in]; norm weights f32. Rows of q are
 * head-major (head h: nope dims then rope dims); rows of kv_b_proj too (head h: nope key dims then
 * v dims). */
typedef struct ttt_mla_weights {
  ttt_tensor q_proj;    /* [H·dq, hidden] when q_lora_rank = 0 (absent otherwise) */
  ttt_tensor q_a_proj;  /* [q_lora_rank, hidden] when q_lora_rank > 0 */
  ttt_tensor q_a_norm;  /* [q_lora_rank] f32 when q_lora_rank > 0 */
  ttt_tensor q_b_proj;  /* [H·dq, q_lora_rank] when q_lora_rank > 0 */
  ttt_tensor kv_a_proj; /* [kv_lora_rank + qk_rope_head_dim, hidden] (HF kv_a_proj_with_mqa) */
  ttt_tensor kv_a_norm; /* [kv_lora_rank] f32 */
  ttt_tensor kv_b_proj; /* [H·(qk_nope_head_dim + v_head_dim), kv_lora_rank] */
  ttt_tensor o_proj;    /* [hidden, H·v_head_dim] */
} ttt_mla_weights;

TTT_API ttt_status ttt_mla_spec_validate(const ttt_mla_spec *spec);
TTT_API ttt_mla_impl_config ttt_mla_default_impl_config(const ttt_device *device, ttt_mode mode,
                                                        const ttt_mla_spec *spec);
/* The softmax scale described above. */
TTT_API double ttt_mla_softmax_scale(const ttt_mla_spec *spec);
/* Cache values per token and layer: kv_lora_rank + qk_rope_head_dim (a latent cache layer's
 * head_dim). *expanded (when not NULL) gets what expanded keys and values would take:
 * n_heads · (qk_nope_head_dim + qk_rope_head_dim) keys + n_heads · v_head_dim values. */
TTT_API int64_t ttt_mla_cache_values_per_token(const ttt_mla_spec *spec, int64_t *expanded);
/* T tokens at positions [start_pos, start_pos + T) of the sequence in `cache`, layer `layer`, which
 * must be a latent layer (ttt_kv_cache_layer_spec.latent) of head_dim kv_lora_rank +
 * qk_rope_head_dim. Causal over the cached positions and the chunk; the chunk's latents are
 * appended (a failed call leaves the cache length unchanged). start_pos must equal the layer's
 * length. rope: tables for spec.rope. x, out: [T, hidden] f32 (out must not alias x). */
TTT_API ttt_status ttt_mla_prefill_forward(ttt_context *ctx, const ttt_mla_spec *spec,
                                           const ttt_mla_impl_config *impl,
                                           const ttt_mla_weights *weights, const ttt_rope *rope,
                                           ttt_kv_cache *cache, int64_t layer, const ttt_tensor *x,
                                           int64_t start_pos, ttt_tensor *out);
/* One token at `pos` (== cache length) with impl.algorithm: x and out are [1, hidden]. */
TTT_API ttt_status ttt_mla_decode_forward(ttt_context *ctx, const ttt_mla_spec *spec,
                                          const ttt_mla_impl_config *impl,
                                          const ttt_mla_weights *weights, const ttt_rope *rope,
                                          ttt_kv_cache *cache, int64_t layer, const ttt_tensor *x,
                                          int64_t pos, ttt_tensor *out);

#ifdef __cplusplus
}
#endif

#endif /* TTT_BLOCKS_H */
