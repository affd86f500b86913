/*
 * ttt_hf_weights.h — HuggingFace tensor and module names ↔ the library's module paths.
 *
 * Not part of the core library. Which HF tensor backs each module weight path comes from the
 * architecture's descriptor (models/adapters/arch/<model_type>.c). The Llama layout, which most
 * decoders share:
 *
 *     embedding.table                        model.embed_tokens.weight                    [V, H]
 *     layers.N.attention_norm.{weight,bias}  model.layers.N.input_layernorm.*             [H]
 *     layers.N.attention.{wq,wk,wv,wo}       ...self_attn.{q,k,v,o}_proj.weight  [Q,H] [KV,H] [KV,H] [H,Q]
 *     layers.N.attention.{bq,bk,bv,bo}       ...self_attn.{q,k,v,o}_proj.bias   (when the config has them)
 *     layers.N.attention.{q_norm,k_norm}     ...self_attn.{q,k}_norm.weight               [head_dim] (qwen3)
 *     layers.N.ffn_norm.{weight,bias}        ...post_attention_layernorm.*                [H]
 *     layers.N.ffn.{gate,up,down}            ...mlp.{gate,up,down}_proj.weight     [I,H] [I,H] [H,I]
 *     layers.N.ffn.{gate,up,down}_bias       ...mlp.{gate,up,down}_proj.bias              (llama mlp_bias)
 *     layers.N.ffn.router                    ...block_sparse_moe.gate.weight (mixtral), ...mlp.gate.weight (qwen MoE)
 *     layers.N.ffn.experts.E.{gate,up,down}  ...block_sparse_moe.experts.E.{w1,w3,w2}.weight,
 *                                            ...mlp.experts.E.{gate,up,down}_proj.weight
 *     layers.N.ffn.shared.{gate,up,down}, layers.N.ffn.shared_gate   ...mlp.shared_expert.*, ...mlp.shared_expert_gate
 *     norm.{weight,bias}                     model.norm.*                                 [H]
 *     lm_head.{weight,bias}                  lm_head.*                                    [V, H]
 *   Sandwich and post norms (gemma2/3, olmo2): layers.N.post_attention_norm ↔ post_attention_layernorm,
 *   layers.N.ffn_norm ↔ pre_feedforward_layernorm, layers.N.post_ffn_norm ↔ post_feedforward_layernorm.
 *   Other families use their own names (gpt2 transformer.h.N.*, gpt_neox gpt_neox.layers.N.*, phi
 *   self_attn.dense / mlp.fc1 / model.final_layernorm, starcoder2 mlp.c_fc / mlp.c_proj...).
 *   With tie_word_embeddings, lm_head.weight resolves to the embedding table (as HF ties the
 *   parameters after loading; an lm_head.weight in such a checkpoint is ignored).
 *   (Q = heads·head_dim, KV = kv_heads·head_dim, I = intermediate_size, E = experts.)
 *
 *   Transformed weights: some checkpoints fuse or transpose tensors (phi3 qkv_proj and gate_up_proj
 *   stack q|k|v and gate|up by rows; gpt2's Conv1D weights are stored [in, out] and c_attn fuses
 *   q|k|v; gpt_neox's query_key_value holds rows [head][q|k|v][head_dim]). The entry's shape is the
 *   model's; validation checks the stored tensor's shape; ttt_hf_weights_get returns an owned copy
 *   of the slice in the checkpoint's dtype, made on first use and kept until the map is destroyed
 *   or the weight released. Untransformed weights are views of the mmapped checkpoint.
 *
 *   bert
 *     embeddings.{word,position,token_type}.table  embeddings.{word,position,token_type}_embeddings.weight
 *     embeddings.norm.{weight,bias}                embeddings.LayerNorm.{weight,bias}
 *     layers.N.attention.{wq,wk,wv,bq,bk,bv}       encoder.layer.N.attention.self.{query,key,value}.{weight,bias}
 *     layers.N.attention.{wo,bo}                   encoder.layer.N.attention.output.dense.{weight,bias}
 *     layers.N.attention_norm.{weight,bias}        encoder.layer.N.attention.output.LayerNorm.*
 *     layers.N.ffn.{up,up_bias}                    encoder.layer.N.intermediate.dense.{weight,bias}
 *     layers.N.ffn.{down,down_bias}                encoder.layer.N.output.dense.{weight,bias}
 *     layers.N.ffn_norm.{weight,bias}              encoder.layer.N.output.LayerNorm.*
 *     pooler.{weight,bias}                         pooler.dense.{weight,bias}  (optional)
 *   BERT checkpoints saved from BertFor* classes prefix every name with "bert."; that prefix is
 *   accepted, and their task heads ("cls.*") are ignored.
 *
 * Ignored checkpoint tensors (per descriptor): *.rotary_emb.inv_freq (decoders), the attention mask
 * buffers of gpt2/gpt_neox, embeddings.position_ids (bert). Lookups by path and by HF name are
 * binary searches, so validation is O(n log n) in the number of tensors.
 *
 * Threading: a weight map is read-only after creation and may be shared between threads.
 */
