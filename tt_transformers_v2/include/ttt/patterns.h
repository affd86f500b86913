/*
 * ttt/patterns.h — patterns composed of blocks: decoder layer, CausalLM, encoder (BERT-style).
 *
 * Part of the public API; include <ttt.h>, not this file directly.
 *
 * Patterns look exactly like blocks ("fractal" API): a pattern's spec holds its blocks' specs and
 * its impl config holds their impl configs under the same field names, so the same path reaches a
 * module in both trees: spec.layers[3].attention ↔ impl.decode.layers[3].attention.weight_dtype.
 *
 * Module paths (stable; used by observers, the string-path setter and weight resolvers):
 *   CausalLM: embedding, position_embedding, layers.N, layers.N.attention_norm, layers.N.attention,
 *             layers.N.post_attention_norm, layers.N.ffn_norm, layers.N.ffn, layers.N.post_ffn_norm,
 *             norm, lm_head
 *   Encoder:  embeddings, layers.N, layers.N.attention, layers.N.attention_norm, layers.N.ffn,
 *             layers.N.ffn_norm, norm, pooler
 * Weight paths are a module path plus the field name of the block's weights struct:
 *   embedding.table, position_embedding.table,
 *   layers.N.attention.{wq,wk,wv,wo,bq,bk,bv,bo,q_norm,k_norm,q_norm_bias,k_norm_bias},
 *   layers.N.attention.{q_proj,q_a_proj,q_a_norm,q_b_proj,kv_a_proj,kv_a_norm,kv_b_proj,o_proj}
 *     (an MLA layer: the fields of ttt_mla_weights; its module path is layers.N.attention too)
 *   layers.N.{attention_norm,post_attention_norm,ffn_norm,post_ffn_norm}.{weight,bias},
 *   layers.N.ffn.{gate,up,down,gate_bias,up_bias,down_bias}   (dense FFN)
 *   layers.N.ffn.router, layers.N.ffn.router_bias (score_correction_bias), layers.N.ffn.experts.E.{gate,up,down,gate_bias,up_bias,down_bias},
 *   layers.N.ffn.shared.{gate,up,down,gate_bias,up_bias,down_bias}, layers.N.ffn.shared_gate (MoE)
 *   norm.{weight,bias}, lm_head.weight (absent when tied), lm_head.bias
 *   (a norm's bias exists with spec.bias; a weight the spec does not use is never asked for)
 *   Encoder: embeddings.{word,position,token_type}.table, embeddings.norm.{weight,bias},
 *            layers.N.attention.*, layers.N.attention_norm.{weight,bias},
 *            layers.N.ffn_norm.{weight,bias}, layers.N.ffn.{gate,up,down,gate_bias,up_bias,down_bias},
 *            norm.{weight,bias}, pooler.{weight,bias}
 */
#ifndef TTT_PATTERNS_H
#define TTT_PATTERNS_H

#include "blocks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------------ */
/* Feed-forward of a layer: a dense (possibly gated) MLP or a mixture of experts                      */
/* ------------------------------------------------------------------------------------------------ */

typedef enum ttt_ffn_kind { TTT_FFN_MLP = 0, TTT_FFN_MOE = 1 } ttt_ffn_kind;

/* "mlp", "moe"; "unknown" otherwise. */
TTT_API const char *ttt_ffn_kind_name(ttt_ffn_kind kind);

typedef struct ttt_ffn_spec {
  ttt_ffn_kind kind;
  ttt_mlp_spec mlp; /* kind MLP */
  ttt_moe_spec moe; /* kind MOE */
} ttt_ffn_spec;

/* The union of the MLP and MoE impl-config fields (fields that do not apply are ignored). */
typedef struct ttt_ffn_impl_config {
  ttt_dtype weight_dtype;
  ttt_dtype activation_dtype;
  ttt_kernel kernel;
  int32_t threads;
  bool fuse_gate_up;
  bool group_by_expert;
} ttt_ffn_impl_config;

typedef struct ttt_ffn_weights {
  ttt_mlp_weights mlp;
  ttt_moe_weights moe;
} ttt_ffn_weights;

/* ------------------------------------------------------------------------------------------------ */
/* Observers: every module reports its input and output                                              */
/* ------------------------------------------------------------------------------------------------ */

typedef struct ttt_module_event {
  const char *path; /* module path, e.g. "layers.3.attention" */
  ttt_mode mode;
  int64_t start_pos;        /* position of the first row */
  const ttt_tensor *input;  /* the module's input (token ids as i32 for embeddings) */
  const ttt_tensor *output; /* the module's output */
} ttt_module_event;

