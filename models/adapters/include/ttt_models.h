/*
 * ttt_models.h — the model factory: a HuggingFace model folder → a CausalLM or an encoder (+ its
 * tokenizer), built from the core's specs and patterns.
 *
 * Not part of the core library. The folder holds config.json, model.safetensors (or
 * model.safetensors.index.json + shards) and optionally tokenizer.json / tokenizer_config.json.
 * Weights stay in the mmapped checkpoint unless the impl config asks for another dtype.
 */
#ifndef TTT_MODELS_H
#define TTT_MODELS_H

#include <ttt.h>

#include "ttt_hf_config.h"
#include "ttt_hf_weights.h"
#include "ttt_safetensors.h"
#include "ttt_tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Progress of a long operation: `done` of `total` steps (weights) of `what` ("loading",
 * "quantizing", "writing"). Called from the loading thread. */
typedef void (*ttt_progress_fn)(void *user, const char *what, int64_t done, int64_t total);

/* Options of ttt_hf_model_load. Zero-initialized = accuracy strategy, full context, tokenizer
 * loaded when present. */
typedef struct ttt_hf_load_options {
  ttt_strategy strategy;
  const char *const *overrides; /* impl-config assignments ("layers.*.ffn.weight_dtype=q8_0") */
  int32_t n_overrides;
  bool skip_tokenizer;
  ttt_progress_fn progress; /* NULL: silent; else called as weights are resolved (and converted) */
  void *progress_user;
} ttt_hf_load_options;

typedef struct ttt_hf_model {
  char dir[1024];
  ttt_hf_config config;
  ttt_dtype source_dtype; /* dtype of the checkpoint's embedding table (for messages; each module
                             keeps its own weights' dtype under the accuracy strategy) */
  ttt_checkpoint *checkpoint;
  ttt_hf_weight_map *weights;
  ttt_causal_lm *lm;        /* decoders */
  ttt_encoder *encoder;     /* bert */
  ttt_tokenizer *tokenizer; /* NULL when the folder has no tokenizer.json or skip_tokenizer */
} ttt_hf_model;

/* The CausalLM spec of a decoder config / the encoder spec of a bert config. */
ttt_status ttt_hf_causal_lm_spec(const ttt_hf_config *cfg, ttt_causal_lm_spec *out);
ttt_status ttt_hf_encoder_spec(const ttt_hf_config *cfg, ttt_encoder_spec *out);

/* Loads a folder: config, checkpoint (validated against the weight map: missing, misshaped or
 * unexpected tensors are errors naming them), default impl configs for the device and strategy,
 * the overrides, the model, and the tokenizer. Errors name the file and what was wrong. */
ttt_status ttt_hf_model_load(const char *dir, const ttt_device *device,
                             const ttt_hf_load_options *options, ttt_hf_model **out);
void ttt_hf_model_destroy(ttt_hf_model *model);
/* "llama: 6 layers, hidden 288, ... | 6.5M parameters, 13.0 MB streamed per token, accuracy". */
void ttt_hf_model_describe(const ttt_hf_model *model, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