#ifndef TTT_HF_WEIGHTS_H
#define TTT_HF_WEIGHTS_H

#include "ttt_hf_config.h"
#include "ttt_safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TTT_HF_NAME_MAX 128

/* One weight the model expects. */
typedef struct ttt_hf_weight {
  char path[TTT_HF_NAME_MAX];    /* module weight path: "layers.3.attention.wq" */
  char hf_name[TTT_HF_NAME_MAX]; /* tensor name: "model.layers.3.self_attn.q_proj.weight" */
  int32_t ndim;                  /* 1 or 2 */
  int64_t shape[2];
  bool optional; /* may be absent from a checkpoint (bert's pooler) */
} ttt_hf_weight;

typedef struct ttt_hf_weight_map ttt_hf_weight_map;

/* Lists every weight of the model `cfg` describes, layer by layer, with shapes from the config. */
ttt_status ttt_hf_weight_map_create(const ttt_hf_config *cfg, ttt_hf_weight_map **out);
/* NULL is a no-op. */
void ttt_hf_weight_map_destroy(ttt_hf_weight_map *map);
int64_t ttt_hf_weight_map_count(const ttt_hf_weight_map *map);
/* Entry i in [0, count) in model order; NULL outside. */
const ttt_hf_weight *ttt_hf_weight_map_at(const ttt_hf_weight_map *map, int64_t i);
/* By module path ("layers.0.ffn.up"); NULL when the model has no such weight. */
const ttt_hf_weight *ttt_hf_weight_map_find(const ttt_hf_weight_map *map, const char *path);
/* By HF tensor name (the first entry using it); NULL when none does. */
const ttt_hf_weight *ttt_hf_weight_map_find_hf(const ttt_hf_weight_map *map, const char *hf_name);
/* The checkpoint tensors the map reads, each once, in model order: entries whose shape is the
 * stored one (a fused tensor whole, a Conv1D weight [in, out]); for writing checkpoints.
 * TTT_ERR_OUT_OF_RANGE outside [0, count). */
int64_t ttt_hf_weight_map_stored_count(const ttt_hf_weight_map *map);
ttt_status ttt_hf_weight_map_stored(const ttt_hf_weight_map *map, int64_t i, ttt_hf_weight *out);
/* True for checkpoint tensors the model does not use and may ignore (see above). */
bool ttt_hf_weight_is_ignorable(const ttt_hf_weight_map *map, const char *hf_name);

/* Checks a checkpoint against the map: every required weight present with the expected shape and a
 * float dtype (F32, F16, BF16, F64), and no tensor the model would not use. The error names the
 * file and the HF tensor ("model.safetensors: tensor 'model.layers.3.mlp.up_proj.weight' has
 * shape [160, 64], expected [160, 96]") and counts further problems. TTT_ERR_NOT_FOUND (missing),
 * TTT_ERR_SHAPE, TTT_ERR_DTYPE, TTT_ERR_FORMAT (unexpected) — the status of the first problem. */