/* Called synchronously after each module, in execution order, on the thread that runs the forward.
 * The tensors are valid only during the call (copy what you keep). */
typedef void (*ttt_observer_fn)(void *user, const ttt_module_event *event);

typedef struct ttt_observer {
  ttt_observer_fn fn; /* NULL: no observer (and no cost) */
  void *user;
} ttt_observer;

/* ------------------------------------------------------------------------------------------------ */
/* Decoder layer: norms, attention, feed-forward and residual adds in a chosen topology               */
/* ------------------------------------------------------------------------------------------------ */

/* Where a sequential layer's norms sit (m = residual_multiplier):
 *   PRE:      h = x + m·attn(attention_norm(x));  out = h + m·ffn(ffn_norm(h))
 *   POST:     h = x + m·post_attention_norm(attn(x));  out = h + m·post_ffn_norm(ffn(h))
 *   SANDWICH: h = x + m·post_attention_norm(attn(attention_norm(x)));
 *             out = h + m·post_ffn_norm(ffn(ffn_norm(h))) */
typedef enum ttt_norm_placement {
  TTT_NORM_PRE = 0,
  TTT_NORM_POST,
  TTT_NORM_SANDWICH
} ttt_norm_placement;

/* How the two sublayers meet the residual stream:
 *   SEQUENTIAL:         as above (the feed-forward reads the stream after the attention add)
 *   PARALLEL:           n = attention_norm(x); out = x + m·(attn(n) + ffn(n)); ffn_norm unused
 *   PARALLEL_TWO_NORMS: out = x + m·(attn(attention_norm(x)) + ffn(ffn_norm(x)))
 * Parallel topologies take PRE placement. */
typedef enum ttt_residual_topology {
  TTT_RESIDUAL_SEQUENTIAL = 0,
  TTT_RESIDUAL_PARALLEL,
  TTT_RESIDUAL_PARALLEL_TWO_NORMS
} ttt_residual_topology;

/* "pre", "post", "sandwich"; "unknown" otherwise. */
TTT_API const char *ttt_norm_placement_name(ttt_norm_placement placement);
/* "sequential", "parallel", "parallel_two_norms"; "unknown" otherwise. */
TTT_API const char *ttt_residual_topology_name(ttt_residual_topology topology);

/* The attention block of a layer: ttt_attention (MHA/GQA/MQA, spec.attention) or multi-head
 * latent attention (ttt_mla, spec.mla; its KV cache layer is a latent one). Either way the module
 * path is layers.N.attention. */
typedef enum ttt_attention_kind {
  TTT_ATTENTION_KIND_MHA = 0, /* spec.attention, impl.attention, weights.attention */
  TTT_ATTENTION_KIND_MLA      /* spec.mla, impl.mla, weights.mla; spec.attention is ignored */
} ttt_attention_kind;

/* "mha", "mla"; "unknown" otherwise. */
TTT_API const char *ttt_attention_kind_name(ttt_attention_kind kind);

/* Norm specs a topology does not use are left zero and ignored (no weights are asked for them):
 * PRE uses attention_norm and ffn_norm; POST post_attention_norm and post_ffn_norm; SANDWICH all
 * four; PARALLEL attention_norm; PARALLEL_TWO_NORMS attention_norm and ffn_norm. */
typedef struct ttt_decoder_layer_spec {
  ttt_norm_spec attention_norm;
  ttt_attention_spec attention;
  ttt_norm_spec ffn_norm;
  ttt_ffn_spec ffn;
  ttt_norm_placement norm_placement;
  ttt_residual_topology residual;
  float residual_multiplier;         /* m above; 0 → 1 */
  ttt_norm_spec post_attention_norm; /* POST and SANDWICH */
  ttt_norm_spec post_ffn_norm;       /* POST and SANDWICH */
  ttt_attention_kind attention_kind;
  ttt_mla_spec mla; /* attention_kind MLA (its hidden is the layer's) */
} ttt_decoder_layer_spec;

typedef struct ttt_decoder_layer_impl_config {
  ttt_norm_impl_config attention_norm;
  ttt_attention_impl_config attention;
  ttt_norm_impl_config ffn_norm;
  ttt_ffn_impl_config ffn;
  ttt_norm_impl_config post_attention_norm;
  ttt_norm_impl_config post_ffn_norm;
  ttt_mla_impl_config mla;
} ttt_decoder_layer_impl_config;

