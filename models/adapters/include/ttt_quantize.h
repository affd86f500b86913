/*
 * ttt_quantize.h — pre-quantized checkpoints: a HuggingFace folder rewritten with the projection
 * weights in the library's block formats, so that the performance strategy memory-maps them instead
 * of converting at every start.
 *
 * Folder written by ttt_hf_quantize (and `ttt quantize`):
 *   model.safetensors  every tensor of the model: projection weights the recipe quantizes in the
 *                      layout the writing machine's kernels read, dtype "TTT_Q8_0_G16" or
 *                      "TTT_Q4_0_G16" (grouped; with AVX-512 VNNI) or "TTT_Q8_0" / "TTT_Q4_0"
 *                      (row-major) (shape = the logical [out, in] shape, data = the layouts of
 *                      ttt/core.h), the others (embeddings, norms, biases, routers)
 *                      byte for byte as in the source. __metadata__: "format": "pt",
 *                      "ttt.quantization": "q8_0" | "q4_0", "ttt.strategy": "performance",
 *                      "ttt.overrides": the recipe's impl assignments joined by ';'.
 *   config.json        the source's, with "tie_word_embeddings": false when the source was tied
 *                      (the quantized LM head is stored as lm_head.weight; the embedding table
 *                      keeps its dtype for lookups) — the same values, untied.
 *   tokenizer.json, tokenizer_config.json, generation_config.json, special_tokens_map.json,
 *   chat_template.jinja  copied when present.
 * The model factory applies "ttt.overrides" when the folder is loaded with the strategy named in
 * "ttt.strategy", so every quantized weight is used in place (ttt_causal_lm_converted_bytes = 0) on
 * a machine whose kernels read the folder's layout; another machine converts the layout once, byte
 * for byte.
 */
#ifndef TTT_QUANTIZE_H
#define TTT_QUANTIZE_H

#include "ttt_models.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The impl assignments of a weight dtype's recipe on top of the performance strategy: none for
 * q8_0 (its default); for q4_0 "layers.*.attention.weight_dtype=q4_0",
 * "layers.*.ffn.weight_dtype=q4_0", "lm_head.weight_dtype=q4_0" (q8_0 activations throughout).
 * TTT_ERR_DTYPE for other dtypes. */
ttt_status ttt_quant_recipe(ttt_dtype dtype, const char *const **overrides, int32_t *n);

/* Writes the quantized folder `out_dir` (created if missing) from the causal LM folder `src_dir`
 * as described above. `progress` (may be NULL) is called per weight while converting and
 * writing. */
ttt_status ttt_hf_quantize(const char *src_dir, const char *out_dir, ttt_dtype dtype,
                           ttt_progress_fn progress, void *progress_user);

/* Applies the "ttt.overrides" metadata of a quantized checkpoint to `impl` when `strategy` is the
 * one named by "ttt.strategy" (no-op for other checkpoints). Malformed metadata is an error naming
 * the key. */
ttt_status ttt_quantized_apply_metadata(const ttt_checkpoint *ckpt, ttt_strategy strategy,
                                        const ttt_causal_lm_spec *spec,
                                        ttt_causal_lm_impl_config *impl);

#ifdef __cplusplus
}
#endif

#endif