ttt_status ttt_hf_weights_validate(const ttt_hf_weight_map *map, const ttt_checkpoint *ckpt);
/* The checkpoint's view of the weight at module path `path` (e.g. "layers.0.attention.wq"),
 * shape- and dtype-checked. TTT_ERR_NOT_FOUND when the model has no such path or the checkpoint
 * lacks the tensor (optional weights included: test with ttt_hf_weights_has). */
ttt_status ttt_hf_weights_get(const ttt_hf_weight_map *map, const ttt_checkpoint *ckpt,
                              const char *path, ttt_tensor *out);
/* Releases the mapped pages of the checkpoint tensor behind module path `path` (see
 * ttt_checkpoint_release); for weights the model has converted. */
void ttt_hf_weights_release(const ttt_hf_weight_map *map, const ttt_checkpoint *ckpt,
                            const char *path);
bool ttt_hf_weights_has(const ttt_hf_weight_map *map, const ttt_checkpoint *ckpt, const char *path);

/* ---------------------------------------------------------------------------------------------- */
/* Module names (for traces): HF module ↔ module path */
/* ---------------------------------------------------------------------------------------------- */
/* Decoders: model.embed_tokens ↔ embedding, model.layers.N ↔ layers.N, ...input_layernorm ↔
 * attention_norm, ...self_attn ↔ attention, ...self_attn.{q,k}_norm ↔ attention.{q,k}_norm (qwen3),
 * ...post_attention_layernorm ↔ ffn_norm, ...mlp ↔ ffn (mixtral: also block_sparse_moe → ffn;
 * mlp.gate / block_sparse_moe.gate → ffn.router; experts.E → ffn.experts.E), model.norm ↔ norm,
 * lm_head ↔ lm_head; the descriptor's own module table comes first (gemma2/3 and olmo2:
 * post_attention_layernorm ↔ post_attention_norm, pre_feedforward_layernorm ↔ ffn_norm,
 * post_feedforward_layernorm ↔ post_ffn_norm; gpt2: transformer.wte ↔ embedding, transformer.wpe
 * ↔ position_embedding, transformer.h.N.{ln_1,attn,ln_2,mlp}, transformer.ln_f ↔ norm; ...).
 * BERT: embeddings ↔ embeddings (HF's output includes the LayerNorm), embeddings.LayerNorm ↔
 * embeddings.norm, embeddings.*_embeddings ↔ embeddings.{word,position,token_type}, encoder.layer.N
 * ↔ layers.N, ...attention.output.LayerNorm ↔ attention_norm, ...output.LayerNorm ↔ ffn_norm,
 * pooler ↔ pooler. HF's BertAttention, BertIntermediate and BertOutput fold residuals and norms
 * differently from the library's modules and have no equivalent path.
 * Layer and expert indices must be within the config. TTT_ERR_NOT_FOUND naming the name when it
 * has no equivalent; TTT_ERR_INVALID_ARGUMENT when `buf` is too small. */
ttt_status ttt_hf_module_to_path(const ttt_hf_config *cfg, const char *hf_module, char *buf,
                                 size_t size);
ttt_status ttt_hf_path_to_module(const ttt_hf_config *cfg, const char *path, char *buf,
                                 size_t size);

/* Where an HF module's output differs from the library module's by a known map: HF's lm_head
 * returns raw logits while the library's head applies the family's logit scale and final soft-cap
 * (gemma2, cohere, granite); granite's HF embedding returns rows before its embedding_multiplier;
 * gemma3's q/k norm traces are [heads, T, head_dim] where the library reports [T, heads,
 * head_dim]. ttt_hf_trace_needs_map says whether module path `path` has such a map;
 * ttt_hf_trace_to_module applies it in place to the `n` values of the HF trace, so the two
 * compare (TTT_ERR_SHAPE when n does not fit the layout, TTT_ERR_OUT_OF_MEMORY). */
bool ttt_hf_trace_needs_map(const ttt_hf_config *cfg, const char *path);
ttt_status ttt_hf_trace_to_module(const ttt_hf_config *cfg, const char *path, float *values,
                                  int64_t n);

#ifdef __cplusplus
}
#endif

#endif /* TTT_HF_WEIGHTS_H */