typedef struct ttt_decoder_layer_weights {
  ttt_norm_weights attention_norm;
  ttt_attention_weights attention;
  ttt_norm_weights ffn_norm;
  ttt_ffn_weights ffn;
  ttt_norm_weights post_attention_norm;
  ttt_norm_weights post_ffn_norm;
  ttt_mla_weights mla;
} ttt_decoder_layer_weights;

/* True when the layer's topology reads that norm (names as in the module paths: "attention_norm",
 * "ffn_norm", "post_attention_norm", "post_ffn_norm"); false for other names. */
TTT_API bool ttt_decoder_layer_uses_norm(const ttt_decoder_layer_spec *spec, const char *name);

TTT_API ttt_status ttt_decoder_layer_spec_validate(const ttt_decoder_layer_spec *spec);
TTT_API ttt_decoder_layer_impl_config ttt_decoder_layer_default_impl_config(
    const ttt_device *device, ttt_mode mode, const ttt_decoder_layer_spec *spec);
/* x, out: [T, hidden] f32 at positions [start_pos, start_pos + T) of `cache` layer `layer`.
 * mode selects prefill (any T) or decode (T = 1) attention. `path` (e.g. "layers.3") prefixes the
 * observer's module paths; observer may be NULL. Events, in execution order, for the modules the
 * topology runs: attention_norm, attention, post_attention_norm, ffn_norm, ffn, post_ffn_norm, then
 * the layer itself (input x, output out). A norm's event reports its input and output; attention
 * and ffn report their own input and output (before any post norm or multiplier). */
TTT_API ttt_status ttt_decoder_layer_forward(
    ttt_context *ctx, ttt_mode mode, const ttt_decoder_layer_spec *spec,
    const ttt_decoder_layer_impl_config *impl, const ttt_decoder_layer_weights *weights,
    const ttt_rope *rope, ttt_kv_cache *cache, int64_t layer, const ttt_tensor *x,
    int64_t start_pos, ttt_tensor *out, const char *path, const ttt_observer *observer);

/* ------------------------------------------------------------------------------------------------ */
/* CausalLM: embedding → layers → norm → lm_head                                                     */
/* ------------------------------------------------------------------------------------------------ */

typedef struct ttt_causal_lm_spec {
  ttt_embedding_spec embedding;
  /* learned absolute positions: row p is added to the token embedding of position p (its scale
   * applies to these rows only); vocab 0 → none, otherwise vocab >= max_positions and dim = the
   * embedding's dim. Observer: "embedding" reports the token rows times embedding.scale,
   * "position_embedding" the position rows alone; layer 0 reads their sum. */
  ttt_embedding_spec position_embedding;
  int64_t n_layers; /* 1..TTT_MAX_LAYERS */
  ttt_decoder_layer_spec layers[TTT_MAX_LAYERS];
  ttt_norm_spec norm;
  ttt_lm_head_spec lm_head;
  bool tie_embeddings;   /* lm_head reads the embedding table */
  int64_t max_positions; /* context length */
} ttt_causal_lm_spec;

/* One mode's impl configs, mirroring the spec tree. */
typedef struct ttt_causal_lm_mode_impl_config {
  ttt_embedding_impl_config embedding;
  ttt_embedding_impl_config position_embedding;
  ttt_decoder_layer_impl_config layers[TTT_MAX_LAYERS];
  ttt_norm_impl_config norm;
  ttt_lm_head_impl_config lm_head;
} ttt_causal_lm_mode_impl_config;

/* Tensor parallelism (Megatron style): `size` processes each hold 1/size of the model and run
 * every forward together over the communicator of their context's device (ttt_device.comm, whose
 * rank and size must equal these). size 0 or 1: no split.
 * What rank r holds (ranges are contiguous, rank-ordered and as even as the units allow):
 *   attention  its kv heads and their query heads (q/k/v column-parallel: rows of wq/wk/wv and
 *              their biases; o_proj row-parallel: columns of wo, then an all-reduce sum; bo on
 *              rank 0 only). Units are kv-head groups (n_kv_heads >= size; uneven counts
 *              allowed). With n_kv_heads < size, each kv head is replicated on size / n_kv_heads
 *              ranks that split its query heads: size must be a multiple of n_kv_heads and
 *              n_heads / n_kv_heads a multiple of size / n_kv_heads, or creation fails naming the
 *              fields (an uneven split of one group would give ranks different group sizes, which
 *              the attention block cannot express). Its KV cache holds only its kv heads.
 *              Replicated (every rank computes all heads, no collective): MLA layers and q/k norm
 *              kind ALL (a norm over all heads of a token).
 *   ffn        its intermediate columns: rows of gate/up and their biases (column-parallel),
 *              the matching columns of down (row-parallel, then an all-reduce; down_bias on
 *              rank 0 only), in units of 32 columns when intermediate is a multiple of 32
 *              with at least one unit per rank (q8_0 blocks are never cut), else of single
 *              columns (refused when intermediate < size). MoE (moe_split COLUMNS, the
 *              default): the same split inside every expert and the shared expert (router and
 *              shared gate replicated): each rank holds 1/size of every expert, so a token's
 *              work is balanced whatever its routing. moe_split EXPERTS: whole experts, rank r
 *              holding its range of n_experts (uneven allowed; refused when n_experts < size),
 *              the shared expert still split by columns; a token's experts may then all sit
 *              on one rank.
 *   embedding  its rows of the vocabulary (a token outside them is a zero row; an all-reduce sums
 *              the rows, exactly). lm_head: its vocabulary rows; the logits are all-gathered, so
 *              every rank gets all of them. Position embeddings and norms are replicated.
 * Collectives: the all-reduce of the partial attention and FFN outputs runs in `reduce_dtype`:
 *   f32 (DEFAULT): MPI's all-reduce on the f32 partial sums.
 *   bf16: each rank's partial sum is rounded to bf16 and all-gathered, and every rank adds the
 *         partials in f32 in rank order (the same sum everywhere). A rank sends 2 bytes a value
 *         where an f32 ring all-reduce sends 8·(size − 1)/size: half at 2 ranks, for a rounding
 *         of each partial to 8 significant bits.
 * A layer with a parallel residual adds its attention and FFN partials first and reduces once
 * (unless an observer is given). The embedding's all-reduce (exact) and the logits' all-gather
 * stay f32. The performance
 * strategy's q8_0 activations are quantized inside each projection, from the all-reduced f32
 * stream, so they never travel. */
typedef enum ttt_moe_split {
  TTT_MOE_SPLIT_COLUMNS = 0, /* 1/size of every expert's intermediate columns */
  TTT_MOE_SPLIT_EXPERTS      /* whole experts, a range of them per rank */
} ttt_moe_split;

typedef struct ttt_tensor_parallel {
  int32_t rank;
  int32_t size;
  ttt_dtype reduce_dtype; /* DEFAULT or f32, or bf16 (above) */
  ttt_moe_split moe_split;
} ttt_tensor_parallel;

typedef struct ttt_causal_lm_impl_config {
  ttt_causal_lm_mode_impl_config prefill;
  ttt_causal_lm_mode_impl_config decode;
  ttt_tensor_parallel tp; /* set by ttt_causal_lm_default_impl_config from device->comm */
} ttt_causal_lm_impl_config;

TTT_API ttt_status ttt_causal_lm_spec_validate(const ttt_causal_lm_spec *spec);

/* Defaults for every module in both modes.
 *   accuracy:    f32 activations; weights in the checkpoint's dtype (see source_dtype); KV cache
 *                f32.
 *   performance: q8_0 weights with q8_0 activations for all projections (attention, ffn, lm head),
 *                bf16 KV cache; norms and embeddings as in accuracy. The q8_0 weights are then
 *                placed (ttt_causal_lm_impl_config_place_weights): q8_0_g16 with AVX-512 VNNI.
 *                A module with an input dim that is not a multiple of 32 (the q8_0 block; for
 *                MLA: hidden, q_lora_rank, kv_lora_rank, heads·v_head_dim) gets bf16 weights with
 *                f32 activations instead.
 * `source_dtype` says which float dtype "the checkpoint's dtype" is:
 *   TTT_DTYPE_DEFAULT: each module's own. Those weight_dtype fields stay DEFAULT here and
 *     ttt_causal_lm_create sets each to the dtype of the module's first weight it resolves (a
 *     mixed-dtype checkpoint keeps every dtype; ttt_causal_lm_get_impl_config shows the result).
 *   f32, bf16 or f16: that dtype for every such module (others are converted to it; any other
 *     value means f32).
 * Tensor parallelism: out->tp is device->comm's rank and size ({0, 1} without a communicator), and
 * the dtypes above are chosen for the rank's share (e.g. the q8_0 rule sees its input dims). Heads
 * that cannot be split over that many ranks are TTT_ERR_UNSUPPORTED here already. */
TTT_API ttt_status ttt_causal_lm_default_impl_config(const ttt_device *device,
                                                     ttt_strategy strategy, ttt_dtype source_dtype,
                                                     const ttt_causal_lm_spec *spec,
                                                     ttt_causal_lm_impl_config *out);

/* Places the weights: every projection with q8_0 or q4_0 weights and q8_0 activations (attention,
 * MLA, ffn, lm head; both modes) gets the grouped layout of its blocks (q8_0_g16, q4_0_g16: the same
 * values, laid out for the device's int8 dot-product kernels, which then read them without
 * repacking per call) when `device` has a SIMD kernel for it and the module's kernel is not the
 * reference one. Other modules are unchanged. ttt_causal_lm_default_impl_config ends with it; call
 * it again after setting such weight dtypes yourself (ttt_causal_lm_impl_set does not). */
TTT_API void ttt_causal_lm_impl_config_place_weights(const ttt_device *device,
                                                     const ttt_causal_lm_spec *spec,
                                                     ttt_causal_lm_impl_config *impl);

/* Sets one field by path: "[prefill.|decode.]MODULE.FIELD=VALUE" where MODULE is a module path
 * (layers.N may be layers.* for all layers) and FIELD one of weight_dtype, activation_dtype,
 * kv_dtype (dtype names), kernel (default|reference|simd), threads, fuse_qkv, fuse_gate_up,
 * group_by_expert (true|false), algorithm (default|naive|tiled), block_size, query_block.
 * An MLA layer's attention is configured at layers.N.mla (fields weight_dtype, activation_dtype,
 * kernel, threads, kv_dtype, algorithm default|naive|absorbed).
 * Without a mode prefix both modes are set. Examples: "layers.3.attention.weight_dtype=bf16",
 * "layers.*.ffn.weight_dtype=q8_0", "decode.lm_head.threads=2". "tp.reduce_dtype=f32|bf16" and
 * "tp.moe_split=columns|experts" set impl->tp's fields (both modes: one model).
 * Unknown paths, fields or values → TTT_ERR_INVALID_ARGUMENT naming them; `impl` is unchanged. */
TTT_API ttt_status ttt_causal_lm_impl_set(ttt_causal_lm_impl_config *impl,
                                          const ttt_causal_lm_spec *spec, const char *assignment);

/* Resolves a weight path (see the top of this file) to a tensor view. Return TTT_ERR_NOT_FOUND
 * (with ttt_set_error) when absent. The view must stay valid while the model lives.
 * Release calls: after converting a weight to another dtype, ttt_causal_lm_create calls the
 * resolver once more with out == NULL, meaning "the model will not read this view again"; a
 * resolver may then release it (e.g. drop mmapped pages) or simply return TTT_OK. */
typedef ttt_status (*ttt_weight_resolver)(void *user, const char *path, ttt_tensor *out);

typedef struct ttt_causal_lm ttt_causal_lm;

/* Builds a model: validates the spec and impl config, resolves every weight, checks each tensor's
 * presence, dtype and shape against the spec (naming the first offender), and converts weights
 * whose dtype differs from the impl config (copies; tensors already in the right dtype are used in
 * place, e.g. straight from an mmapped checkpoint). A module whose weight_dtype is DEFAULT takes
 * the dtype of its first resolved weight; norms, biases, q/k norms, routers and gates are f32.
 * Weights are shared by the two modes when their dtypes agree. The model is read-only afterwards
 * and may serve several contexts concurrently.
 * With impl->tp.size > 1 the model is rank impl->tp.rank's share (see ttt_tensor_parallel): the
 * resolver is still asked for whole tensors, of which the model keeps its rows (views, in place)
 * or its columns (copies, after which the release call lets the resolver drop the source); its
 * forwards then need a context whose device communicator has that rank and size. */
TTT_API ttt_status ttt_causal_lm_create(const ttt_causal_lm_spec *spec,
                                        const ttt_causal_lm_impl_config *impl,
                                        ttt_weight_resolver resolver, void *user,
                                        ttt_causal_lm **out);
TTT_API void ttt_causal_lm_destroy(ttt_causal_lm *model);
TTT_API const ttt_causal_lm_spec *ttt_causal_lm_get_spec(const ttt_causal_lm *model);
TTT_API const ttt_causal_lm_impl_config *ttt_causal_lm_get_impl_config(const ttt_causal_lm *model);
/* Bytes of weights one decode step reads (what streams from memory per generated token); a routed
 * expert counts top_k / n_experts of its bytes (uniform routing); under tensor parallelism, this
 * rank's. ttt_causal_lm_parameter_count counts the whole model. */
TTT_API int64_t ttt_causal_lm_decode_weight_bytes(const ttt_causal_lm *model);
TTT_API int64_t ttt_causal_lm_parameter_count(const ttt_causal_lm *model);
/* Bytes of weights the model converted at creation (copies it owns); 0 when every weight was used
 * in place, e.g. a pre-quantized checkpoint loaded with the impl config it was written for. */
TTT_API int64_t ttt_causal_lm_converted_bytes(const ttt_causal_lm *model);
/* The tensor the model uses in `mode` for weight `path` (a resolver path, e.g.
 * "layers.0.attention.wq"): the resolver's view or the model's converted copy, valid while the model
 * lives ("lm_head.weight" names the LM head's tensor also when it is tied to embedding.table).
 * TTT_ERR_NOT_FOUND naming the path when the model has no such weight. */
TTT_API ttt_status ttt_causal_lm_weight(const ttt_causal_lm *model, ttt_mode mode, const char *path,
                                        ttt_tensor *out);

/* A KV cache for this model: max_positions 0 → spec.max_positions; each layer sized from its own
 * attention spec (n_kv_heads, head_dim, sliding window: rings for windowed layers; MLA layers: a
 * latent layer of kv_lora_rank + qk_rope_head_dim values per position) with the dtype
 * of its decode impl config (kv_dtype; DEFAULT → f32). Prefill and decode must agree on a layer's
 * kv_dtype unless the prefill one is DEFAULT (TTT_ERR_INVALID_ARGUMENT otherwise). Under tensor
 * parallelism a layer holds only the rank's kv heads. */
TTT_API ttt_status ttt_causal_lm_create_cache(const ttt_causal_lm *model, int64_t max_positions,
                                              ttt_kv_cache **out);

/* Processes T tokens at positions [start_pos, start_pos + T) (start_pos must equal the cache
 * length: chunked prefill is several calls). logits: [T, vocab] f32, or [1, vocab] when
 * last_only (the logits of the last token). observer may be NULL. */
TTT_API ttt_status ttt_causal_lm_prefill_forward(const ttt_causal_lm *model, ttt_context *ctx,
                                                 ttt_kv_cache *cache, const int32_t *tokens,
                                                 int64_t T, int64_t start_pos, bool last_only,
                                                 ttt_tensor *logits, const ttt_observer *observer);
/* One token at `pos` (== cache length); logits: [1, vocab] f32. */
TTT_API ttt_status ttt_causal_lm_decode_forward(const ttt_causal_lm *model, ttt_context *ctx,
                                                ttt_kv_cache *cache, int32_t token, int64_t pos,
                                                ttt_tensor *logits, const ttt_observer *observer);

/* Serving many sequences: a paged KV cache pool for this model (n_blocks blocks of block_positions
 * positions, 0 → 16; each sequence up to spec.max_positions positions; layers shaped as in
 * ttt_causal_lm_create_cache, sliding-window layers release blocks that leave their window). */
TTT_API ttt_status ttt_causal_lm_create_paged_kv(const ttt_causal_lm *model, int64_t n_blocks,
                                                 int64_t block_positions, ttt_paged_kv **out);
/* ttt_causal_lm_prefill_forward into sequence `seq_id` of a pool (chunked prefill is several
 * calls). The blocks the chunk needs are taken first: too few free is TTT_ERR_CAPACITY and
 * nothing changes. Logits equal those of the contiguous cache bit for bit. */
TTT_API ttt_status ttt_causal_lm_prefill_paged(const ttt_causal_lm *model, ttt_context *ctx,
                                               ttt_paged_kv *pool, int32_t seq_id,
                                               const int32_t *tokens, int64_t T, int64_t start_pos,
                                               bool last_only, ttt_tensor *logits,
                                               const ttt_observer *observer);
/* One decode step of B distinct sequences of a pool: sequence seq_ids[b] takes tokens[b] at
 * positions[b] (== its length); logits: [B, vocab] f32, row b for sequence b. Embedding, norms,
 * every projection, the feed-forward and the LM head run once over the B rows (the weights are read
 * once per step); attention runs per sequence over its own blocks. The step's blocks are taken
 * first (TTT_ERR_CAPACITY, nothing changed, when too few are free).
 * Determinism: with f32 activations (the accuracy strategy) every GEMM of the step sums each row
 * in the order of a one-row decode, so row b is bit-identical to ttt_causal_lm_decode_forward of
 * that sequence alone, whatever it is batched with. With q8_0 activations (performance) a
 * one-row GEMV and a multi-row GEMM sum in different orders: rows agree to rounding only.
 * LONGROPE picks short or long factors per sequence, as a forward of that sequence alone.
 * Observer events carry all B rows with start_pos = positions[0]. */
TTT_API ttt_status ttt_causal_lm_decode_batch_forward(const ttt_causal_lm *model, ttt_context *ctx,
                                                      ttt_paged_kv *pool, const int32_t *seq_ids,
                                                      const int32_t *tokens,
                                                      const int64_t *positions, int64_t B,
                                                      ttt_tensor *logits,
                                                      const ttt_observer *observer);

/* Read access to one module of a model (for test suites and tools): what block it is, its spec, the
 * impl config and weights one mode runs it with, and the layer's rope tables. */
typedef enum ttt_block_kind {
  TTT_BLOCK_NONE = 0,
  TTT_BLOCK_EMBEDDING,     /* spec ttt_embedding_spec, weights ttt_embedding_weights */
  TTT_BLOCK_NORM,          /* ttt_norm_spec / ttt_norm_impl_config / ttt_norm_weights */
  TTT_BLOCK_ATTENTION,     /* ttt_attention_* */
  TTT_BLOCK_MLP,           /* ttt_mlp_* (standalone blocks; a model's ffn is TTT_BLOCK_FFN) */
  TTT_BLOCK_MOE,           /* ttt_moe_* (standalone blocks) */
  TTT_BLOCK_FFN,           /* ttt_ffn_* (a decoder layer's feed-forward: MLP or MoE) */
  TTT_BLOCK_LM_HEAD,       /* ttt_lm_head_* */
  TTT_BLOCK_DECODER_LAYER, /* ttt_decoder_layer_* */
  TTT_BLOCK_MLA,           /* ttt_mla_* (a layer's attention of kind MLA) */
  TTT_BLOCK_KIND_COUNT
} ttt_block_kind;

/* "embedding", "norm", "attention", "mlp", "moe", "ffn", "lm_head", "decoder_layer", "mla";
 * "none". */
TTT_API const char *ttt_block_kind_name(ttt_block_kind kind);

typedef struct ttt_module_view {
  ttt_block_kind kind;
  const void *spec;     /* the block's spec struct (see ttt_block_kind) */
  const void *impl;     /* the block's impl config for the requested mode */
  const void *weights;  /* the block's weights as that mode runs them (after dtype conversion) */
  int64_t layer;        /* N for layers.N and its modules (the KV-cache layer); -1 otherwise */
  const ttt_rope *rope; /* attention and decoder layer: the layer's rope tables (NULL without) */
} ttt_module_view;

/* Looks up a module path (see the top of this file) of `model` for `mode`. The pointers stay valid
 * while the model lives. Unknown paths → TTT_ERR_NOT_FOUND naming the path. Under tensor
 * parallelism the spec, impl and weights are the rank's share (fewer heads, columns or rows). */
TTT_API ttt_status ttt_causal_lm_module(const ttt_causal_lm *model, ttt_mode mode, const char *path,
                                        ttt_module_view *out);

/* ------------------------------------------------------------------------------------------------ */
/* Encoder (BERT): embeddings → post-norm layers → optional pooler                                   */
/* ------------------------------------------------------------------------------------------------ */

/* Post-norm layer (BERT): h = attention_norm(x + attn(x, mask)); out = ffn_norm(h + ffn(h)).
 * Pre-norm layer (pre_norm): h = x + attn(attention_norm(x), mask); out = h + ffn(ffn_norm(h)),
 * where an attention_norm of dim 0 is the identity.
 * The attention is bidirectional; it may have rope (positions 0..T-1 of each row, the encoder
 * builds the tables) and a symmetric sliding window (see ttt_attention_spec). The ffn may be gated
 * (GeGLU: act(gate(x)) · up(x)). */
typedef struct ttt_encoder_layer_spec {
  ttt_attention_spec attention;
  ttt_norm_spec attention_norm;
  ttt_mlp_spec ffn;
  ttt_norm_spec ffn_norm;
  bool pre_norm;
} ttt_encoder_layer_spec;

typedef struct ttt_encoder_layer_impl_config {
  ttt_attention_impl_config attention;
  ttt_norm_impl_config attention_norm;
  ttt_mlp_impl_config ffn;
  ttt_norm_impl_config ffn_norm;
} ttt_encoder_layer_impl_config;

typedef struct ttt_encoder_layer_weights {
  ttt_attention_weights attention;
  ttt_norm_weights attention_norm;
  ttt_mlp_weights ffn;
  ttt_norm_weights ffn_norm;
} ttt_encoder_layer_weights;

/* x, out: [B, T, hidden]; key_mask [B·T] (1 = real token, 0 = padding; NULL = all real). */
TTT_API ttt_status ttt_encoder_layer_forward(ttt_context *ctx, const ttt_encoder_layer_spec *spec,
                                             const ttt_encoder_layer_impl_config *impl,
                                             const ttt_encoder_layer_weights *weights,
                                             const ttt_tensor *x, const uint8_t *key_mask,
                                             ttt_tensor *out, const char *path,
                                             const ttt_observer *observer);

typedef struct ttt_encoder_spec {
  ttt_embedding_spec word;       /* token ids */
  ttt_embedding_spec position;   /* absolute positions (see position_offset); vocab 0 and dim 0:
                                    none (the layers' rope places the tokens) */
  ttt_embedding_spec token_type; /* segment ids; vocab 0 and dim 0: no token-type embedding */
  /* Row of the position table read by the first token: token t reads row position_offset + t.
   * With positions_skip_padding, only tokens whose id differs from pad_token_id count: the k-th
   * such token of a row (from 0) reads row position_offset + k, and a pad token reads row
   * position_offset - 1 (so position_offset >= 1). That is how checkpoints trained with their
   * padding row just below the first position number the tokens. */
  int32_t position_offset;
  bool positions_skip_padding;
  int32_t pad_token_id;         /* with positions_skip_padding: in [0, word.vocab) */
  ttt_norm_spec embedding_norm; /* LayerNorm over the summed embeddings */
  int64_t n_layers;
  ttt_encoder_layer_spec layers[TTT_MAX_LAYERS];
  ttt_norm_spec norm; /* after the last layer (pre-norm stacks); dim 0: none */
  bool pooler;        /* pooled = tanh(W · h[:, 0] + b) */
} ttt_encoder_spec;

typedef struct ttt_encoder_impl_config {
  ttt_embedding_impl_config embeddings;
  ttt_norm_impl_config embedding_norm;
  ttt_encoder_layer_impl_config layers[TTT_MAX_LAYERS];
  ttt_norm_impl_config norm;
  ttt_lm_head_impl_config pooler; /* the pooler's dense projection runs like an LM head */
} ttt_encoder_impl_config;

typedef struct ttt_encoder ttt_encoder;

TTT_API ttt_status ttt_encoder_spec_validate(const ttt_encoder_spec *spec);
TTT_API ttt_status ttt_encoder_default_impl_config(const ttt_device *device, ttt_strategy strategy,
                                                   const ttt_encoder_spec *spec,
                                                   ttt_encoder_impl_config *out);
/* The string-path setter of ttt_causal_lm_impl_set for encoders, without mode prefixes. Modules:
 * embeddings, embedding_norm, norm, pooler, layers.N|*.{attention, attention_norm, ffn, ffn_norm};
 * the ffn takes the MLP fields (weight_dtype, activation_dtype, kernel, threads, fuse_gate_up). */
TTT_API ttt_status ttt_encoder_impl_set(ttt_encoder_impl_config *impl, const ttt_encoder_spec *spec,
                                        const char *assignment);
/* Same contract as ttt_causal_lm_create (weight paths in the header comment above). */
TTT_API ttt_status ttt_encoder_create(const ttt_encoder_spec *spec,
                                      const ttt_encoder_impl_config *impl,
                                      ttt_weight_resolver resolver, void *user, ttt_encoder **out);
TTT_API void ttt_encoder_destroy(ttt_encoder *model);
TTT_API const ttt_encoder_spec *ttt_encoder_get_spec(const ttt_encoder *model);
/* input_ids, token_type_ids (NULL → 0; must be NULL without a token-type embedding),
 * attention_mask (NULL → all 1): [B·T] row-major. T + position_offset must not exceed
 * position.vocab.
 * hidden: [B, T, hidden] f32; pooled: [B, hidden] f32 or NULL (requires spec.pooler when given).
 * Observer paths: embeddings, layers.N (+ .attention, .attention_norm, .ffn, .ffn_norm), norm,
 * pooler. */
TTT_API ttt_status ttt_encoder_forward(const ttt_encoder *model, ttt_context *ctx,
                                       const int32_t *input_ids, const int32_t *token_type_ids,
                                       const uint8_t *attention_mask, int64_t B, int64_t T,
                                       ttt_tensor *hidden, ttt_tensor *pooled,
                                       const ttt_observer *observer);

#ifdef __cplusplus
}
#endif

#endif /* TTT_PATTERNS_H */
